"""CNNSplitter's patch calibration ``minmax``: the weak model's other classes as a softmax, the module's raw
logit min-max normalised over the validation images of its class; on a real weak model and logit module."""
import dataclasses

import pytest
import torch

from composition_support import activation_decomposition, base_source, chosen, digits, trained
from splitter_engine.composition import PATCH_CALIBRATIONS, PatchOptions, export_build, patch
from splitter_engine.composition.calibration import MinMaxCalibration
from splitter_engine.composition.samples import labelled
from splitter_engine.extraction import extract_modules
from splitter_engine.onnx_export import PARITY_LIMIT
from splitter_engine.runtime import EngineError

C = "3"


def test_minmax_layer_is_softmax_of_the_rest_and_the_scaled_column():
    layer = MinMaxCalibration(4, column=2, low=-1.0, high=3.0)
    scores = torch.tensor([[1.0, 2.0, 1.0, 0.5], [0.0, 0.0, 5.0, 0.0]])
    out = layer(scores)
    rest = torch.softmax(scores[:, [0, 1, 3]], 1)
    assert torch.allclose(out[:, [0, 1, 3]], rest)
    assert torch.allclose(out[:, 2], (scores[:, 2] + 1) / 4)
    assert "minmax" in PATCH_CALIBRATIONS
    with pytest.raises(EngineError, match="calibration must be one of"):
        PatchOptions("replace", calibration="minmaxx")


@pytest.mark.slow
def test_patching_with_a_logit_module_and_minmax():
    model, spec, names = trained()
    result = dataclasses.replace(activation_decomposition(model, digits()), scoring="logit", scoring_tensors={})
    module = chosen(model, extract_modules(model, spec, result, digits()), [C])[0]
    weak_model, _, weak_names = trained(few_of=C, keep=2)
    patched = patch(base_source(weak_model, weak_names), module, PatchOptions("replace", calibration="minmax"), digits())
    m = patched.metrics
    position = patched.class_names.index(C)
    x, _ = labelled(digits(), "val", [C], patched.spec)
    with torch.no_grad():
        column = patched.model(x)[:, position]
    assert m["calibration_samples"] == len(x)
    assert column.min().item() == pytest.approx(0.0, abs=1e-5) and column.max().item() == pytest.approx(1.0, abs=1e-5)
    assert m["after"]["f1"] > m["before"]["f1"] + 0.1
    output = export_build(patched, digits(), lineage=[], extra={})
    assert output.onnx.parity_max_abs_diff <= PARITY_LIMIT
