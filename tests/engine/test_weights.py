"""Weights in: safetensors, PyTorch state_dicts (never executing pickled code), strict loading, ONNX uploads."""
from __future__ import annotations

import os
import pickle
import struct

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.onnx_upload import OnnxUploadError, inspect_onnx
from splitter_engine.runtime import EngineError
from splitter_engine.weights import (WeightsError, build_with_weights, load_strict, read_safetensors,
                                     read_torch_state_dict, state_dict_to_safetensors,
                                     torch_checkpoint_to_safetensors)

SPEC = ArchSpec("rescnn", num_classes=10, in_channels=1, kwargs={"width": 0.125})


@pytest.fixture(scope="module")
def trained_like():
    torch.manual_seed(0)
    return build_model(SPEC)


# --- safetensors --------------------------------------------------------------------------------------------

def test_safetensors_round_trip_from_bytes_and_path(tmp_path, trained_like):
    blob = state_dict_to_safetensors(trained_like.state_dict(), {"classes": "0,1,2"})
    (tmp_path / "w.safetensors").write_bytes(blob)
    for source in (blob, tmp_path / "w.safetensors"):
        loaded = read_safetensors(source)
        assert loaded.metadata == {"classes": "0,1,2"}
        assert loaded.tensors.keys() == trained_like.state_dict().keys()
        assert all(torch.equal(loaded.tensors[k], v) for k, v in trained_like.state_dict().items())


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_safetensors_is_refused(tmp_path, trained_like, cut):
    blob = state_dict_to_safetensors(trained_like.state_dict())
    (tmp_path / "cut.safetensors").write_bytes(blob[: int(len(blob) * cut)])
    for source in (blob[: int(len(blob) * cut)], tmp_path / "cut.safetensors"):
        with pytest.raises(WeightsError, match="truncated or not a valid safetensors file.*complete file"):
            read_safetensors(source)


@pytest.mark.parametrize("blob", [
    b"",
    b"\x00" * 4,
    struct.pack("<Q", 10**12) + b"{}",                      # header length beyond the file
    struct.pack("<Q", 9) + b"not json!",                    # header that is not JSON
    struct.pack("<Q", 44) + b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'[:44],
], ids=["empty", "short", "huge-header", "garbage-header", "broken-json"])
def test_corrupt_safetensors_is_refused(blob):
    with pytest.raises(WeightsError, match="safetensors"):
        read_safetensors(blob)


def test_safetensors_with_nan_weights_is_refused():
    blob = state_dict_to_safetensors({"fc.weight": torch.tensor([1.0, float("nan")])})
    with pytest.raises(WeightsError, match="NaN or infinite values in fc.weight"):
        read_safetensors(blob)


def test_shared_tensors_serialise(trained_like):
    w = torch.ones(3, 3)
    blob = state_dict_to_safetensors({"a": w, "b": w, "c": w[0]})
    assert set(read_safetensors(blob).tensors) == {"a", "b", "c"}


# --- PyTorch state_dicts ------------------------------------------------------------------------------------

def test_pt_state_dict_checkpoint_and_data_parallel_forms(tmp_path, trained_like):
    state = trained_like.state_dict()
    torch.save(state, tmp_path / "plain.pt")
    torch.save({"epoch": 7, "state_dict": state, "note": "x"}, tmp_path / "ckpt.pth")
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dp.pt")
    for name in ("plain.pt", "ckpt.pth", "dp.pt"):
        loaded = read_torch_state_dict(tmp_path / name)
        assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    converted = read_safetensors(torch_checkpoint_to_safetensors(tmp_path / "ckpt.pth", {"source": "ckpt.pth"}))
    assert converted.metadata == {"source": "ckpt.pth"} and converted.tensors.keys() == state.keys()


class MakeMarker:
    """A pickle payload: unpickling it calls os.mkdir(path)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_malicious_reduce_payload_really_runs_under_plain_pickle(tmp_path):
    """Control for the test below: the payload is live when unpickled without restrictions."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(MakeMarker(marker)))
    assert marker.exists()


@pytest.mark.parametrize("container", ["torch.save", "raw pickle"])
def test_malicious_pt_is_refused_without_running_it(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = {"fc.weight": torch.zeros(2, 2), "evil": MakeMarker(marker)}
    path = tmp_path / "evil.pt"
    if container == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(WeightsError, match=r"Python objects other than tensors.*state_dict\(\)"):
        read_torch_state_dict(path)
    assert not marker.exists()


def test_whole_pickled_model_is_refused_with_advice(tmp_path, trained_like):
    torch.save(trained_like, tmp_path / "model.pt")
    with pytest.raises(WeightsError, match="save only model.state_dict"):
        read_torch_state_dict(tmp_path / "model.pt")


def test_truncated_pt_is_refused(tmp_path, trained_like):
    torch.save(trained_like.state_dict(), tmp_path / "whole.pt")
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or not a PyTorch state_dict"):
        read_torch_state_dict(tmp_path / "cut.pt")


def test_pt_holding_no_state_dict_is_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="holds a list, not a state_dict"):
        read_torch_state_dict(tmp_path / "list.pt")


# --- strict loading -----------------------------------------------------------------------------------------

def test_strict_load_reproduces_the_model(trained_like):
    tensors = read_safetensors(state_dict_to_safetensors(trained_like.state_dict())).tensors
    rebuilt = build_with_weights(SPEC, tensors)
    x = torch.randn(4, 1, 16, 16)
    trained_like.eval()
    assert torch.equal(rebuilt(x), trained_like(x))


def test_missing_and_unexpected_keys_are_named(trained_like):
    tensors = dict(trained_like.state_dict())
    dropped = next(k for k in tensors if k.endswith("weight"))
    del tensors[dropped]
    tensors["extra.bias"] = torch.zeros(3)
    with pytest.raises(WeightsError) as info:
        build_with_weights(SPEC, tensors)
    message = str(info.value)
    assert f"missing keys: {dropped}" in message and "unexpected keys: extra.bias" in message


def test_other_kwargs_give_shape_mismatches(trained_like):
    wider = ArchSpec(SPEC.name, SPEC.num_classes, SPEC.in_channels, {"width": 0.25})
    with pytest.raises(WeightsError, match=r"shape mismatches: .* file \(\d+, 1, 3, 3\) vs model \(\d+, 1, 3, 3\)"):
        build_with_weights(wider, trained_like.state_dict())


def test_class_count_mismatch_is_said_plainly():
    five = build_model(ArchSpec(SPEC.name, 5, SPEC.in_channels, SPEC.kwargs))
    with pytest.raises(WeightsError, match=r"class-count mismatch: the weights were trained for 5 classes .* 10 class names"):
        build_with_weights(SPEC, five.state_dict())


def test_missing_batchnorm_counters_are_tolerated(trained_like):
    tensors = {k: v for k, v in trained_like.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_strict(build_model(SPEC), tensors)


def test_unknown_architecture_is_refused(trained_like):
    with pytest.raises(EngineError, match="unknown architecture 'lenet9000'"):
        build_with_weights(ArchSpec("lenet9000", 10, 1), trained_like.state_dict())


# --- ONNX uploads -------------------------------------------------------------------------------------------

def tiny_onnx(external: bool = False, broken: bool = False) -> bytes:
    weight = helper.make_tensor("W", TensorProto.FLOAT, [4, 3], [0.1] * 12)
    if external:
        weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3])
        weight.data_location = TensorProto.EXTERNAL
        entry = weight.external_data.add()
        entry.key, entry.value = "location", "../../etc/passwd"
    node = helper.make_node("MatMul", ["input", "W" if not broken else "nowhere"], ["logits"])
    graph = helper.make_graph([node], "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    model.ir_version = 8
    helper.set_model_props(model, {"class_names": "a,b,c"})
    return model.SerializeToString()


def test_onnx_upload_is_described_and_not_decomposable(tmp_path):
    (tmp_path / "m.onnx").write_bytes(tiny_onnx())
    summary = inspect_onnx(tmp_path / "m.onnx")
    assert summary.inputs == [{"name": "input", "dtype": "FLOAT", "shape": ["batch", 4]}]
    assert summary.outputs == [{"name": "logits", "dtype": "FLOAT", "shape": ["batch", 3]}]
    assert summary.opset == 17 and summary.parameter_count == 12 and summary.node_count == 1
    assert summary.metadata == {"class_names": "a,b,c"} and summary.producer == "tests"
    assert summary.to_dict()["decomposable"] is False


def test_onnx_with_external_data_is_refused():
    with pytest.raises(OnnxUploadError, match="external files .*W.*external_data=False"):
        inspect_onnx(tiny_onnx(external=True))


def test_onnx_failing_the_checker_is_refused():
    with pytest.raises(OnnxUploadError, match="fails onnx.checker"):
        inspect_onnx(tiny_onnx(broken=True))


@pytest.mark.parametrize("blob", [b"", b"\x08\x07garbage that is not protobuf \xff\xff", tiny_onnx()[:40]])
def test_corrupt_onnx_is_refused(blob):
    with pytest.raises(OnnxUploadError):
        inspect_onnx(blob)


def test_oversized_onnx_is_refused():
    with pytest.raises(OnnxUploadError, match="more than the limit"):
        inspect_onnx(tiny_onnx(), max_bytes=10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_real_torch_export_passes(tmp_path):
    model = build_model(ArchSpec("incecnn", 3, 1, {"width": 0.125})).eval()
    path = tmp_path / "exported.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 16, 16),), str(path), dynamo=False, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    summary = inspect_onnx(path)
    assert summary.inputs[0]["shape"] == ["batch", 1, 16, 16] and summary.outputs[0]["shape"][1] == 3
    assert onnx.load(str(path)).graph.output[0].name == "logits"
