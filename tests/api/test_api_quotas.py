"""#19.6: per-user quotas kept in the database, so they hold across processes: jobs queued or running at once
(HUB_QUOTA_JOBS, 429 quota_jobs) and bytes stored (HUB_QUOTA_BYTES, 413 quota_storage), refused at the door with
nothing written. The throttles before them were a per-process cache: a brake, not a quota."""
import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from api_helpers import assert_error
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

import factories as f
from modules_registry.errors import HubError
from modules_registry.models import Blob, Job
from modules_registry.services import quotas
from modules_registry.services.models import start_evaluation
from worker_process import ROOT, database_env


@pytest.fixture
def lineage(user):
    return f.chain(user, tag="quota")


def train(client, dataset, name):
    return client.post("/api/models/train/", {"dataset": dataset.pk, "name": name, "architecture": "simcnn",
                                              "arch_kwargs": {"width": 0.125}}, format="json")


def small_npz(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    np.savez(buffer, x=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), y=np.arange(20) % 2)
    return buffer.getvalue()


def upload_npz(client, data: bytes, name: str):
    return client.post("/api/datasets/upload/", {"archive": io.BytesIO(data), "name": name}, format="multipart")


def staged() -> list[str]:
    return default_storage.listdir("uploads")[1] if default_storage.exists("uploads") else []


@pytest.mark.django_db
def test_jobs_queued_or_running_at_once_are_limited_per_user(lineage, alice_write, bob_write, other_user, settings):
    settings.HUB_QUOTA_JOBS = 2
    assert train(alice_write, lineage.dataset, "one").status_code == 202
    assert alice_write.post(f"/api/models/{lineage.model.pk}/evaluate/", {}, format="json").status_code == 202
    body = assert_error(train(alice_write, lineage.dataset, "three"), 429, "quota_jobs")
    assert body["details"] == {"limit": 2, "active": 2}
    assert "HUB_QUOTA_JOBS" in body["message"] and "cancel one" in body["message"]
    body = assert_error(upload_npz(alice_write, small_npz(0), "refused"), 429, "quota_jobs")
    assert Job.objects.filter(owner__username="alice").count() == 2 and staged() == []  # nothing written
    assert train(bob_write, f.chain(other_user, tag="bob").dataset, "bobs").status_code == 202  # per user
    first = Job.objects.filter(owner__username="alice").order_by("pk").first()
    assert alice_write.post(f"/api/jobs/{first.pk}/cancel/").status_code == 202  # a queued job ends at once
    assert train(alice_write, lineage.dataset, "three").status_code == 202
    Job.objects.filter(owner__username="alice", status="queued").update(status="running", started_at=timezone.now())
    assert_error(train(alice_write, lineage.dataset, "four"), 429, "quota_jobs")  # running jobs count too


@pytest.mark.django_db
def test_bytes_stored_are_limited_per_user_counting_staged_uploads(lineage, alice_write, bob_write, user, settings):
    entries = [lineage.dataset.arrays, lineage.model.weights, lineage.decomposition.result, lineage.build.onnx,
               *(m.weights for m in lineage.modules), *(m.spec for m in lineage.modules)]
    used = sum(blob.size for blob in {b.sha256: b for b in entries}.values())
    assert quotas.stored_bytes(user) == used > 0
    first, second = small_npz(1), small_npz(2)
    settings.HUB_QUOTA_BYTES = used + len(first) + len(second) // 2
    assert upload_npz(alice_write, first, "fits").status_code == 202
    assert quotas.stored_bytes(user) == used + len(first)  # the staged upload counts while its job waits
    body = assert_error(upload_npz(alice_write, second, "too-much"), 413, "quota_storage")
    assert body["details"] == {"limit_bytes": settings.HUB_QUOTA_BYTES, "used_bytes": used + len(first),
                               "incoming_bytes": len(second)}
    assert "HUB_QUOTA_BYTES" in body["message"] and len(staged()) == 1 and Job.objects.count() == 1
    assert upload_npz(bob_write, second, "bobs").status_code == 202  # another user's bytes are their own

    settings.HUB_QUOTA_BYTES = used  # full: nothing new that stores files, but reading and evaluating still work
    assert_error(train(alice_write, lineage.dataset, "new"), 413, "quota_storage")
    assert_error(alice_write.post(f"/api/models/{lineage.model.pk}/decompose/", {}, format="json"), 413,
                 "quota_storage")
    assert alice_write.post(f"/api/models/{lineage.model.pk}/evaluate/", {}, format="json").status_code == 202
    assert alice_write.get(f"/api/models/{lineage.model.pk}/").status_code == 200
    settings.HUB_QUOTA_BYTES = 0  # off
    assert train(alice_write, lineage.dataset, "new").status_code == 202
    assert Blob.objects.count() == len({b.sha256 for b in entries})  # the refusals stored nothing


ANOTHER_PROCESS = """
import django, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django.setup()
from django.contrib.auth import get_user_model
from modules_registry.errors import HubError
from modules_registry.models import BaseModel
from modules_registry.services.models import start_evaluation
owner = get_user_model().objects.get(username="alice")
try:
    start_evaluation(owner=owner, model=BaseModel.objects.get(pk=int(sys.argv[1])))
except HubError as exc:
    print(exc.code, exc.details)
"""


@pytest.mark.django_db(transaction=True)
def test_the_job_quota_holds_across_processes_and_concurrent_requests(lineage, user, settings):
    env = {**os.environ, **database_env(), "HUB_QUOTA_JOBS": "3"}
    settings.HUB_QUOTA_JOBS = 3
    start_evaluation(owner=user, model=lineage.model)
    start_evaluation(owner=user, model=lineage.model)
    # Six requests at once for the last place: the user's row lock lets exactly one through.
    outcomes, barrier = [], threading.Barrier(6)

    def request():
        barrier.wait()
        try:
            start_evaluation(owner=user, model=lineage.model)
            outcomes.append("accepted")
        except HubError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["accepted"] + ["quota_jobs"] * 5
    assert Job.objects.filter(owner=user, status="queued").count() == 3
    # Another process (another web server) counts the same jobs.
    other = subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(lineage.model.pk)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert other.stdout.strip() == "quota_jobs {'limit': 3, 'active': 3}", other.stderr[-2000:]
