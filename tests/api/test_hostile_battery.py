"""The hostile-input battery (#19.5): every case is a request a hostile or careless client sends, answered with a
4xx, a stable error code and a message, never a 500, and leaving nothing behind: no row, no blob, no staged or
temporary upload, no side effect (a pickle's payload never runs: its sentinel file is never created).

CASES is the one table: docs/hostile-input.md shows it (``python tests/api/test_hostile_battery.py`` rewrites the
doc's table) and a test checks that the doc matches, so the two cannot drift.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hostile-input.md"
SPEC16 = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}
TABLE_START, TABLE_END = "<!-- battery table: start -->", "<!-- battery table: end -->"


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    what: str           # the hostile request, in words (the doc's table)
    status: int
    code: str
    send: Callable      # send(world) -> response


# -- builders (no Django needed to import this module: the doc writer runs without it) -------------------------

class Sentinel:
    """A pickle payload whose unpickling creates a file: the battery asserts the file never appears."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def upload_file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def safetensors_bytes(num_classes: int = 10) -> bytes:
    import torch
    from safetensors.torch import save

    from splitter_engine.architectures import ArchSpec, build_model

    torch.manual_seed(0)
    return save(build_model(ArchSpec("simcnn", num_classes, 1, {"width": 0.125})).state_dict())


def model_form(w, weights: bytes | None = None, filename: str = "m.safetensors", **fields) -> dict:
    form = {"weights": upload_file(filename, safetensors_bytes() if weights is None else weights), "name": "hostile",
            "class_names": json.dumps([str(i) for i in range(10)]), "input_spec": json.dumps(SPEC16),
            "architecture": "simcnn", "arch_kwargs": json.dumps({"width": 0.125})}
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None}


def post_model(w, client="alice", **kwargs):
    return w.clients[client].post("/api/models/upload/", model_form(w, **kwargs), format="multipart")


def post_dataset(w, filename: str, data: bytes, **fields):
    return w.clients["alice"].post("/api/datasets/upload/", {"archive": upload_file(filename, data), "name": "hostile",
                                                              **fields}, format="multipart")


def zip_bytes(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def png(colour=(200, 30, 30)) -> bytes:
    from engine.archive_builders import image_bytes, solid

    return image_bytes(solid(colour))


def good_zip_entries() -> dict[str, bytes]:
    return {f"{c}/{i}.png": png(colour) for c, colour in (("cat", (200, 0, 0)), ("dog", (0, 200, 0)))
            for i in range(3)}


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in good_zip_entries().items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("cat/link.png")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_with_pickled_objects(sentinel: Path) -> bytes:
    import numpy as np

    labels = np.empty(8, dtype=object)
    labels[:] = [Sentinel(sentinel)] * 8
    return npz_bytes(x=np.zeros((8, 8, 8), np.uint8), y=labels)


def npz_of_objects(sentinel: Path) -> bytes:
    import numpy as np

    images = np.empty(4, dtype=object)
    images[:] = [Sentinel(sentinel)] * 4
    return npz_bytes(x=images)


def torch_save_bytes(payload) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def onnx_with_external_data(location: str) -> bytes:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((256, 10), np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(256 * 10 * 4))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "outside", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def tiny_onnx_bytes() -> bytes:
    from factories import tiny_onnx

    return tiny_onnx(1, 16, 16, 10)


def zeros_bomb() -> bytes:
    return zip_bytes({"cat/a.png": b"\0" * (24 * 1024**2), "dog/b.png": png()})


def forged_sizes_zip() -> bytes:
    from engine.archive_builders import forge_zip_sizes

    return forge_zip_sizes(zip_bytes(good_zip_entries()), 0xFFFFFFF0)


def large_png() -> bytes:
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((5000, 5000), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def predict(w, files, **fields):
    return w.clients["alice"].post(f"/api/builds/{w.build.pk}/predict/", {"images": files, **fields},
                                   format="multipart")


def json_post(w, path, body, client="alice"):
    return w.clients[client].post(path, body, format="json")


def get(w, path, client="alice", **headers):
    return w.clients[client].get(path, **headers)


CASES = [
    # -- model uploads ----------------------------------------------------------------------------------------
    Case("weights-unknown-suffix", "model upload", "weights named `m.exe`", 400, "unsupported_file",
         lambda w: post_model(w, weights=b"MZ\x90\x00", filename="m.exe")),
    Case("safetensors-truncated", "model upload", "a .safetensors cut in half", 400, "invalid_file",
         lambda w: post_model(w, weights=safetensors_bytes()[:5000])),
    Case("safetensors-garbage", "model upload", "a .safetensors of random bytes", 400, "invalid_file",
         lambda w: post_model(w, weights=os.urandom(4096))),
    Case("safetensors-header-overflow", "model upload", "a .safetensors whose header length is 2^63", 400,
         "invalid_file", lambda w: post_model(w, weights=(2**63).to_bytes(8, "little") + b"{}")),
    Case("safetensors-class-count", "model upload", "a 7-class network given 10 class names", 400, "class_mismatch",
         lambda w: post_model(w, weights=safetensors_bytes(7))),
    Case("pt-pickle-side-effect", "model upload", "a .pt pickle whose unpickling calls os.mkdir", 400, "invalid_file",
         lambda w: post_model(w, weights=pickle.dumps({"w": Sentinel(w.sentinel)}), filename="m.pt")),
    Case("pt-torch-save-side-effect", "model upload", "a torch.save checkpoint with a tensor and an os.mkdir payload",
         400, "invalid_file", lambda w: post_model(w, weights=torch_save_bytes(
             {"w": __import__("torch").zeros(2), "x": Sentinel(w.sentinel)}), filename="m.pt")),
    Case("pt-pickle-protocol-0", "model upload", "a protocol-0 (text) pickle calling os.mkdir", 400, "invalid_file",
         lambda w: post_model(w, weights=pickle.dumps(Sentinel(w.sentinel), protocol=0), filename="m.pth")),
    Case("pt-zip-without-pickle", "model upload", "a .pt that is a zip without data.pkl", 400, "invalid_file",
         lambda w: post_model(w, weights=zip_bytes({"archive/other.txt": b"x"}), filename="m.pt")),
    Case("pt-truncated", "model upload", "a torch.save checkpoint cut in half", 400, "invalid_file",
         lambda w: post_model(w, weights=(lambda b: b[: len(b) // 2])(torch_save_bytes({"w": __import__("torch")
                                                                                       .zeros(4096)})),
                              filename="m.pt")),
    Case("onnx-garbage", "model upload", "an .onnx of random bytes", 400, "invalid_file",
         lambda w: post_model(w, weights=os.urandom(2048), filename="m.onnx")),
    Case("onnx-truncated", "model upload", "an .onnx cut in half", 400, "invalid_file",
         lambda w: post_model(w, weights=(lambda b: b[: len(b) // 2])(tiny_onnx_bytes()), filename="m.onnx")),
    Case("onnx-external-data-traversal", "model upload", "an .onnx whose weight lives in `../../../etc/passwd`", 400,
         "invalid_file", lambda w: post_model(w, weights=onnx_with_external_data("../../../etc/passwd"),
                                              filename="m.onnx")),
    Case("onnx-external-data-absolute", "model upload", "an .onnx whose weight lives in `/etc/passwd`", 400,
         "invalid_file", lambda w: post_model(w, weights=onnx_with_external_data("/etc/passwd"), filename="m.onnx")),
    Case("class-names-not-json", "model upload", "class_names `[0, 1` (broken JSON)", 400, "invalid",
         lambda w: post_model(w, class_names="[0, 1")),
    Case("class-names-repeated", "model upload", "class_names with a name twice", 400, "invalid",
         lambda w: post_model(w, class_names=json.dumps(["a", "a", "b"]))),
    Case("input-spec-huge", "model upload", "input_spec of 100,000 x 100,000 pixels", 400, "invalid",
         lambda w: post_model(w, input_spec=json.dumps({**SPEC16, "height": 100_000, "width": 100_000}))),
    Case("input-spec-vs-dataset", "model upload", "a 32x32 model named with a 16x16 data set", 400, "input_mismatch",
         lambda w: post_model(w, input_spec=json.dumps({**SPEC16, "height": 32, "width": 32}), dataset=w.dataset.pk)),
    Case("classes-vs-dataset", "model upload", "3 class names with a 10-class data set", 400, "class_mismatch",
         lambda w: post_model(w, class_names=json.dumps(["a", "b", "c"]), dataset=w.dataset.pk)),
    Case("unknown-architecture", "model upload", "architecture `lenet9`", 400, "unknown_architecture",
         lambda w: post_model(w, architecture="lenet9")),
    Case("negative-width", "model upload", "arch_kwargs width -1", 400, "invalid_arch_kwargs",
         lambda w: post_model(w, arch_kwargs=json.dumps({"width": -1}))),
    Case("upload-over-limit", "model upload", "weights over HUB_MAX_UPLOAD_BYTES (set to 64 KB here)", 413,
         "upload_too_large", lambda w: (setattr(w.settings, "HUB_MAX_UPLOAD_BYTES", 64 * 1024),
                                        post_model(w, weights=os.urandom(100_000)))[1]),
    # -- data set uploads -------------------------------------------------------------------------------------
    Case("zip-slip", "data set upload", "an image zip with member `../evil/a.png`", 400, "invalid_file",
         lambda w: post_dataset(w, "d.zip", zip_bytes({**good_zip_entries(), "../evil/a.png": png()}))),
    Case("zip-absolute-path", "data set upload", "an image zip with member `/etc/cron.d/a.png`", 400, "invalid_file",
         lambda w: post_dataset(w, "d.zip", zip_bytes({**good_zip_entries(), "/etc/cron.d/a.png": png()}))),
    Case("zip-symlink", "data set upload", "an image zip with a symbolic link to /etc/passwd", 400, "invalid_file",
         lambda w: post_dataset(w, "d.zip", symlink_zip())),
    Case("zip-bomb-ratio", "data set upload", "an image zip with 24 MB of zeros (ratio > 200)", 400, "invalid_file",
         lambda w: post_dataset(w, "d.zip", zeros_bomb())),
    Case("zip-forged-sizes", "data set upload", "an image zip whose headers declare 4 GB per member", 400,
         "invalid_file", lambda w: post_dataset(w, "d.zip", forged_sizes_zip())),
    Case("zip-truncated", "data set upload", "an image zip cut in half", 400, "invalid_file",
         lambda w: post_dataset(w, "d.zip", (lambda b: b[: len(b) // 2])(zip_bytes(good_zip_entries())))),
    Case("zip-loose-file", "data set upload", "an image zip with an image outside any class folder", 400,
         "invalid_file", lambda w: post_dataset(w, "d.zip", zip_bytes({**good_zip_entries(), "a.png": png()}))),
    Case("npz-float-images", "data set upload", "an .npz whose images are float32", 400, "invalid_file",
         lambda w: post_dataset(w, "d.npz", npz_bytes(x=__import__("numpy").zeros((8, 8, 8), "float32"),
                                                      y=__import__("numpy").arange(8) % 2))),
    Case("npz-without-labels", "data set upload", "an .npz without `y`", 400, "invalid_file",
         lambda w: post_dataset(w, "d.npz", npz_bytes(x=__import__("numpy").zeros((8, 8, 8), "uint8")))),
    Case("npz-pickled-objects", "data set upload", "an .npz whose labels are pickled objects calling os.mkdir", 400,
         "invalid_file", lambda w: post_dataset(w, "d.npz", npz_with_pickled_objects(w.sentinel))),
    Case("dataset-garbage", "data set upload", "random bytes as a data set", 400, "invalid_file",
         lambda w: post_dataset(w, "d.bin", os.urandom(4096))),
    Case("dataset-bad-channels", "data set upload", "channels 2", 400, "invalid",
         lambda w: post_dataset(w, "d.zip", zip_bytes(good_zip_entries()), channels=2)),
    # -- commands ---------------------------------------------------------------------------------------------
    Case("decompose-huge-cycles", "command", "decompose with overrides cycles 10^9", 400, "invalid",
         lambda w: json_post(w, f"/api/models/{w.model.pk}/decompose/", {"overrides": {"cycles": 10**9}})),
    Case("train-epochs-string", "command", "train with epochs \"2\"", 400, "invalid",
         lambda w: json_post(w, "/api/models/train/", {"dataset": w.dataset.pk, "name": "t", "architecture": "simcnn",
                                                       "config": {"epochs": "2"}})),
    Case("train-seed-overflow", "command", "train with seed 2^64", 400, "invalid",
         lambda w: json_post(w, "/api/models/train/", {"dataset": w.dataset.pk, "name": "t", "architecture": "simcnn",
                                                       "config": {"seed": 2**64}})),
    Case("train-huge-width", "command", "train with arch_kwargs width 40", 400, "invalid_arch_kwargs",
         lambda w: json_post(w, "/api/models/train/", {"dataset": w.dataset.pk, "name": "t", "architecture": "simcnn",
                                                       "arch_kwargs": {"width": 40}})),
    Case("device-nobody-serves", "command", "evaluate on device cuda:99", 400, "device_unavailable",
         lambda w: json_post(w, f"/api/models/{w.model.pk}/evaluate/", {"device": "cuda:99"})),
    Case("build-one-module", "command", "a build of one module", 400, "no_classes",
         lambda w: json_post(w, "/api/builds/compose/", {"modules": [w.modules[0].pk]})),
    Case("build-same-module-twice", "command", "a build naming one module twice", 400, "duplicate_classes",
         lambda w: json_post(w, "/api/builds/compose/", {"modules": [w.modules[0].pk, w.modules[0].pk]})),
    Case("build-refit-ensemble", "command", "refit with the ensemble strategy (contradictory)", 400, "invalid",
         lambda w: json_post(w, "/api/builds/compose/", {"modules": [w.modules[0].pk, w.modules[1].pk],
                                                         "strategy": "ensemble", "refit": True})),
    Case("patch-onnx-model", "command", "patch an ONNX entry", 400, "not_supported",
         lambda w: json_post(w, "/api/builds/patch/", {"model": w.onnx_model.pk, "module": w.modules[0].pk})),
    Case("malformed-json", "command", "a body that is not JSON", 400, "malformed_request",
         lambda w: w.clients["alice"].post("/api/builds/estimate/", "{modules: [1,", content_type="application/json")),
    # -- other users' entries and jobs ------------------------------------------------------------------------
    Case("private-model-detail", "privacy", "another user's private model", 404, "not_found",
         lambda w: get(w, f"/api/models/{w.bob_private.model.pk}/")),
    Case("private-build-download", "privacy", "download another user's private build", 404, "not_found",
         lambda w: get(w, f"/api/builds/{w.bob_private.build.pk}/onnx/")),
    Case("private-module-in-build", "privacy", "a build naming another user's private module (reads as missing)",
         404, "not_found",
         lambda w: json_post(w, "/api/builds/compose/", {"modules": [w.modules[0].pk,
                                                                     w.bob_private.modules[0].pk]})),
    Case("private-model-decompose", "privacy", "decompose another user's private model", 404, "not_found",
         lambda w: json_post(w, f"/api/models/{w.bob_private.model.pk}/decompose/", {})),
    Case("other-users-job", "privacy", "read another user's job", 404, "not_found",
         lambda w: get(w, f"/api/jobs/{w.bob_job.pk}/")),
    Case("cancel-other-users-job", "privacy", "cancel another user's job", 404, "not_found",
         lambda w: json_post(w, f"/api/jobs/{w.bob_job.pk}/cancel/", {})),
    # -- tokens -----------------------------------------------------------------------------------------------
    Case("unknown-token", "tokens", "a made-up token", 401, "authentication_failed",
         lambda w: get(w, "/api/models/", client="unknown")),
    Case("expired-token", "tokens", "an expired token", 401, "authentication_failed",
         lambda w: get(w, "/api/models/", client="expired")),
    Case("revoked-token", "tokens", "a revoked token", 401, "authentication_failed",
         lambda w: get(w, "/api/models/", client="revoked")),
    Case("read-token-writes", "tokens", "a read token uploading weights", 403, "insufficient_scope",
         lambda w: post_model(w, client="read")),
    Case("anonymous-writes", "tokens", "no token, a build request", 401, "not_authenticated",
         lambda w: json_post(w, "/api/builds/compose/", {"modules": [w.modules[0].pk, w.modules[1].pk]},
                             client="anon")),
    # -- predictions ------------------------------------------------------------------------------------------
    Case("predict-not-an-image", "prediction", "predict with a text file named `.png`", 400, "invalid_file",
         lambda w: predict(w, [upload_file("notes.png", b"just text")])),
    Case("predict-pixel-bomb", "prediction", "predict with a small PNG declaring 5,000 x 5,000 pixels", 400,
         "invalid_file", lambda w: predict(w, [upload_file("huge.png", large_png())])),
    Case("predict-npz-objects", "prediction", "predict with an .npz whose `x` is pickled objects calling os.mkdir",
         400, "invalid_file", lambda w: predict(w, [upload_file("b.npz", npz_of_objects(w.sentinel))])),
    Case("predict-top-k-past-classes", "prediction", "predict with top_k larger than the build's classes", 400,
         "invalid", lambda w: predict(w, [upload_file("a.png", png())], top_k=99)),
    Case("predict-private-build", "prediction", "predict with another user's private build", 404, "not_found",
         lambda w: w.clients["alice"].post(f"/api/builds/{w.bob_private.build.pk}/predict/",
                                           {"images": [upload_file("a.png", png())]}, format="multipart")),
    # -- downloads --------------------------------------------------------------------------------------------
    Case("range-past-end", "download", "Range: bytes=10000000- on a small file", 416, "range_not_satisfiable",
         lambda w: get(w, f"/api/builds/{w.build.pk}/onnx/", HTTP_RANGE="bytes=10000000-")),
    Case("range-suffix-zero", "download", "Range: bytes=-0", 416, "range_not_satisfiable",
         lambda w: get(w, f"/api/builds/{w.build.pk}/onnx/", HTTP_RANGE="bytes=-0")),
]


# -- the world each case runs in -------------------------------------------------------------------------------

@dataclass
class World:
    clients: dict
    dataset: object
    model: object
    onnx_model: object
    modules: list
    build: object
    bob_private: object
    bob_job: object
    sentinel: Path
    settings: object


def client_with_token(raw: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def world(user, other_user, tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    from accounts.models import APIToken
    from accounts.services import create_token, revoke_token
    from factories import chain, make_build, make_dataset, make_job, make_model, store, tiny_onnx

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    alice = chain(user, tag="alice")
    dataset = make_dataset(user, "digits-16")
    onnx_model = make_model(user, alice.dataset, "an-onnx", job=None, format="onnx", architecture="",
                            weights=store(tiny_onnx(1, 16, 16, 3), "application/onnx"))
    bob_private = chain(other_user, tag="bob", visibility="private")
    expired, expired_raw = create_token(user=user, name="expired", scope="write")
    APIToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_raw = create_token(user=user, name="revoked", scope="write")
    revoke_token(user=user, token_id=revoked.pk)
    clients = {"alice": client_with_token(create_token(user=user, name="w", scope="write")[1]),
               "read": client_with_token(create_token(user=user, name="r", scope="read")[1]),
               "unknown": client_with_token("hub_" + "x" * 43), "expired": client_with_token(expired_raw),
               "revoked": client_with_token(revoked_raw), "anon": APIClient()}
    build = make_build(user, alice.modules[:2], name="alice-two", cache_key="b" * 64)
    return World(clients=clients, dataset=dataset, model=alice.model, onnx_model=onnx_model, modules=alice.modules,
                 build=build, bob_private=bob_private, bob_job=make_job(other_user, status="queued"),
                 sentinel=tmp_path / "sentinel-created-by-a-payload", settings=settings)


def footprint(settings_obj) -> dict:
    """Rows of every kind and the files under the media root and the upload temporary directory."""
    from accounts.models import APIToken
    from modules_registry.models import BaseModel, Blob, Build, Dataset, Decomposition, Evaluation, Job, Module

    rows = {m.__name__: m.objects.count() for m in (APIToken, BaseModel, Blob, Build, Dataset, Decomposition,
                                                  Evaluation, Job, Module)}
    files = {str(p) for root in (Path(settings_obj.MEDIA_ROOT), Path(settings_obj.FILE_UPLOAD_TEMP_DIR))
             for p in root.rglob("*") if p.is_file()}
    return {"rows": rows, "files": files}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_request_is_a_clean_4xx(case, world, settings):
    from api_helpers import assert_error

    before = footprint(settings)
    response = case.send(world)
    body = assert_error(response, case.status, case.code)
    assert len(body["message"]) > 15, body
    assert footprint(settings) == before, "the request left a row or a file behind"
    assert not world.sentinel.exists(), "a payload ran"


def test_there_are_at_least_40_cases_with_distinct_names():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


def doc_table() -> str:
    rows = ["| # | group | case | hostile request | answer |", "|---|---|---|---|---|"]
    for number, case in enumerate(CASES, start=1):
        rows.append(f"| {number} | {case.group} | `{case.name}` | {case.what} | {case.status} `{case.code}` |")
    return "\n".join(rows)


def test_the_doc_lists_every_case_and_its_answer():
    text = DOC.read_text()
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == doc_table(), "docs/hostile-input.md is out of date: run python tests/api/test_hostile_battery.py"


if __name__ == "__main__":  # rewrite the doc's table from CASES
    text = DOC.read_text()
    head, rest = text.split(TABLE_START, 1)
    DOC.write_text(f"{head}{TABLE_START}\n{doc_table()}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}")
    print(f"wrote {len(CASES)} cases to {DOC.relative_to(ROOT)}", file=sys.stderr)
