"""A build end to end: compose (or patch), evaluate, export to ONNX, check parity; timed stage by stage."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from splitter_engine.composition.compose import Composition
from splitter_engine.composition.footprint import footprint
from splitter_engine.composition.samples import labelled
from splitter_engine.composition.sources import BaseSource
from splitter_engine.data import ImageDataset
from splitter_engine.onnx_export import OnnxExport, export_onnx, metadata_props
from splitter_engine.runtime import RunContext

PARITY_SAMPLES = 128


@dataclass
class BuildOutput:
    composition: Composition
    onnx: OnnxExport
    metrics: dict  # the composition's metrics plus parity and timings


def parity_samples(composition: Composition, data: ImageDataset, count: int = PARITY_SAMPLES) -> torch.Tensor:
    """A seeded pick of real test images of the build's classes."""
    x, _ = labelled(data, "test", composition.class_names, composition.spec)
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:count]]


def export_build(composition: Composition, data: ImageDataset, lineage: list[dict], extra: dict,
                 ctx: RunContext | None = None, bases: list[BaseSource] | None = None) -> BuildOutput:
    """``bases``: the base models the build came from; the metrics then hold the build's footprint beside theirs."""
    ctx = ctx or RunContext()
    ctx.check_cancelled()
    ctx.report(0.75, "export", "exporting to ONNX")
    meta = metadata_props(composition.class_names, composition.spec, lineage, extra)
    samples = parity_samples(composition, data)
    started = time.perf_counter()
    exported = export_onnx(composition.model, composition.spec, samples, meta)
    metrics = dict(composition.metrics)
    metrics.update({
        "parity_max_abs_diff": exported.parity_max_abs_diff, "parity_samples": exported.parity_samples,
        "onnx_provider": exported.provider,
        "onnx_bytes": len(exported.data), "export_seconds": round(exported.export_seconds, 3),
        "parity_seconds": round(exported.parity_seconds, 3),
        "export_total_seconds": round(time.perf_counter() - started, 3)})
    if bases:
        ctx.report(0.95, "measure", "params, FLOPs, ONNX size and latency of the build and its base model(s)")
        metrics["footprint"] = footprint(composition.params, composition.flops, exported.data, composition.spec.shape,
                                         bases)
    ctx.report(1.0, "export", f"ONNX {len(exported.data):,} bytes, parity {exported.parity_max_abs_diff:.2e}")
    return BuildOutput(composition=composition, onnx=exported, metrics=metrics)
