"""Registry rows written directly (no jobs), so page tests run in milliseconds on real digits images."""
from __future__ import annotations

import functools
import json

from modules_registry import blobs
from modules_registry.models import BaseModel, Dataset, Decomposition, Evaluation, Job, Module
from splitter_engine.data import load_builtin
from splitter_engine.data.packed import pack

CLASSES = [str(i) for i in range(10)]


@functools.lru_cache(maxsize=1)
def _digits16():
    data = load_builtin("digits-16")  # seconds: load once per test session
    return data, pack(data)


def make_dataset(owner, name="digits-16", visibility="public") -> Dataset:
    data, packed = _digits16()
    return Dataset.objects.create(
        owner=owner, name=name, source="builtin", visibility=visibility, class_names=data.class_names,
        input_spec=data.spec.to_dict(), class_counts={s: data.class_counts(s) for s in data.splits},
        arrays=blobs.store(packed, media_type="application/x-npz"), description="scikit-learn digits")


def make_model(owner, dataset, name="digits-simcnn", visibility="public") -> BaseModel:
    job = Job.objects.create(kind=Job.Kind.TRAIN, owner=owner, status="succeeded", progress=1.0,
                             finished_at="2026-01-01T00:00:00Z", params={"name": name})
    return BaseModel.objects.create(
        owner=owner, name=name, visibility=visibility, architecture="simcnn", arch_kwargs={"width": 0.125},
        class_names=list(dataset.class_names), input_spec=dataset.input_spec, dataset=dataset, job=job,
        weights=blobs.store(f"weights of {name}".encode(), media_type="application/octet-stream"),
        params=123456, flops=7890123,
        train_history=[{"epoch": e, "train_accuracy": 0.5 + e / 10, "val_accuracy": 0.55 + e / 10} for e in range(4)])


def make_evaluation(owner, model) -> Evaluation:
    n = len(model.class_names)
    confusion = [[18 if i == j else (1 if j == (i + 1) % n else 0) for j in range(n)] for i in range(n)]
    per_class = [{"name": c, "precision": 0.947, "recall": 0.947, "f1": 0.947, "support": 19, "predicted": 19}
                 for c in model.class_names]
    return Evaluation.objects.create(owner=owner, model=model, dataset=model.dataset, split="test", accuracy=0.947,
                                     metrics={"per_class": per_class, "confusion": confusion, "accuracy": 0.947})


def make_decomposition(owner, model, visibility="public") -> Decomposition:
    history = [{"epoch": e, "phase": "mask" if e < 4 else "head", "loss": 1.0 / (e + 1),
                "accuracy": 0.90 + e / 100, "retention": 1.0 - e / 10, "seconds": 1.5} for e in range(6)]
    decomposition = Decomposition.objects.create(
        owner=owner, base_model=model, dataset=model.dataset, method="gradsplitter", preset="fast",
        config={"epochs": 6, "lr": 0.01}, seed=0, history=history, selected_epoch=4, composed_accuracy=0.94,
        base_accuracy=0.947, mean_kernel_retention=0.6, visibility=visibility,
        result=blobs.store(f"result of {model.name}".encode()))
    for i, name in enumerate(model.class_names):
        spec = {"architecture": "simcnn", "class_index": i, "group_roots": ["features.0", "features.3", "features.7"],
                "group_sizes": [8, 16, 32], "kept": [list(range(4 + i % 3)), list(range(9)), list(range(12 + i))],
                "threshold": round(0.3 + 0.0375 * i, 6)}
        Module.objects.create(
            owner=owner, decomposition=decomposition, base_model=model, class_index=i, class_name=name,
            visibility=visibility, spec=blobs.store(json.dumps(spec).encode(), media_type="application/json"),
            weights=blobs.store(f"module {model.name} {i}".encode()), kept_kernels=30 + i, total_kernels=56,
            params=40000 + 100 * i, flops=3_000_000 + 1000 * i, params_fraction=0.33, flops_fraction=0.4,
            precision=0.95, recall=0.93 - i / 100, f1=0.94 - i / 100)
    return decomposition


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


def make_build(owner, modules, visibility="public"):
    from modules_registry.models import Build, BuildItem

    spec = modules[0].base_model.input_spec
    names = [m.class_name for m in modules]
    per_class = [{"class": n, "precision": 0.9, "recall": 0.95, "f1": 0.92, "support": 27} for n in names]
    build = Build.objects.create(
        owner=owner, name=f"digits {', '.join(names)}", kind="compose", strategy="ensemble", calibration="none",
        cache_key=f"{len(names)}-{modules[0].pk}-{visibility}".ljust(64, "0"), class_names=names, input_spec=spec,
        onnx=blobs.store(tiny_onnx(spec["channels"], spec["height"], spec["width"], len(names)),
                         media_type="application/onnx"),
        metrics={"accuracy": 0.93, "per_class": per_class, "params": 120000, "flops": 9000000,
                 "onnx_provider": "CPUExecutionProvider", "parity_samples": 64},
        parity_max_abs_diff=2e-6, visibility=visibility)
    for position, module in enumerate(modules):
        BuildItem.objects.create(build=build, module=module, position=position, class_name=module.class_name)
    build.base_models.set({m.base_model_id for m in modules})
    return build
