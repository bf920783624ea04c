"""Commands answer 202 with the job; the worker does the work; bad input is a 4xx with a stable code."""
import json

import pytest
import torch
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as save_safetensors

from modules_registry.api.throttles import UploadsThrottle
from modules_registry.models import BaseModel, Job
from splitter_engine.architectures import ArchSpec, build_model

DIGITS16 = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}
CLASSES = [str(i) for i in range(10)]


def weights_file(name="m.safetensors"):
    torch.manual_seed(0)
    state = build_model(ArchSpec("simcnn", 10, 1, {"width": 0.125})).state_dict()
    return SimpleUploadedFile(name, save_safetensors(state))


def upload_form(**overrides):
    form = {"weights": weights_file(), "name": "uploaded", "class_names": json.dumps(CLASSES),
            "input_spec": json.dumps(DIGITS16), "architecture": "simcnn", "arch_kwargs": '{"width": 0.125}'}
    form.update(overrides)
    return form


def finished(client, job_id):
    job = client.get(f"/api/jobs/{job_id}/").json()
    assert job["is_terminal"], job
    return job


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_journey_import_upload_evaluate_train(alice_write, drain_jobs):
    response = alice_write.post("/api/datasets/import/", {"builtin": "digits-16"}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["kind"] == "import_dataset"
    drain_jobs()
    job = finished(alice_write, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    dataset = alice_write.get(job["result_urls"]["dataset"]).json()
    assert dataset["name"] == "digits-16" and dataset["num_classes"] == 10

    response = alice_write.post("/api/models/upload/", upload_form(dataset=dataset["id"]), format="multipart")
    assert response.status_code == 202, response.content
    drain_jobs()
    job = finished(alice_write, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    model = alice_write.get(job["result_urls"]["model"]).json()
    assert model["architecture"] == "simcnn" and model["dataset"]["id"] == dataset["id"]
    assert len(model["weights"]["sha256"]) == 64

    response = alice_write.post(f"/api/models/{model['id']}/evaluate/", {"split": "test"}, format="json")
    assert response.status_code == 202, response.content
    response = alice_write.post("/api/models/train/", {
        "dataset": dataset["id"], "name": "trained", "architecture": "simcnn", "arch_kwargs": {"width": 0.125},
        "config": {"epochs": 1, "classes": ["0", "1", "2"]}, "device": "cpu"}, format="json")
    assert response.status_code == 202, response.content
    drain_jobs()
    statuses = {j["kind"]: j["status"] for j in alice_write.get("/api/jobs/").json()["results"]}
    assert statuses["evaluate"] == "succeeded" and statuses["train"] == "succeeded", statuses
    detail = alice_write.get(f"/api/models/{model['id']}/").json()
    assert len(detail["evaluations"]) == 1
    assert BaseModel.objects.filter(name="trained").exists()

    response = alice_write.post(f"/api/models/{model['id']}/decompose/",
                                {"method": "gradsplitter", "preset": "fast"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "decompose"  # run end to end in tests/client (when the worker has it)


@pytest.mark.django_db
@pytest.mark.parametrize("overrides,status,code,field", [
    ({"name": ""}, 400, "invalid", "name"),
    ({"class_names": "[1, 2"}, 400, "invalid", "class_names"),
    ({"input_spec": "[]"}, 400, "invalid", "input_spec"),
    ({"input_spec": json.dumps({"channels": 1})}, 400, "invalid", "input_spec"),
    ({"architecture": "nonexistent-net"}, 400, "unknown_architecture", "architecture"),
    ({"weights": SimpleUploadedFile("notes.txt", b"hello")}, 400, "unsupported_file", "weights"),
    ({"weights": SimpleUploadedFile("bad.safetensors", b"\x00" * 64)}, 400, "invalid_file", "weights"),
    ({"dataset": "12345"}, 400, "invalid", "dataset"),
])
def test_bad_model_uploads(alice_write, overrides, status, code, field):
    body = assert_error(alice_write.post("/api/models/upload/", upload_form(**overrides), format="multipart"),
                        status, code)
    assert field in json.dumps(body["details"])
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_name_is_409(user, alice_write):
    from factories import chain
    chain(user, tag="dup")
    assert_error(alice_write.post("/api/models/upload/", upload_form(name="model-dup"), format="multipart"),
                 409, "duplicate_name")


@pytest.mark.django_db
def test_too_large_upload_is_413(alice_write, settings):
    settings.HUB_MAX_UPLOAD_BYTES = 1000
    body = assert_error(alice_write.post("/api/models/upload/", upload_form(), format="multipart"), 413,
                        "upload_too_large")
    assert body["details"]["limit_bytes"] == 1000


@pytest.mark.django_db
def test_uploads_are_throttled(alice_write, monkeypatch):
    monkeypatch.setattr(UploadsThrottle, "rate", "1/hour", raising=False)
    assert alice_write.post("/api/models/upload/", upload_form(), format="multipart").status_code == 202
    response = alice_write.post("/api/models/upload/", upload_form(name="again"), format="multipart")
    body = assert_error(response, 429, "throttled")
    assert body["details"]["retry_after_seconds"] > 0 and int(response["Retry-After"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize("body,code", [
    ({"builtin": "imagenet"}, "invalid"), ({}, "invalid"), ({"builtin": "digits-16", "visibility": "x"}, "invalid"),
])
def test_bad_imports(alice_write, body, code):
    assert_error(alice_write.post("/api/datasets/import/", body, format="json"), 400, code)


@pytest.mark.django_db
def test_commands_validate_against_the_services(user, alice_write):
    from factories import chain, make_dataset
    c = chain(user, tag="cmd")
    other = make_dataset(user, "other", class_names=["x", "y"], input_spec=DIGITS16, class_counts={},
                         arrays=c.dataset.arrays)
    assert_error(alice_write.post(f"/api/models/{c.model.pk}/decompose/", {"dataset": other.pk}, format="json"),
                 400, "class_mismatch")
    assert_error(alice_write.post(f"/api/models/{c.model.pk}/decompose/", {"method": "magic"}, format="json"), 400,
                 "invalid")
    assert_error(alice_write.post(f"/api/models/{c.model.pk}/evaluate/", {"device": "tpu"}, format="json"), 400,
                 "invalid")
    assert_error(alice_write.post("/api/models/train/", {"dataset": c.dataset.pk, "name": "t",
                                                         "architecture": "simcnn", "config": {"epochs": 0}},
                                  format="json"), 400, "invalid")


@pytest.mark.django_db(transaction=True)
def test_cancel_a_queued_job_then_it_has_ended(alice_write, drain_jobs):
    job = alice_write.post("/api/datasets/import/", {"builtin": "digits-16"}, format="json").json()
    response = alice_write.post(f"/api/jobs/{job['id']}/cancel/")
    assert response.status_code == 202 and response.json()["cancel_requested"] is True
    drain_jobs()
    assert finished(alice_write, job["id"])["status"] == "cancelled"
    assert_error(alice_write.post(f"/api/jobs/{job['id']}/cancel/"), 409, "job_ended")
