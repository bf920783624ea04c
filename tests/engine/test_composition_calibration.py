"""Calibration: layers fitted on labelled samples; modules from two models trained on disjoint halves."""
import pytest
import torch
import torch.nn.functional as F

from splitter_engine.composition import ComposeOptions, compose, fit_calibration
from splitter_engine.composition.calibration import LinearCalibration, TemperatureCalibration
from splitter_engine.runtime import EngineError
from composition_support import chosen, decomposed, digits



def test_layers_start_as_the_identity_and_fitting_lowers_the_loss():
    torch.manual_seed(0)
    labels = torch.arange(3).repeat(40)
    # column 2 is over-confident: it wins on most images even when another class is right
    scores = torch.rand(120, 3) * 0.3
    scores[torch.arange(120), labels] += 0.4
    scores[:, 2] += 0.5
    for kind in ("linear", "temperature"):
        fresh = LinearCalibration(3) if kind == "linear" else TemperatureCalibration([False] * 3)
        start = fresh(scores)
        assert torch.allclose(start, scores, atol=1e-6)
        layer = fit_calibration(kind, scores, labels, [False] * 3)
        with torch.no_grad():
            assert F.cross_entropy(layer(scores), labels) < F.cross_entropy(scores, labels)
            assert (layer(scores).argmax(1) == labels).float().mean() > (scores.argmax(1) == labels).float().mean()
    assert fit_calibration("none", scores, labels, [False] * 3) is None


def test_temperature_works_in_logit_space_for_probability_columns():
    layer = TemperatureCalibration([True, False])
    p = torch.tensor([[0.5, 0.0], [0.9, 2.0]])
    out = layer(p)
    assert torch.allclose(out[:, 0], torch.log(p[:, 0] / (1 - p[:, 0])), atol=1e-5)
    assert torch.equal(out[:, 1], p[:, 1])


def test_every_class_needs_calibration_samples():
    with pytest.raises(EngineError, match=r"no image of output\(s\) \[2\]"):
        fit_calibration("linear", torch.rand(10, 3), torch.tensor([0, 1] * 5), [True] * 3)
    with pytest.raises(EngineError, match="calibration must be one of"):
        fit_calibration("platt", torch.rand(4, 2), torch.tensor([0, 1, 0, 1]), [True] * 2)


@pytest.fixture(scope="module")
def two_models():
    """Classes 1 and 3 from one model, 5 and 8 from another trained on a skewed set."""
    first, second = decomposed(), decomposed(few_of="3", keep=2)
    picks = [(first, "1"), (first, "3"), (second, "5"), (second, "8")]
    return [chosen(model, modules, [c])[0] for (model, _, _, modules), c in picks]


@pytest.mark.parametrize("kind", ["linear", "temperature"])
def test_modules_from_two_models_are_calibrated_on_held_out_samples(two_models, kind):
    built = compose(two_models, ComposeOptions("ensemble", calibration=kind), digits())
    m = built.metrics
    val_counts = digits().class_counts("val")
    assert m["sources"] == 2 and m["calibration_samples"] == sum(val_counts[int(c)] for c in "1358")
    assert m["accuracy"] >= 0.5 and m["accuracy_uncalibrated"] >= 0.25
    # the layer is part of the network (exported with it) and changes its output
    x, _ = digits().tensors("test")
    with torch.no_grad():
        assert not torch.allclose(built.model(x[:8]), built.model.scores(x[:8]))
