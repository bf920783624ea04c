"""Registry rows written directly (no jobs run), so API and page tests take milliseconds per row.

One ``make_*`` per kind of row, with plausible defaults; any keyword argument overrides a field.
``make_dataset`` stores the real digits-16 arrays (page tests show its images) unless ``arrays`` is
given. ``chain`` writes a whole lineage of small fake blobs at once: data set, model, evaluation,
decomposition, modules and a build (API tests).

Import it as ``import factories as f`` (``tests/`` is on ``sys.path``). Engine-side helpers (small trained
torch models, data set archives) live beside the engine tests: ``engine/engine_helpers.py``,
``engine/archive_builders.py`` and ``composition_support.py``.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from unittest import mock

from django.contrib.auth import get_user_model

from modules_registry import blobs
from modules_registry.models import BaseModel, Build, BuildItem, Dataset, Decomposition, Evaluation, Job, Module

CLASSES = [str(i) for i in range(10)]


def store(data: bytes | str, media_type: str = "application/octet-stream"):
    """A blob of ``data``; test rows need no durability, so the blob store's fsyncs (seconds on a busy disk)
    are skipped."""
    payload = data.encode() if isinstance(data, str) else data
    with mock.patch("modules_registry.blobs.os.fsync"), mock.patch("modules_registry.blobs._fsync_dir"):
        return blobs.store(payload, media_type=media_type)


@functools.lru_cache(maxsize=1)
def _digits16():
    from splitter_engine.data import load_builtin
    from splitter_engine.data.packed import pack

    data = load_builtin("digits-16")  # seconds: load once per test session
    return data, pack(data)


def make_user(username: str, password: str | None = None):
    return get_user_model().objects.create_user(username=username, password=password or f"{username}-password-1")


def make_job(owner, kind: str = Job.Kind.TRAIN, **fields) -> Job:
    return Job.objects.create(kind=kind, owner=owner, **{"params": {}, **fields})


def make_dataset(owner, name: str = "digits-16", visibility: str = "public", **fields) -> Dataset:
    if "arrays" not in fields:
        data, packed = _digits16()
        fields = {"class_names": data.class_names, "input_spec": data.spec.to_dict(),
                  "class_counts": {s: data.class_counts(s) for s in data.splits},
                  "arrays": store(packed, "application/x-npz"), "description": "scikit-learn digits", **fields}
    return Dataset.objects.create(owner=owner, name=name, visibility=visibility, **{"source": "builtin", **fields})


def make_model(owner, dataset, name: str = "digits-simcnn", visibility: str = "public", **fields) -> BaseModel:
    """A trained-looking model of ``dataset``; its train job too unless ``job`` is given (``job=None``: none)."""
    if "job" not in fields:
        fields["job"] = make_job(owner, Job.Kind.TRAIN, status="succeeded", progress=1.0,
                                 finished_at="2026-01-01T00:00:00Z", params={"name": name})
    if "weights" not in fields:
        fields["weights"] = store(f"weights of {name}")
    defaults = {"architecture": "simcnn", "arch_kwargs": {"width": 0.125}, "class_names": list(dataset.class_names),
                "input_spec": dataset.input_spec, "params": 123456, "flops": 7890123,
                "train_history": [{"epoch": e, "train_accuracy": 0.5 + e / 10, "val_accuracy": 0.55 + e / 10}
                                  for e in range(4)]}
    return BaseModel.objects.create(owner=owner, name=name, visibility=visibility, dataset=dataset,
                                    **{**defaults, **fields})


def make_evaluation(owner, model, **fields) -> Evaluation:
    if "metrics" not in fields:
        n = len(model.class_names)
        confusion = [[18 if i == j else (1 if j == (i + 1) % n else 0) for j in range(n)] for i in range(n)]
        per_class = [{"name": c, "precision": 0.947, "recall": 0.947, "f1": 0.947, "support": 19, "predicted": 19}
                     for c in model.class_names]
        fields["metrics"] = {"per_class": per_class, "confusion": confusion, "accuracy": 0.947}
    return Evaluation.objects.create(owner=owner, model=model, dataset=model.dataset,
                                     **{"split": "test", "accuracy": 0.947, **fields})


def make_decomposition(owner, model, visibility: str = "public", with_modules: bool = True,
                       **fields) -> Decomposition:
    """A GradSplitter decomposition of ``model``, with one module per class unless ``with_modules`` is false."""
    if "result" not in fields:
        fields["result"] = store(f"result of {model.name}")
    history = [{"epoch": e, "phase": "mask" if e < 4 else "head", "loss": 1.0 / (e + 1),
                "accuracy": 0.90 + e / 100, "retention": 1.0 - e / 10, "seconds": 1.5} for e in range(6)]
    defaults = {"method": "gradsplitter", "preset": "fast", "config": {"epochs": 6, "lr": 0.01}, "seed": 0,
                "history": history, "selected_epoch": 4, "composed_accuracy": 0.94, "base_accuracy": 0.947,
                "mean_kernel_retention": 0.6}
    decomposition = Decomposition.objects.create(owner=owner, base_model=model, dataset=model.dataset,
                                                 visibility=visibility, **{**defaults, **fields})
    if with_modules:
        for i in range(len(model.class_names)):
            make_module(decomposition, i)
    return decomposition


def make_module(decomposition, class_index: int, **fields) -> Module:
    """Module ``class_index`` of ``decomposition``, with its owner, model and visibility."""
    i, model = class_index, decomposition.base_model
    if "spec" not in fields:
        spec = {"architecture": "simcnn", "class_index": i, "group_roots": ["features.0", "features.3", "features.7"],
                "group_sizes": [8, 16, 32], "kept": [list(range(4 + i % 3)), list(range(9)), list(range(12 + i))],
                "threshold": round(0.3 + 0.0375 * i, 6)}
        fields["spec"] = store(json.dumps(spec), "application/json")
    if "weights" not in fields:
        fields["weights"] = store(f"module {model.name} {i}")
    defaults = {"class_name": model.class_names[i], "kept_kernels": 30 + i, "total_kernels": 56,
                "params": 40000 + 100 * i, "flops": 3_000_000 + 1000 * i, "params_fraction": 0.33,
                "flops_fraction": 0.4, "precision": 0.95, "recall": 0.93 - i / 100, "f1": 0.94 - i / 100}
    return Module.objects.create(owner=decomposition.owner, decomposition=decomposition, base_model=model,
                                 class_index=i, visibility=decomposition.visibility, **{**defaults, **fields})


def make_sized_decomposition(owner, model) -> list[Module]:
    """A decomposition of ``model`` whose module specs the builder's estimate can size: an untrained SimCNN's
    channel groups (sizes need no weights), half of every group kept. Returns its modules in class order."""
    from splitter_engine.architectures.registry import ArchSpec, build_model
    from splitter_engine.channels import analyse_channels

    arch = ArchSpec(name="simcnn", num_classes=len(model.class_names), in_channels=model.input_spec["channels"],
                    kwargs={"width": 0.125})
    spec = model.input_spec
    groups = analyse_channels(build_model(arch), (spec["channels"], spec["height"], spec["width"])).groups
    sized = store(json.dumps({
        "arch": arch.to_dict(), "input": spec, "group_roots": [g.root for g in groups],
        "group_sizes": [g.size for g in groups], "kept": [list(range(g.size // 2)) for g in groups]}),
        "application/json")
    decomposition = make_decomposition(owner, model, with_modules=False)
    return [make_module(decomposition, i, spec=sized) for i in range(len(model.class_names))]


def tiny_onnx(channels: int, height: int, width: int, classes: int) -> bytes:
    """A real ONNX classifier (flatten + matmul) with the hub's input/output names; class k likes brightness k."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    features = channels * height * width
    weights = np.zeros((features, classes), dtype=np.float32)
    weights[:, 0] = -1.0 / features
    weights[:, -1] = 1.0 / features
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_build(owner, modules, visibility: str = "public", **fields) -> Build:
    """An ensemble of ``modules`` (one class each, in order) with a real, tiny ONNX unless ``onnx`` is given."""
    spec = modules[0].base_model.input_spec
    names = [m.class_name for m in modules]
    if "onnx" not in fields:
        fields["onnx"] = store(tiny_onnx(spec["channels"], spec["height"], spec["width"], len(names)),
                               "application/onnx")
    per_class = [{"class": n, "precision": 0.9, "recall": 0.95, "f1": 0.92, "support": 27} for n in names]
    defaults = {"name": f"digits {', '.join(names)}", "kind": "compose", "strategy": "ensemble",
                "calibration": "none", "cache_key": f"{len(names)}-{modules[0].pk}-{visibility}".ljust(64, "0"),
                "class_names": names, "input_spec": spec, "parity_max_abs_diff": 2e-6,
                "metrics": {"accuracy": 0.93, "per_class": per_class, "params": 120000, "flops": 9000000,
                            "onnx_provider": "CPUExecutionProvider", "parity_samples": 64}}
    build = Build.objects.create(owner=owner, visibility=visibility, **{**defaults, **fields})
    for position, module in enumerate(modules):
        BuildItem.objects.create(build=build, module=module, position=position, class_name=module.class_name)
    build.base_models.set({m.base_model_id for m in modules})
    return build


# -- a whole lineage of small fake blobs, for the API tests ----------------------------------------------------
SPEC = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}


@dataclass
class Chain:
    dataset: Dataset
    model: BaseModel
    evaluation: Evaluation
    decomposition: Decomposition
    modules: list[Module]
    build: Build


def chain(owner, *, tag: str, visibility: str = "public", classes=("cat", "dog", "ship"),
          architecture: str = "simcnn", method: str = "gradsplitter", kept=(5, 9, 14)) -> Chain:
    """Data set, model, evaluation, decomposition, one module per class and a build of the first two, all
    named after ``tag``; blobs are short fake bytes (the weights and ONNX large enough to stream in chunks)."""
    dataset = make_dataset(owner, f"data-{tag}", visibility, class_names=list(classes), input_spec=SPEC,
                           class_counts={"train": [10] * len(classes)},
                           arrays=store(f"arrays {tag}", "application/x-npz"))
    model = make_model(owner, dataset, f"model-{tag}", visibility, job=None, architecture=architecture,
                       weights=store(f"weights {tag} " * 1000), params=1000, flops=20000, train_history=None)
    evaluation = make_evaluation(owner, model, accuracy=0.9, metrics={})
    decomposition = make_decomposition(
        owner, model, visibility, with_modules=False, method=method, preset="", config={}, history=[],
        selected_epoch=None, composed_accuracy=0.88, base_accuracy=0.9, mean_kernel_retention=0.5,
        result=store(f"result {tag}"))
    modules = [make_module(
        decomposition, i, spec=store(json.dumps({"class": name, "tag": tag}), "application/json"),
        weights=store(f"mw {tag} {i}"), kept_kernels=kept[i % len(kept)], total_kernels=16, params=100 + i,
        flops=1000 + i, params_fraction=0.1, flops_fraction=0.1, precision=0.9, recall=0.8, f1=0.85)
        for i, name in enumerate(classes)]
    build = make_build(owner, modules[:2], visibility, name=f"build-{tag}",
                       cache_key=hashlib.sha256(tag.encode()).hexdigest(), onnx=store(f"onnx {tag} " * 5000),
                       parity_max_abs_diff=1e-6, metrics={})
    return Chain(dataset, model, evaluation, decomposition, modules, build)
