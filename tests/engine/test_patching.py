"""Patching a weak model with a strong model's module: class-c metrics before and after."""
import pytest
import torch

from splitter_engine.composition import PatchOptions, patch
from splitter_engine.runtime import EngineError
from composition_support import base_source, chosen, decomposed, digits, trained

C = "3"


@pytest.fixture(scope="module")
def strong():
    model, _, names, modules = decomposed()
    return chosen(model, modules, [C])[0]


@pytest.fixture(scope="module")
def weak():
    model, _, names = trained(few_of=C, keep=2)
    return base_source(model, names)


def test_replacing_a_weak_class_raises_its_f1(weak, strong):
    patched = patch(weak, strong, PatchOptions("replace", calibration="linear"), digits())
    m = patched.metrics
    assert patched.class_names == digits().class_names
    assert m["before"]["support"] == m["after"]["support"] == 27
    assert m["after"]["f1"] > m["before"]["f1"] + 0.1
    assert m["f1_gain"] == pytest.approx(m["after"]["f1"] - m["before"]["f1"], abs=1e-5)
    assert m["after"]["accuracy"] >= m["before"]["accuracy"]


def test_adding_a_class_the_weak_model_lacks(strong):
    nine = tuple(c for c in digits().class_names if c != C)
    model, _, names = trained(nine)
    patched = patch(base_source(model, names), strong, PatchOptions("add", calibration="linear"), digits())
    m = patched.metrics
    assert patched.class_names == [*nine, C]
    assert m["before"]["recall"] == 0.0 and m["after"]["recall"] > 0.5
    x, _ = digits().tensors("test")
    with torch.no_grad():
        assert patched.model(x[:4]).shape == (4, 10)


def test_mode_must_fit_the_weak_model(weak, strong):
    nine = tuple(c for c in digits().class_names if c != C)
    with pytest.raises(EngineError, match="already has class '3'; use mode 'replace'"):
        patch(weak, strong, PatchOptions("add"), digits())
    with pytest.raises(EngineError, match="mode must be"):
        PatchOptions("swap")


def test_the_control_is_the_weak_model_with_the_same_calibration_and_no_module(weak, strong):
    """#18.5: a linear calibration alone changes the weak model's other classes; the patch reports that control
    beside before and after, so after minus control is the module's own effect."""
    none = patch(weak, strong, PatchOptions("replace", calibration="none"), digits()).metrics
    assert none["control"] == none["before"] and none["control_per_class"] == none["before_per_class"]
    m = patch(weak, strong, PatchOptions("replace", calibration="linear"), digits()).metrics
    assert m["before"]["support"] == m["control"]["support"] == m["after"]["support"] == 27
    assert m["control_per_class"] != m["before_per_class"], "a fitted calibration changes the weak model's scores"
    assert m["module_f1_gain"] == pytest.approx(m["after"]["f1"] - m["control"]["f1"], abs=1e-5)
