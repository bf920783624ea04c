"""ONNX export: one self-contained file, named dynamic I/O, metadata, checker, onnxruntime parity."""
import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import load_builtin
from splitter_engine.onnx_export import (PARITY_LIMIT, ParityError, export_onnx, metadata_props, read_metadata,
                                         session)
from splitter_engine.runtime import EngineError


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits-16")


@pytest.fixture(scope="module")
def exported(digits):
    torch.manual_seed(0)
    model = build_model(ArchSpec("rescnn", 10, 1, {"width": 0.0625}))
    x, _ = digits.tensors("test")
    lineage = [{"role": "module", "sha256": "a" * 64}]
    meta = metadata_props(digits.class_names, digits.spec, lineage, {"strategy": "ensemble"})
    return model, x, export_onnx(model, digits.spec, x[:80], meta)


def test_one_file_with_named_dynamic_io_and_metadata(exported, digits):
    model, x, result = exported
    proto = onnx.load_from_string(result.data)
    onnx.checker.check_model(proto, full_check=True)
    assert all(t.data_location == onnx.TensorProto.DEFAULT and not t.external_data for t in proto.graph.initializer)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].HasField("dim_value")
    assert [d.dim_value for d in dims[1:]] == [1, 16, 16]
    meta = read_metadata(result.data)
    assert json.loads(meta["class_names"]) == digits.class_names
    norm = json.loads(meta["input_normalisation"])
    assert norm["mean"] == list(digits.spec.mean) and norm["std"] == list(digits.spec.std)
    assert json.loads(meta["lineage"]) == [{"role": "module", "sha256": "a" * 64}]
    assert meta["strategy"] == "ensemble"
    import hashlib
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()


def test_onnxruntime_matches_pytorch_on_real_samples_at_any_batch(exported):
    model, x, result = exported
    assert 0 <= result.parity_max_abs_diff <= PARITY_LIMIT
    assert result.parity_samples == 80
    sess = session(result.data)
    for batch in (1, 7, 130):
        got = sess.run(["logits"], {"input": x[:batch].numpy()})[0]
        with torch.no_grad():
            want = model(x[:batch]).numpy()
        assert got.shape == (batch, 10)
        assert np.abs(got - want).max() <= PARITY_LIMIT


def test_cpu_machine_uses_cpu_provider_without_error_logs(exported, capfd):
    _, x, result = exported
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine picks CUDA")
    capfd.readouterr()
    sess = session(result.data)
    sess.run(["logits"], {"input": x[:2].numpy()})
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert result.provider == "CPUExecutionProvider"
    assert capfd.readouterr().err == ""


class DivergesWhenExported(nn.Module):
    """Computes something else in the exported graph than in eager PyTorch (as a miscompiled op would)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        out = self.fc(torch.relu(self.conv(x)).mean((2, 3)))
        if torch.compiler.is_exporting():
            out = out + 1e-3
        return out


def test_parity_failure_returns_no_file(digits):
    x, _ = digits.tensors("test")
    with pytest.raises(ParityError) as info:
        export_onnx(DivergesWhenExported().eval(), digits.spec, x[:8], metadata_props(["a", "b", "c"], digits.spec, []))
    assert 5e-4 < info.value.max_abs_diff < 2e-3
    assert "not kept" in str(info.value)


def test_samples_must_match_the_input_spec(digits):
    with pytest.raises(EngineError, match="parity samples have shape"):
        export_onnx(DivergesWhenExported(), digits.spec, torch.zeros(2, 3, 16, 16), {})
    with pytest.raises(EngineError, match="at least one real sample"):
        export_onnx(DivergesWhenExported(), digits.spec, torch.zeros(0, 1, 16, 16), {})
