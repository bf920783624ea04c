"""Seed a throw-away hub for bench/load.py through the real services and jobs (about a minute on 2 cores).

Run with the throw-away hub's environment (HUB_DATA_DIR, DATABASE_URL ...); prints one JSON line: the ids the
load test asks for and a write token. What it makes: the built-in digits-16 data set, two narrow ResCNNs trained for
five epochs, a concern-identification decomposition of each (the paper preset: one pass, no search), three builds
(one model's modules, two models' modules, one more model) and a large ONNX upload (the largest blob, for the
concurrent-download check).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts.services import create_token  # noqa: E402
from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Job, Module  # noqa: E402
from modules_registry.services.builds import start_build  # noqa: E402
from modules_registry.services.datasets import import_builtin_dataset  # noqa: E402
from modules_registry.services.decompositions import start_decomposition  # noqa: E402
from modules_registry.services.models import start_training, upload_model  # noqa: E402

MODELS = [("bench-rescnn-a", 0), ("bench-rescnn-b", 1)]  # name, training seed
TRAIN = {"epochs": 5, "lr": 3e-3, "seed": 0}


def drain(what: str) -> None:
    started = time.perf_counter()
    call_command("db_worker", batch=True, startup_delay=False, queue_name="fast,default,gpu", reload=False,
                 verbosity=0)
    failed = list(Job.objects.filter(status="failed").values_list("kind", "error"))
    if failed:
        raise SystemExit(f"seeding jobs failed: {failed}")
    print(f"seeded {what} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def large_onnx(megabytes: int) -> tuple[bytes, int]:
    """A valid ONNX classifier (flatten + matmul) of 3 x side x side images whose one weight is ``megabytes`` MB of
    float32; and the side."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    features = megabytes * 1024 * 1024 // (4 * 10)
    side = int((features / 3) ** 0.5)
    weights = np.random.default_rng(0).standard_normal((3 * side * side, 10), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "large", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString(), side


def seed(large_mb: int) -> dict:
    from django.contrib.auth import get_user_model

    started = time.perf_counter()
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    _, token = create_token(user=user, name="load", scope="write")
    import_builtin_dataset(owner=user, builtin="digits-16")
    drain("the data set")
    dataset = Dataset.objects.get(owner=user, name="digits-16")
    for name, seed in MODELS:
        start_training(owner=user, dataset=dataset, name=name, architecture="rescnn", arch_kwargs={"width": 0.125},
                       config={**TRAIN, "seed": seed}, device="cpu")
    drain("two models")
    models = list(BaseModel.objects.filter(owner=user).order_by("pk"))
    for model in models:
        start_decomposition(owner=user, model=model, method="concern", preset="paper",
                            overrides={"confidence": 0.2}, device="cpu")
    drain("two decompositions")
    modules = {m.pk: m for m in Module.objects.filter(owner=user).order_by("pk")}
    first, second = ([m for m in modules.values() if m.base_model_id == model.pk] for model in models)
    for chosen in ([first[3].pk, first[5].pk, first[8].pk], [first[1].pk, second[7].pk], [second[0].pk, second[6].pk]):
        start_build(owner=user, modules=chosen, strategy="ensemble", device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.onnx"
        onnx_bytes, side = large_onnx(large_mb)
        path.write_bytes(onnx_bytes)
        with path.open("rb") as handle:
            upload = SimpleUploadedFile("large.onnx", handle.read())
        upload_model(owner=user, weights=upload, name="bench-large-onnx", class_names=[str(i) for i in range(10)],
                     input_spec={"channels": 3, "height": side, "width": side, "mean": [0.0] * 3, "std": [1.0] * 3})
    drain("three builds and the large upload")
    large = BaseModel.objects.get(owner=user, name="bench-large-onnx")
    return {
        "seconds": round(time.perf_counter() - started, 1), "token": token, "dataset": dataset.pk,
        "models": [m.pk for m in models], "decompositions": list(Decomposition.objects.values_list("pk", flat=True)),
        "modules": list(modules), "module_classes": {str(pk): m.class_name for pk, m in modules.items()},
        "builds": list(Build.objects.values_list("pk", flat=True)), "large_model": large.pk,
        "large_bytes": large.weights.size,
    }


if __name__ == "__main__":
    print(json.dumps(seed(int(sys.argv[1]) if len(sys.argv) > 1 else 64)))
