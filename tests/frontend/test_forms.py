"""Forms validate and show each error beside the field that caused it; nothing is a 500."""
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from modules_registry.models import Job

pytestmark = pytest.mark.django_db


def _field_error(html: str, field_id: str) -> str:
    """The error text rendered inside the field group of ``field_id``."""
    match = re.search(rf'<div class="field has-error">(?:(?!<div class="field).)*?id="{field_id}"', html, re.S)
    assert match, f"no error next to {field_id}"
    return re.sub(r"<[^>]+>", " ", match.group(0))


def test_builtin_import_starts_a_job_and_opens_its_page(alice_client):
    response = alice_client.post(reverse("frontend:dataset_new"), {"bi-builtin": "digits-16", "bi-name": "",
                                                                   "bi-visibility": "public"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("frontend:job_detail", args=[job.pk])
    assert job.kind == "import_dataset" and job.params["builtin"] == "digits-16"


def test_dataset_upload_rejects_a_file_that_is_no_archive(alice_client):
    junk = SimpleUploadedFile("cats.zip", b"this is not a zip file")
    response = alice_client.post(reverse("frontend:dataset_new"), {
        "up-name": "cats", "up-archive": junk, "up-format": "auto", "up-seed": "0", "up-visibility": "public"})
    assert response.status_code == 400
    assert "zip" in _field_error(response.content.decode(), "id_up-archive").lower()
    assert Job.objects.count() == 0


def test_dataset_upload_needs_a_name_and_a_file(alice_client):
    response = alice_client.post(reverse("frontend:dataset_new"), {"up-format": "auto", "up-seed": "0",
                                                                   "up-visibility": "public"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required" in _field_error(html, "id_up-name")
    assert "This field is required" in _field_error(html, "id_up-archive")


def test_model_upload_errors_sit_next_to_their_fields(alice_client, hub):
    weights = SimpleUploadedFile("model.bin", b"\x00" * 64)
    response = alice_client.post(reverse("frontend:model_new"), {
        "name": "digits-simcnn", "weights": weights, "architecture": "simcnn", "visibility": "public"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "class names" in _field_error(html, "id_class_names")
    assert "input size" in _field_error(html, "id_channels")


def test_model_upload_service_error_is_shown_beside_the_weights(alice_client, hub):
    weights = SimpleUploadedFile("model.bin", b"\x00" * 64)
    response = alice_client.post(reverse("frontend:model_new"), {
        "name": "new-model", "weights": weights, "architecture": "simcnn", "dataset": hub["dataset"].pk,
        "visibility": "public"})
    assert response.status_code == 400
    assert ".safetensors" in _field_error(response.content.decode(), "id_weights")


def test_model_upload_duplicate_name(alice_client, hub):
    weights = SimpleUploadedFile("model.safetensors", b"\x00" * 64)
    response = alice_client.post(reverse("frontend:model_new"), {
        "name": "digits-simcnn", "weights": weights, "architecture": "simcnn", "dataset": hub["dataset"].pk,
        "visibility": "public"})
    assert response.status_code == 400
    assert "already have a model" in _field_error(response.content.decode(), "id_name")


def test_decompose_form_rejects_bad_json_and_unknown_preset(alice_client, hub):
    url = reverse("frontend:model_decompose", args=[hub["model"].pk])
    response = alice_client.post(url, {"dec-method": "gradsplitter", "dec-preset": "fast", "dec-overrides": "{nope",
                                       "dec-seed": "0", "dec-device": "cpu"})
    assert response.status_code == 400
    assert "not valid JSON" in _field_error(response.content.decode(), "id_dec-overrides")
    response = alice_client.post(url, {"dec-method": "gradsplitter", "dec-preset": "no-such-preset",
                                       "dec-overrides": "", "dec-seed": "0", "dec-device": "cpu"})
    assert response.status_code == 400 and Job.objects.filter(kind="decompose").count() == 0


def test_decompose_form_starts_a_job(alice_client, hub):
    response = alice_client.post(reverse("frontend:model_decompose", args=[hub["model"].pk]), {
        "dec-method": "gradsplitter", "dec-preset": "fast", "dec-overrides": "", "dec-seed": "3", "dec-device": "cpu"})
    job = Job.objects.get(kind="decompose")
    assert response.status_code == 302 and job.params["seed"] == 3 and job.params["model"] == hub["model"].pk


def test_evaluate_form_starts_a_job(alice_client, hub):
    response = alice_client.post(reverse("frontend:model_evaluate", args=[hub["model"].pk]), {
        "eval-dataset": "", "eval-split": "test", "eval-device": "cpu"})
    assert response.status_code == 302
    assert Job.objects.filter(kind="evaluate", params__model=hub["model"].pk).exists()


def test_train_form_validates(alice_client, hub):
    response = alice_client.post(reverse("frontend:model_train"), {
        "dataset": hub["dataset"].pk, "name": "", "architecture": "simcnn", "arch_kwargs": "[1]", "epochs": "0",
        "device": "cpu", "visibility": "public"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "required" in _field_error(html, "id_name")
    assert "JSON object" in _field_error(html, "id_arch_kwargs")
    assert "greater than or equal to 1" in _field_error(html, "id_epochs")
