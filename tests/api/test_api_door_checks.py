"""Everything that can be checked before a job is queued is checked then: a bad request is a 400 that says
what to fix, and no job, never a 202 followed by a failed job. Messages name the right field once."""
import io
import json

import numpy as np
import pytest
import torch
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as save_safetensors

from modules_registry.models import Job
from splitter_engine.architectures import ArchSpec, build_model

SPEC = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}


def model_upload(**overrides) -> dict:
    torch.manual_seed(0)
    state = build_model(ArchSpec("simcnn", 3, 1, {"width": 0.125})).state_dict()
    form = {"weights": SimpleUploadedFile("m.safetensors", save_safetensors(state)), "name": "m",
            "class_names": '["a", "b", "c"]', "input_spec": json.dumps(SPEC), "architecture": "simcnn"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.mark.django_db
def test_arch_kwargs_may_be_omitted_as_the_schema_says(alice_write):
    form = model_upload()  # narrow weights: omitted arch_kwargs means the default width, which they do not fit
    assert "arch_kwargs" not in form
    body = assert_error(alice_write.post("/api/models/upload/", form, format="multipart"), 400, "invalid_file")
    assert body["message"].startswith("the weights do not fit architecture 'simcnn': shape mismatches")
    assert body["details"] == {"field": "weights"} and Job.objects.count() == 0
    form = model_upload(arch_kwargs='{"width": 0.125}')
    response = alice_write.post("/api/models/upload/", form, format="multipart")
    assert response.status_code == 202, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("arch_kwargs,message", [
    ('{"depth": 3}', "architecture 'simcnn' does not take ['depth']; it takes dropout (default 0.5), width"),
    ('{"width": "narrow"}', "width must be a number, got 'narrow'"),
])
def test_arch_kwargs_are_checked_before_the_job(alice_write, arch_kwargs, message):
    body = assert_error(alice_write.post("/api/models/upload/", model_upload(arch_kwargs=arch_kwargs),
                                         format="multipart"), 400, "invalid_arch_kwargs")
    assert message in body["message"] and body["details"] == {"field": "arch_kwargs"}
    assert Job.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("architecture,problem", [("", "no architecture given"),
                                                  ("my_net", "unknown architecture 'my_net'")])
def test_weights_without_a_known_architecture_are_told_what_to_give(alice_write, architecture, problem):
    body = assert_error(alice_write.post("/api/models/upload/", model_upload(architecture=architecture),
                                         format="multipart"), 400, "unknown_architecture")
    assert body["message"].startswith(f"{problem}; PyTorch weights are loaded into the architecture they were")
    assert "shufflenet_v2_x0_5" in body["message"] and "an .onnx export needs none" in body["message"]


@pytest.mark.django_db
def test_training_arch_kwargs_and_config_are_checked_before_the_job_and_said_once(user, alice_write):
    from factories import chain

    dataset = chain(user, tag="train").dataset
    request = {"dataset": dataset.pk, "name": "t", "architecture": "simcnn"}
    body = assert_error(alice_write.post("/api/models/train/", {**request, "arch_kwargs": {"depth": 3}},
                                         format="json"), 400, "invalid_arch_kwargs")
    assert "does not take ['depth']" in body["message"]
    body = assert_error(alice_write.post("/api/models/train/", {**request, "config": {"epochs": 0}}, format="json"),
                        400, "invalid")
    assert body["message"] == "training config: epochs must be between 1 and 1,000, got 0"
    assert body["details"] == {"field": "config", "setting": "epochs"}
    body = assert_error(alice_write.post("/api/models/train/", {**request, "config": {"epoch": 3}}, format="json"),
                        400, "invalid")
    assert body["message"].count("training config") == 1 and "unknown option(s) ['epoch']" in body["message"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_preset_is_reported_on_the_preset_field(user, alice_write):
    from factories import chain

    model = chain(user, tag="preset").model
    body = assert_error(alice_write.post(f"/api/models/{model.pk}/decompose/", {"preset": "fastest"}, format="json"),
                        400, "invalid")
    assert body["details"] == {"field": "preset"} and "unknown GradSplitter preset 'fastest'" in body["message"]
    body = assert_error(alice_write.post(f"/api/models/{model.pk}/decompose/", {"overrides": {"epochz": 1}},
                                         format="json"), 400, "invalid")
    assert body["details"] == {"field": "overrides"}  # an unknown name: no setting of that name to point at
    assert Job.objects.count() == 0


def npz_upload(**arrays) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return SimpleUploadedFile("data.npz", buffer.getvalue())


@pytest.mark.django_db
def test_a_float_npz_is_refused_before_the_job(alice_write):
    archive = npz_upload(x=np.random.rand(8, 8, 8).astype(np.float32), y=np.arange(8) % 2)
    body = assert_error(alice_write.post("/api/datasets/upload/", {"archive": archive, "name": "floats"},
                                         format="multipart"), 400, "invalid_file")
    assert "array 'x' has dtype float32; images must be uint8" in body["message"]
    assert body["details"] == {"field": "archive"} and Job.objects.count() == 0


@pytest.mark.django_db
def test_a_good_npz_with_class_names_is_queued(alice_write):
    archive = npz_upload(x=np.zeros((8, 8, 8), np.uint8), y=np.arange(8) % 2, class_names=np.array(["cat", "dog"]))
    response = alice_write.post("/api/datasets/upload/", {"archive": archive, "name": "ok"}, format="multipart")
    assert response.status_code == 202, response.content
