"""#19: request bodies over Django's in-memory limit (DATA_UPLOAD_MAX_MEMORY_SIZE: a 3 MB description, a 10 MB
name) got Django's HTML RequestDataTooBig page (the debug page, with settings, when DEBUG is on) instead of the
API's error shape; too many fields likewise."""
import json

import pytest
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile

from modules_registry.models import Job


@pytest.mark.django_db
def test_a_json_body_over_the_memory_limit_is_a_413_in_the_api_shape(alice_write, settings):
    settings.DEBUG = True  # the debug page would have shown the settings
    body = json.dumps({"dataset": 1, "name": "t", "architecture": "simcnn", "description": "d" * 3_000_000})
    response = alice_write.post("/api/models/train/", body, content_type="application/json")
    error = assert_error(response, 413, "request_too_large")
    assert error["details"]["limit_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in error["message"] and "SECRET_KEY" not in response.content.decode()
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_a_form_field_over_the_memory_limit_is_a_413_in_the_api_shape(alice_write):
    form = {"weights": SimpleUploadedFile("m.safetensors", b"x" * 100), "name": "n" * 10_000_000,
            "class_names": "a,b", "input_spec": "{}"}
    response = alice_write.post("/api/models/upload/", form, format="multipart")
    assert_error(response, 413, "request_too_large")
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_too_many_fields_is_a_413_in_the_api_shape(alice_write, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    form = {"weights": SimpleUploadedFile("m.safetensors", b"x"), **{f"f{i}": "x" for i in range(20)}}
    error = assert_error(alice_write.post("/api/models/upload/", form, format="multipart"), 413, "request_too_large")
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in error["message"] and error["details"]["limit_fields"] == 10
