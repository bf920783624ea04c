"""Rows written directly (no jobs) so API read tests stay fast: a whole lineage chain per call."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from unittest import mock

from modules_registry import blobs
from modules_registry.models import BaseModel, Build, BuildItem, Dataset, Decomposition, Evaluation, Module

SPEC = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}


@dataclass
class Chain:
    dataset: Dataset
    model: BaseModel
    evaluation: Evaluation
    decomposition: Decomposition
    modules: list[Module]
    build: Build


def chain(owner, **kwargs) -> Chain:
    # Test rows need no durability: skip the blob store's fsyncs (seconds on a busy disk).
    with mock.patch("modules_registry.blobs.os.fsync"), mock.patch("modules_registry.blobs._fsync_dir"):
        return _chain(owner, **kwargs)


def _chain(owner, *, tag: str, visibility: str = "public", classes=("cat", "dog", "ship"),
          architecture: str = "simcnn", method: str = "gradsplitter", kept=(5, 9, 14)) -> Chain:
    store = lambda text, media="application/octet-stream": blobs.store(text.encode(), media_type=media)  # noqa: E731
    common = {"owner": owner, "visibility": visibility}
    dataset = Dataset.objects.create(
        **common, name=f"data-{tag}", source="builtin", class_names=list(classes), input_spec=SPEC,
        class_counts={"train": [10] * len(classes)}, arrays=store(f"arrays {tag}", "application/x-npz"))
    model = BaseModel.objects.create(
        **common, name=f"model-{tag}", architecture=architecture, arch_kwargs={"width": 0.125},
        class_names=list(classes), input_spec=SPEC, weights=store(f"weights {tag} " * 1000), dataset=dataset,
        params=1000, flops=20000)
    evaluation = Evaluation.objects.create(**common, model=model, dataset=dataset, accuracy=0.9, metrics={})
    decomposition = Decomposition.objects.create(
        **common, base_model=model, dataset=dataset, method=method, config={}, seed=0, history=[],
        composed_accuracy=0.88, base_accuracy=0.9, mean_kernel_retention=0.5, result=store(f"result {tag}"))
    modules = [Module.objects.create(
        **common, decomposition=decomposition, base_model=model, class_index=i, class_name=name,
        spec=store(json.dumps({"class": name, "tag": tag}), "application/json"), weights=store(f"mw {tag} {i}"),
        kept_kernels=kept[i % len(kept)], total_kernels=16, params=100 + i, flops=1000 + i, params_fraction=0.1,
        flops_fraction=0.1, precision=0.9, recall=0.8, f1=0.85) for i, name in enumerate(classes)]
    build = Build.objects.create(
        **common, name=f"build-{tag}", kind="compose", strategy="ensemble",
        cache_key=hashlib.sha256(tag.encode()).hexdigest(), class_names=list(classes[:2]), input_spec=SPEC,
        onnx=store(f"onnx {tag} " * 5000), parity_max_abs_diff=1e-6)
    build.base_models.add(model)
    for position, module in enumerate(modules[:2]):
        BuildItem.objects.create(build=build, module=module, position=position, class_name=module.class_name)
    return Chain(dataset, model, evaluation, decomposition, modules, build)
