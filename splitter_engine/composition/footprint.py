"""What a network costs to run, measured: parameters, FLOPs, ONNX bytes and onnxruntime latency.

A build reports its own footprint beside its base model's, so a user sees what k of N classes cost against the
model they came from. The base model is exported and timed once per worker process (cached by weights).
"""
from __future__ import annotations

import statistics
import time
from collections import OrderedDict

import numpy as np

from splitter_engine.composition.sources import BaseSource
from splitter_engine.onnx_export import _export_proto, session
from splitter_engine.profile import model_size

LATENCY_BATCHES = (1, 64)
_BASE_CACHE: OrderedDict[tuple, dict] = OrderedDict()
_BASE_CACHE_SIZE = 16


def ort_latency(onnx_bytes: bytes, shape: tuple[int, int, int], runs: int = 30) -> dict:
    """Median milliseconds per onnxruntime call at batch 1 and 64 (random inputs, after warm-up calls)."""
    sess = session(onnx_bytes)
    name = sess.get_inputs()[0].name
    out = {}
    for batch in LATENCY_BATCHES:
        x = np.random.default_rng(batch).standard_normal((batch, *shape)).astype(np.float32)
        count = runs if batch == 1 else max(5, runs // 4)
        for _ in range(3):
            sess.run(None, {name: x})
        times = []
        for _ in range(count):
            started = time.perf_counter()
            sess.run(None, {name: x})
            times.append(time.perf_counter() - started)
        out[f"latency_ms_b{batch}"] = round(statistics.median(times) * 1000, 3)
    return out


def base_footprint(base: BaseSource) -> dict:
    """The base model's params, FLOPs, ONNX bytes and latency (exported in memory; cached per weights)."""
    key = (base.key, repr(base.spec))
    if key in _BASE_CACHE:
        _BASE_CACHE.move_to_end(key)
        return dict(_BASE_CACHE[key])
    model = base.model.cpu().eval()
    size = model_size(model, base.spec)
    data = _export_proto(model, base.spec).SerializeToString()
    measured = {"params": size.params, "flops": size.flops, "onnx_bytes": len(data),
                **ort_latency(data, base.spec.shape)}
    _BASE_CACHE[key] = measured
    while len(_BASE_CACHE) > _BASE_CACHE_SIZE:
        _BASE_CACHE.popitem(last=False)
    return dict(measured)


def footprint(params: int, flops: int, onnx_bytes: bytes, shape: tuple[int, int, int],
              bases: list[BaseSource]) -> dict:
    """The build's footprint, each base model's, and (one base) the build's ratio to it per figure."""
    build = {"params": params, "flops": flops, "onnx_bytes": len(onnx_bytes), **ort_latency(onnx_bytes, shape)}
    measured = [{"key": b.key, **base_footprint(b)} for b in bases]
    report = {"build": build, "bases": measured}
    if len(measured) == 1:
        report["ratio"] = {k: round(build[k] / measured[0][k], 4) for k in build if measured[0].get(k)}
    return report
