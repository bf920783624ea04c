"""The model card (#18.7, #18.11): the decompose form offers exactly the registered methods and, as a select, the
chosen method's presets; a bad request's errors sit under their field and are summed up at the top of the page;
training settings read as a table; a model with PyTorch weights offers "Patch this model"."""
import re

import pytest
from django.urls import reverse

from frontend.forms.models import method_catalogue
from modules_registry.models import Job
from splitter_engine.methods import get_decomposer, list_decomposers

pytestmark = pytest.mark.django_db


def _options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def test_the_form_offers_the_registered_methods_and_the_chosen_methods_presets(alice_client, hub):
    html = alice_client.get(reverse("frontend:model_detail", args=[hub["model"].pk])).content.decode()
    assert _options(html, "id_dec-method") == list_decomposers()
    assert _options(html, "id_dec-preset") == ["", *get_decomposer("gradsplitter").config_class.preset_names()]
    assert "Default (fast)" in html and "js/decompose.js" in html
    catalogue = method_catalogue()
    assert catalogue["concern"]["default"] == "sliced" and "sliced" in html  # data-presets: every method's presets


def test_a_preset_of_another_method_is_refused_under_the_preset_field_and_summed_up_at_the_top(alice_client, hub):
    url = reverse("frontend:model_decompose", args=[hub["model"].pk])
    response = alice_client.post(url, {"dec-method": "gradsplitter", "dec-preset": "sliced", "dec-overrides": "",
                                       "dec-seed": "0", "dec-device": "cpu"})
    html = response.content.decode()
    assert response.status_code == 400 and not Job.objects.filter(kind="decompose").exists()
    grad = get_decomposer("gradsplitter").config_class.preset_names()
    field = html[html.index('id="id_dec-preset_error"'):]
    assert f"sliced is not a preset of this method; choose one of {', '.join(grad)}" in field[:300]
    top = html.index('id="action-error"')
    assert top < html.index('id="card-h"'), "the summary sits above the model card, not below the fold"
    assert "The decomposition did not start" in html[top:top + 600] and 'href="#dec-h"' in html[top:top + 600]
    assert re.search(r'<select name="dec-preset"[^>]*autofocus', html)
    # The select lists the posted method's presets.
    assert _options(html, "id_dec-preset") == ["", *grad]
    concern = alice_client.post(url, {"dec-method": "concern", "dec-preset": "fast", "dec-seed": "0",
                                      "dec-device": "cpu"}).content.decode()
    assert _options(concern, "id_dec-preset") == ["", *get_decomposer("concern").config_class.preset_names()]


def test_training_settings_are_a_table_and_a_pytorch_model_can_be_patched(alice_client, user, hub):
    import factories as f

    model = f.make_model(user, hub["dataset"], name="trained-here",
                         train_config={"epochs": 5, "lr": 0.05, "classes": ["0", "1"], "optimizer": "sgd"})
    html = alice_client.get(reverse("frontend:model_detail", args=[model.pk])).content.decode()
    assert "{'epochs'" not in html and "{&#x27;epochs" not in html
    table = html[html.index('id="train-config"'):]
    assert '<th scope="row">lr</th><td><code>0.05</code>' in table and "<code>0, 1</code>" in table
    assert f'href="/builds/patch/?model={model.pk}"' in html and "Patch this model" in html


def test_the_decompose_form_is_built_only_where_it_is_shown(client, hub):
    """It lists the engine's registered methods (torch); an anonymous visitor's model page does not need them."""
    response = client.get(reverse("frontend:model_detail", args=[hub["model"].pk]))
    assert response.status_code == 200 and response.context["decompose_form"] is None
