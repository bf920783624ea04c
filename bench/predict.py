"""Latency of POST /api/builds/{id}/predict/ against running the same ONNX file locally in onnxruntime (#18).

A throw-away hub (SQLite in a temporary directory) holds one build: a ResCNN (width 0.25, 10 classes, 3x32x32
digits-32 images) exported by the hub's own ONNX exporter (weights untrained: latency does not depend on them).
Through the API (Django's test client: routing, token, multipart parsing, image checks, decoding, preprocessing,
the cached session, JSON) it classifies a batch of 1 and of 64 PNG files and one .npz of 64 images; locally the
same ONNX file runs in onnxruntime on the already-normalised float32 batch (one thread, as the server's session).
Prints p50/p99 per case and the ratio API / local.

    python bench/predict.py --repeats 50
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_hub(data_dir: Path) -> None:
    os.environ.update({"HUB_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "hub.settings", "DEBUG": "0",
                       "SECRET_KEY": "bench-only", "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "testserver",
                       "HUB_THROTTLE_TRY": "1000000/min", "HUB_THROTTLE_ANON": "1000000/min",
                       "HUB_THROTTLE_USER": "1000000/min", "HUB_LOG_LEVEL": "WARNING"})
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_build():
    """A real build row: the ResCNN exported by the hub's exporter, on digits-32's input spec."""
    import torch
    from django.contrib.auth import get_user_model

    from modules_registry import blobs
    from modules_registry.models import Build
    from splitter_engine.architectures import ArchSpec, build_model
    from splitter_engine.onnx_export import export_onnx
    from splitter_engine.specs import InputSpec

    torch.manual_seed(0)
    spec = InputSpec(3, 32, 32, [0.1, 0.1, 0.1], [0.3, 0.3, 0.3])
    model = build_model(ArchSpec("rescnn", 10, 3, {"width": 0.25}))
    exported = export_onnx(model, spec, torch.randn(8, 3, 32, 32), {})
    owner = get_user_model().objects.create_user("bench", password="bench-password-1")
    build = Build.objects.create(owner=owner, visibility="public", name="bench-rescnn", kind="compose",
                                 strategy="ensemble", cache_key="bench".ljust(64, "0"),
                                 class_names=[str(i) for i in range(10)], input_spec=spec.to_dict(),
                                 onnx=blobs.store(exported.data, media_type="application/onnx"),
                                 parity_max_abs_diff=exported.parity_max_abs_diff)
    return build, exported.data


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return (ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-predict-") as tmp:
        setup_hub(Path(tmp))
        import numpy as np
        import onnxruntime as ort
        from django.core.files.uploadedfile import SimpleUploadedFile
        from PIL import Image
        from rest_framework.test import APIClient

        from modules_registry.image_inputs import to_input

        build, data = make_build()
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
        pngs = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
        npz = io.BytesIO()
        np.savez(npz, x=images)
        client = APIClient()
        url = f"/api/builds/{build.pk}/predict/"

        def api(kind: str, n: int) -> float:
            files = ([SimpleUploadedFile("batch.npz", npz.getvalue())] if kind == "npz" else
                     [SimpleUploadedFile(f"{i}.png", pngs[i]) for i in range(n)])
            started = time.perf_counter()
            response = client.post(url, {"images": files, "top_k": 3}, format="multipart")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and len(response.json()["predictions"]) == n, response.content[:300]
            return elapsed

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        batch = np.stack([to_input(Image.fromarray(image), build.input_spec) for image in images])

        def local(n: int) -> float:
            started = time.perf_counter()
            session.run(["logits"], {"input": batch[:n]})
            return time.perf_counter() - started

        api("png", 1)  # the first request makes the cached session
        local(1)
        print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.repeats} repeats; "
              f"ResCNN x0.25, 3x32x32, {len(data) / 1024:.0f} KB ONNX")
        print(f"{'case':<26}{'API p50':>10}{'API p99':>10}{'local p50':>11}{'local p99':>11}{'ratio p50':>11}")
        for label, kind, n in (("batch 1 (PNG)", "png", 1), ("batch 64 (64 PNG files)", "png", 64),
                               ("batch 64 (one .npz)", "npz", 64)):
            api_times = [api(kind, n) for _ in range(args.repeats)]
            local_times = [local(n) for _ in range(args.repeats)]
            (a50, a99), (l50, l99) = percentiles(api_times), percentiles(local_times)
            print(f"{label:<26}{a50:>8.1f}ms{a99:>8.1f}ms{l50:>9.2f}ms{l99:>9.2f}ms{a50 / l50:>10.1f}x")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
