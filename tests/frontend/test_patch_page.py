"""A patch build's page (#18.5): the module's own effect, against the weak model with the same calibration and no
module, beside the weak model as it is; per class F1 for all three."""
import pytest
from django.urls import reverse

import factories as f

pytestmark = pytest.mark.django_db


def _scores(f1: float, accuracy: float) -> dict:
    return {"precision": f1, "recall": f1, "f1": f1, "accuracy": accuracy, "macro_f1": accuracy, "support": 27}


def _per_class(f1s: list[float]) -> list[dict]:
    return [{"class": str(i), "precision": v, "recall": v, "f1": v, "support": 27} for i, v in enumerate(f1s)]


def test_a_patch_page_separates_the_modules_effect_from_the_calibrations(alice_client, user, hub):
    metrics = {"mode": "replace", "calibration": "linear", "class": "0", "accuracy": 0.9,
               "before": _scores(0.10, 0.40), "control": _scores(0.30, 0.80), "after": _scores(0.85, 0.9),
               "f1_gain": 0.75, "module_f1_gain": 0.55,
               "before_per_class": _per_class([0.10] + [0.0] * 9), "control_per_class": _per_class([0.30] + [0.7] * 9),
               "per_class": _per_class([0.85] + [0.72] * 9)}
    build = f.make_build(user, hub["modules"][:1], kind="patch", calibration="linear", metrics=metrics)
    html = alice_client.get(reverse("frontend:build_detail", args=[build.pk])).content.decode()
    assert "The module's own effect" in html and "F1 30.0 % → 85.0 % (+55.0 %)" in html
    assert "same linear calibration and no module" in html and "(as it is, the weak model scores F1 10.0 %)" in html
    assert "Weak model, same calibration, no module" in html
    table = html[html.index('id="patch-classes"'):html.index("</details>")]
    assert table.count("<tr") == 11 and "70.0 %" in table  # classes 1-9: 0 % -> 70 % by the calibration alone


def test_an_older_patch_without_the_control_says_part_of_the_gain_may_be_the_calibrations(alice_client, user, hub):
    metrics = {"class": "0", "calibration": "linear", "before": _scores(0.1, 0.4), "after": _scores(0.85, 0.9)}
    build = f.make_build(user, hub["modules"][:1], kind="patch", calibration="linear", metrics=metrics)
    html = alice_client.get(reverse("frontend:build_detail", args=[build.pk])).content.decode()
    assert "part of the gain may be the calibration's" in html and "same calibration, no module" not in html
