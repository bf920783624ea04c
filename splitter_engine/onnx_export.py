"""Export a classifier to one self-contained ONNX file and prove onnxruntime computes what PyTorch does.

The file has input ``input`` (N x C x H x W float32, N dynamic) and output ``logits``; its
``metadata_props`` carry the class names, the input normalisation and the lineage. Every export is run
in onnxruntime on real samples and compared with the PyTorch model; above ``PARITY_LIMIT`` the export
fails with ``ParityError`` and no file is returned.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn

from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec

PARITY_LIMIT = 1e-4
INPUT_NAME, OUTPUT_NAME = "input", "logits"
_PARITY_BATCH = 64


class ParityError(EngineError):
    """onnxruntime's output differs from PyTorch's by more than the limit: the file must not be served."""

    def __init__(self, max_abs_diff: float, limit: float):
        super().__init__(f"onnxruntime output differs from PyTorch by {max_abs_diff:.3g} (limit {limit:g}); "
                         "the ONNX file was not kept")
        self.max_abs_diff, self.limit = max_abs_diff, limit


@dataclass
class OnnxExport:
    data: bytes
    sha256: str
    parity_max_abs_diff: float
    parity_samples: int
    provider: str
    export_seconds: float
    parity_seconds: float
    metadata: dict[str, str]


def metadata_props(class_names: list[str], spec: InputSpec, lineage: list[dict], extra: dict | None = None) -> dict[str, str]:
    """The ONNX metadata: every value a string (JSON where structured)."""
    props = {
        "class_names": json.dumps(list(class_names)),
        "input_normalisation": json.dumps({
            **spec.to_dict(), "layout": "NCHW", "dtype": "float32",
            "formula": "x = (pixel / 255 - mean[c]) / std[c]"}),
        "lineage": json.dumps(lineage),
    }
    for key, value in (extra or {}).items():
        props[key] = value if isinstance(value, str) else json.dumps(value)
    return props


def read_metadata(data: bytes) -> dict[str, str]:
    model = onnx.load_from_string(data)
    return {p.key: p.value for p in model.metadata_props}


def _cuda_usable() -> bool:
    import onnxruntime as ort

    # onnxruntime-gpu lists CUDA on machines without a GPU and logs an error when asked for it there.
    return "CUDAExecutionProvider" in ort.get_available_providers() and torch.cuda.is_available()


def session(data: bytes, threads: int | None = None):
    """An onnxruntime session on CUDA when usable, else CPU (TF32 off so parity stays float32-exact)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers: list = ["CPUExecutionProvider"]
    if _cuda_usable():
        providers = [("CUDAExecutionProvider", {"use_tf32": 0}), "CPUExecutionProvider"]
    return ort.InferenceSession(data, sess_options=options, providers=providers)


def _export_proto(model: nn.Module, spec: InputSpec) -> onnx.ModelProto:
    example = torch.zeros(2, *spec.shape)
    batch = torch.export.Dim("batch", min=1)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        try:
            torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_shapes=({0: batch},), verbose=False)
        except Exception as exc:
            raise EngineError(f"the model cannot be exported to ONNX: {exc}") from exc
        leftovers = sorted(p.name for p in Path(tmp).iterdir() if p.name != "model.onnx")
        if leftovers:
            raise EngineError(f"the ONNX export wrote external data ({leftovers}); it must be one file")
        return onnx.load(str(path))


@torch.no_grad()
def parity(model: nn.Module, data: bytes, samples: torch.Tensor) -> tuple[float, str]:
    """Max |onnxruntime - PyTorch| over ``samples`` (normalised N x C x H x W), and the provider used.

    One sample also runs alone, so the dynamic batch axis is exercised at 1 and at the batch size.
    """
    sess = session(data)
    worst = 0.0
    chunks = [samples[:1]] + [samples[i:i + _PARITY_BATCH] for i in range(0, len(samples), _PARITY_BATCH)]
    for chunk in chunks:
        expected = model(chunk).float().numpy()
        got = sess.run([OUTPUT_NAME], {INPUT_NAME: chunk.numpy().astype(np.float32)})[0]
        if got.shape != expected.shape:
            raise EngineError(f"onnxruntime output has shape {got.shape}, PyTorch {expected.shape}")
        worst = max(worst, float(np.max(np.abs(got - expected))) if got.size else 0.0)
        if not np.isfinite(got).all():
            worst = float("inf")
    return worst, sess.get_providers()[0]


def export_onnx(model: nn.Module, spec: InputSpec, samples: torch.Tensor, metadata: dict[str, str],
                limit: float = PARITY_LIMIT) -> OnnxExport:
    """Export ``model`` (taking normalised inputs of ``spec``), check it, and compare it on ``samples``."""
    if len(samples) == 0:
        raise EngineError("the parity check needs at least one real sample")
    if tuple(samples.shape[1:]) != spec.shape:
        raise EngineError(f"parity samples have shape {tuple(samples.shape[1:])}, the model takes {spec.shape}")
    model = model.cpu().eval()
    samples = samples.detach().float().cpu()
    started = time.perf_counter()
    proto = _export_proto(model, spec)
    onnx.helper.set_model_props(proto, metadata)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise EngineError(f"the exported ONNX model is not valid: {exc}") from exc
    data = proto.SerializeToString()
    exported = time.perf_counter()
    diff, provider = parity(model, data, samples)
    if not diff <= limit:
        raise ParityError(diff, limit)
    return OnnxExport(data=data, sha256=hashlib.sha256(data).hexdigest(), parity_max_abs_diff=diff,
                      parity_samples=len(samples), provider=provider, export_seconds=exported - started,
                      parity_seconds=time.perf_counter() - exported, metadata=dict(metadata))
