"""The builder's estimate (#18.3, #18.11, and the estimate's cost/gain figures): it honours the chosen calibration,
shows ONNX size beside params and FLOPs, and the base models' stored test scores on the chosen classes."""
import pytest
from django.urls import reverse

import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_models(user, hub):
    second = f.make_model(user, hub["dataset"], name="digits-second")
    f.make_evaluation(user, second, accuracy=0.5, metrics={"per_class": [
        {"name": c, "precision": 0.5, "recall": 0.25 if c == "7" else 0.5, "f1": 0.4, "support": 20}
        for c in second.class_names]})
    return f.make_sized_decomposition(user, hub["model"]), f.make_sized_decomposition(user, second)


def _estimate(client, modules, calibration):
    return client.post(reverse("frontend:build_estimate"),
                       {"modules": [m.pk for m in modules], "calibration": calibration}).content.decode()


def test_the_calibration_hint_follows_the_chosen_calibration(alice_client, two_models):
    first, second = two_models
    mixed = [first[0], second[7]]
    assert "choose a calibration" in _estimate(alice_client, mixed, "none")
    linear = _estimate(alice_client, mixed, "linear")
    assert "choose a calibration" not in linear and "the linear calibration makes their scores comparable" in linear
    assert "calibration-hint" not in _estimate(alice_client, first[:2], "none")  # one model: nothing to calibrate


def test_the_estimate_shows_onnx_size_and_the_base_models_scores(alice_client, two_models):
    first, second = two_models
    html = _estimate(alice_client, [first[0], first[1], second[7]], "linear")
    assert "ONNX size" in html and "Latency: measured after build" in html
    ensemble = first[0].params + first[1].params + second[7].params
    from django.template.defaultfilters import filesizeformat
    assert str(filesizeformat(ensemble * 4)) in html  # float32 weights
    # digits-simcnn's factory evaluation: recall 94.7 % on 19 images per class; digits-second: 25 % on class 7.
    assert "<td>digits-simcnn</td><td>0, 1</td><td class=\"num\">94.7 % <small class=\"muted\">38 images" in html
    assert "<td>digits-second</td><td>7</td><td class=\"num\">25.0 % <small class=\"muted\">20 images" in html


def test_a_base_model_without_a_test_evaluation_says_so(alice_client, user, hub, two_models):
    first, _ = two_models
    unevaluated = f.make_sized_decomposition(user, f.make_model(user, hub["dataset"], name="digits-unevaluated"))
    html = _estimate(alice_client, [first[0], unevaluated[1]], "linear")
    assert "not evaluated on test" in html


def test_the_builder_marks_each_class_with_its_model_and_puts_the_estimate_before_the_options(alice_client, hub):
    html = alice_client.get(reverse("frontend:build_new")).content.decode()
    assert f'data-model="{hub["model"].pk}"' in html  # builder.js defaults the strategy from these
    assert html.index('id="estimate"') < html.index('name="strategy"')
    assert 'hx-indicator="#estimate"' in html and 'class="builder-grid"' in html
