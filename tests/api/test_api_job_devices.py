"""#19: jobs that can never end. A device no worker serves is refused at the door (it was queued on the gpu queue
that no worker served, forever), and cancelling a queued job ends it at once (it stayed `queued` forever)."""
from unittest import mock

import pytest
from api_helpers import assert_error
from django.core.files.storage import default_storage

import factories as f
from modules_registry.models import Job
from splitter_engine.runtime import EngineError, resolve_device


@pytest.fixture
def lineage(user):
    return f.chain(user, tag="devices")


def train(client, dataset, device):
    return client.post("/api/models/train/", {"dataset": dataset.pk, "name": f"on-{device}", "architecture": "simcnn",
                                              "arch_kwargs": {"width": 0.125}, "device": device}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:99"])
def test_a_gpu_job_on_a_hub_without_gpu_workers_is_refused(lineage, alice_write, settings, device):
    settings.HUB_GPU_DEVICES = 0
    body = assert_error(train(alice_write, lineage.dataset, device), 400, "device_unavailable")
    assert body["details"] == {"field": "device", "gpu_devices": 0} and "'auto'" in body["message"]
    body = assert_error(alice_write.post(f"/api/models/{lineage.model.pk}/decompose/", {"device": device},
                                         format="json"), 400, "device_unavailable")
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_only_the_devices_gpu_workers_have_are_accepted(lineage, alice_write, settings):
    settings.HUB_GPU_DEVICES = 2
    body = assert_error(train(alice_write, lineage.dataset, "cuda:99"), 400, "device_unavailable")
    assert "cuda:0 to cuda:1" in body["message"] and body["details"]["gpu_devices"] == 2
    for device in ("cuda", "cuda:1"):
        response = train(alice_write, lineage.dataset, device)
        assert response.status_code == 202, response.content
    for device in ("cuda:x", "cuda:", "tpu", "cuda:-1"):
        assert_error(train(alice_write, lineage.dataset, device), 400, "invalid")
    assert set(Job.objects.values_list("queue_name", flat=True)) == {"gpu"}


@pytest.mark.django_db
@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_cpu_and_auto_go_to_the_default_queue(lineage, alice_write, device):
    assert train(alice_write, lineage.dataset, device).status_code == 202
    assert Job.objects.get().queue_name == "default"


def test_a_worker_refuses_a_device_index_it_does_not_have():
    with mock.patch("torch.cuda.is_available", return_value=True), \
            mock.patch("torch.cuda.device_count", return_value=1):
        assert resolve_device("cuda:0") == "cuda:0"
        with pytest.raises(EngineError, match=r"'cuda:3' was requested but this worker has 1 CUDA device"):
            resolve_device("cuda:3")


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_queued_job_ends_it_at_once_and_no_worker_runs_it(lineage, alice_write, drain_jobs):
    response = train(alice_write, lineage.dataset, "cpu")
    job_id = response.json()["id"]
    response = alice_write.post(f"/api/jobs/{job_id}/cancel/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "cancelled" and body["is_terminal"] and body["finished_at"]
    drain_jobs()  # the worker claims the task and skips it
    job = Job.objects.get(pk=job_id)
    assert job.status == "cancelled" and job.started_at is None and job.message == "cancelled before it started"
    assert_error(alice_write.post(f"/api/jobs/{job_id}/cancel/"), 409, "job_ended")


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_queued_upload_removes_its_staged_file(alice_write):
    import io

    import numpy as np
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((8, 8, 8), np.uint8), y=np.arange(8) % 2)
    response = alice_write.post("/api/datasets/upload/", {"archive": SimpleUploadedFile("d.npz", buffer.getvalue()),
                                                          "name": "d"}, format="multipart")
    assert response.status_code == 202, response.content
    staged = Job.objects.get().params["staged"]
    assert default_storage.exists(staged)
    assert alice_write.post(f"/api/jobs/{response.json()['id']}/cancel/").json()["status"] == "cancelled"
    assert not default_storage.exists(staged)
