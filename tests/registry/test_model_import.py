"""Model uploads: good files become BaseModels; every bad file is refused with a clear message and leaves
no row and no file behind."""
import io
import os
import pickle
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as save_safetensors

from modules_registry.errors import HubError
from modules_registry.models import BaseModel, Blob, Job
from modules_registry.services.models import upload_model
from splitter_engine.architectures import ArchSpec, build_model

DIGITS16 = {"channels": 1, "height": 16, "width": 16, "mean": [0.2], "std": [0.3]}
CLASSES = [str(i) for i in range(10)]
ARCH = {"architecture": "simcnn", "arch_kwargs": {"width": 0.125}}


def simcnn_state(num_classes=10):
    torch.manual_seed(0)
    return build_model(ArchSpec("simcnn", num_classes, 1, {"width": 0.125})).state_dict()


def upload(user, name, filename, data, **overrides):
    fields = dict(owner=user, weights=SimpleUploadedFile(filename, data), name=name, class_names=CLASSES,
                  input_spec=DIGITS16, **ARCH)
    fields.update(overrides)
    return upload_model(**fields)


def staged_files(media: Path) -> list[Path]:
    return list((media / "uploads").glob("*")) if (media / "uploads").exists() else []


@pytest.mark.django_db(transaction=True)
def test_safetensors_upload_becomes_a_base_model(user, drain_jobs, isolated_media):
    job = upload(user, "good", "good.safetensors", save_safetensors(simcnn_state()))
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    model = BaseModel.objects.get(pk=job.result["model"])
    assert model.decomposable and model.architecture == "simcnn" and model.class_names == CLASSES
    assert model.params == sum(t.numel() for k, t in simcnn_state().items() if "running" not in k
                               and "num_batches" not in k)
    assert model.flops > 0 and model.job_id == job.pk
    assert staged_files(isolated_media) == []


@pytest.mark.django_db(transaction=True)
def test_state_dict_pt_is_converted_to_safetensors_in_the_worker(user, drain_jobs):
    buffer = io.BytesIO()
    torch.save(simcnn_state(), buffer)
    job = upload(user, "from-pt", "model.pt", buffer.getvalue())
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert BaseModel.objects.get(pk=job.result["model"]).weights.media_type == "application/safetensors"


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.django_db(transaction=True)
def test_malicious_pickle_is_refused_at_upload_without_running_it(user, tmp_path, isolated_media):
    marker = tmp_path / "pwned"
    with pytest.raises(HubError, match="python objects other than tensors") as refused:
        upload(user, "evil", "evil.pt", pickle.dumps({"weight": Exploit(marker)}))
    assert refused.value.code == "invalid_file" and "imports posix.system" in str(refused.value)
    assert not marker.exists()
    assert Job.objects.count() == 0 and BaseModel.objects.count() == 0 and Blob.objects.count() == 0
    assert staged_files(isolated_media) == []


@pytest.mark.django_db(transaction=True)
def test_truncated_safetensors_is_refused_at_upload(user, isolated_media):
    data = save_safetensors(simcnn_state())
    with pytest.raises(HubError, match="truncated"):
        upload(user, "cut", "cut.safetensors", data[: len(data) // 2])
    assert Job.objects.count() == 0 and staged_files(isolated_media) == []


@pytest.mark.django_db(transaction=True)
def test_unknown_architecture_is_refused_at_upload(user):
    with pytest.raises(HubError, match="unknown architecture 'lenet9'"):
        upload(user, "x", "x.safetensors", save_safetensors(simcnn_state()), architecture="lenet9")
    assert Job.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_class_count_mismatch_is_refused_at_upload_with_a_clear_message(user, isolated_media):
    """The safetensors header's shapes are checked against the architecture built on the meta device."""
    with pytest.raises(HubError, match="class-count mismatch") as refused:
        upload(user, "seven", "seven.safetensors", save_safetensors(simcnn_state(num_classes=7)))
    assert refused.value.code == "class_mismatch" and "7 classes" in str(refused.value)
    assert Job.objects.count() == 0 and BaseModel.objects.count() == 0 and Blob.objects.count() == 0
    assert staged_files(isolated_media) == []


@pytest.mark.django_db(transaction=True)
def test_wrong_width_is_refused_at_upload_naming_the_mismatched_keys(user):
    with pytest.raises(HubError, match="shape mismatches") as refused:
        upload(user, "wide", "wide.safetensors", save_safetensors(simcnn_state()), arch_kwargs={"width": 0.25})
    assert refused.value.code == "invalid_file" and "features" in str(refused.value)
    assert Job.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_onnx_upload_is_stored_but_not_decomposable(user, drain_jobs):
    from factories import tiny_onnx
    job = upload(user, "onnx", "m.onnx", tiny_onnx(1, 16, 16, 10), architecture="", arch_kwargs={})
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    row = BaseModel.objects.get(pk=job.result["model"])
    assert not row.decomposable and row.format == "onnx" and row.params > 0


@pytest.mark.django_db(transaction=True)
def test_unsupported_file_type_is_refused(user):
    with pytest.raises(HubError, match="safetensors"):
        upload(user, "pkl", "model.pkl", b"whatever")
