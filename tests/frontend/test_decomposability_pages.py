"""Pages say which models can be decomposed and why not, what composed accuracy measures, what adapting inputs
does, and when a cached build was made from other modules or under another name."""
import pytest
from django.urls import reverse

import factories as f
from modules_registry.models import Job

pytestmark = pytest.mark.django_db

REASON = ("layer 'stage2.0' (InvertedResidual) splits the 48 channels of its input into 2 x 24 (a channel shuffle "
          "or channel groups); channel groups cannot be followed through such a reshape")


def test_a_model_whose_channels_do_not_group_can_be_evaluated_but_not_decomposed(alice_client, user, hub):
    model = f.make_model(user, hub["dataset"], "shuffle", architecture="shufflenet_v2_x0_5", arch_kwargs={},
                         channel_analysis_error=REASON)
    html = alice_client.get(reverse("frontend:model_detail", args=[model.pk])).content.decode()
    assert "Decomposable</dt><dd>no — layer &#x27;stage2.0&#x27; (InvertedResidual)" in html
    assert "Start evaluation" in html and "Start decomposition" not in html
    response = alice_client.post(reverse("frontend:model_decompose", args=[model.pk]),
                                 {"dec-method": "gradsplitter", "dec-preset": "fast", "dec-seed": 0, "dec-device": "cpu"})
    assert response.status_code == 400 and "Not decomposable" in response.content.decode()
    assert not Job.objects.filter(kind="decompose").exists()


def test_decomposable_and_onnx_models_say_so(alice_client, user, hub):
    html = alice_client.get(reverse("frontend:model_detail", args=[hub["model"].pk])).content.decode()
    assert "Decomposable</dt><dd>yes" in html and "Start decomposition" in html
    onnx = f.make_model(user, hub["dataset"], "as-onnx", format="onnx", architecture="", arch_kwargs={})
    html = alice_client.get(reverse("frontend:model_detail", args=[onnx.pk])).content.decode()
    assert "An ONNX file, stored for download only" in html and "Start evaluation" not in html
    listing = alice_client.get(reverse("frontend:model_list")).content.decode()
    assert "<th>Decomposable</th>" in listing


def test_the_upload_form_offers_every_torchvision_classifier(alice_client):
    html = alice_client.get(reverse("frontend:model_new")).content.decode()
    assert 'value="shufflenet_v2_x0_5"' in html and 'value="resnext50_32x4d"' in html


def test_the_decomposition_page_says_composed_accuracy_is_the_ensemble_of_all_modules(client, hub):
    html = client.get(reverse("frontend:decomposition_detail", args=[hub["decomposition"].pk])).content.decode()
    assert "Composed accuracy (ensemble of all 10 modules)" in html
    assert "A <em>fused</em> build shares one trunk" in html


def test_the_builder_says_what_adapting_inputs_does(alice_client, hub):
    html = alice_client.get(reverse("frontend:build_new")).content.decode()
    assert "an exact affine map per channel" in html and "never resized or converted" in html


def test_a_cached_build_of_twin_modules_says_so_on_the_builder(alice_client, user):
    a = f.chain(user, tag="a")
    twin = f.make_model(user, a.dataset, "model-twin", job=None, weights=a.model.weights)
    decomposition = f.make_decomposition(user, twin, with_modules=False)
    b_modules = [f.make_module(decomposition, i, spec=m.spec, weights=m.weights) for i, m in enumerate(a.modules)]
    request = {"strategy": "ensemble", "calibration": "none", "device": "cpu"}
    alice_client.post(reverse("frontend:build_new"), {**request, "modules": [m.pk for m in a.modules[:2]]})
    key = Job.objects.get(kind="build").params["cache_key"]
    built = f.make_build(user, a.modules[:2], name="first", cache_key=key)
    response = alice_client.post(reverse("frontend:build_new"),
                                 {**request, "modules": [m.pk for m in b_modules[:2]], "name": "mine"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("frontend:build_detail", args=[built.pk])
    assert f"Build #{built.pk} is this same classifier" in html and "the name &#x27;mine&#x27; was not applied" in html
