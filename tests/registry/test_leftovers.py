"""#19: nothing is left behind after faults. A web process killed mid-upload left its partial temporary file
forever; a worker killed while importing left the staged upload and a temporary copy after its job was marked
failed, and its task row RUNNING; a dead worker's job stayed `running` for the heartbeat timeout even when a new
worker had started on the same machine."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from modules_registry import blobs, uploads
from modules_registry.job_runtime import recover_stale_jobs
from modules_registry.models import Job
from modules_registry.processes import gone, process_tag
from modules_registry.tasks import run_job

ROOT = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_tag_tells_a_dead_process_of_this_machine_and_judges_no_other():
    assert not gone(process_tag())
    assert gone(process_tag(dead_pid()))
    assert not gone(f"0123456789.{process_tag().split('.')[1]}.{dead_pid()}")  # another machine: not judged
    assert not gone("a worker id without a tag")


KILLED_MID_UPLOAD = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django.setup()
from modules_registry.uploads import TaggedTemporaryFileUploadHandler
handler = TaggedTemporaryFileUploadHandler()
handler.new_file("file", "big.safetensors", "application/octet-stream", 63 * 1024**2)
handler.receive_data_chunk(b"x" * 1024**2, 0)
handler.file.flush()
print(handler.file.temporary_file_path(), flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_web_process_killed_mid_upload_leaves_a_file_the_next_process_removes(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    env = {**os.environ, "HUB_UPLOAD_TEMP_DIR": settings.FILE_UPLOAD_TEMP_DIR}
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_UPLOAD], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    partial = Path(killed.stdout.strip())
    assert partial.parent == tmp_path / "upload-tmp" and partial.stat().st_size == 1024**2
    in_flight = uploads.TaggedTemporaryUploadedFile("mine.npz", "application/octet-stream", 0, None)  # a live one
    old = tmp_path / "upload-tmp" / "0123456789.00000000.1-abc.upload.zip"  # another machine's, untouched for 2 h
    old.write_bytes(b"z")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    uploads.remove_files_of_dead_processes()  # what a starting web process (wsgi.py, asgi.py) or worker does
    assert not partial.exists() and not old.exists()
    assert Path(in_flight.temporary_file_path()).exists()
    in_flight.close()


def staged_import(user, worker_id: str, *, heartbeat_age: float = 0.0) -> tuple[Job, str, DBTaskResult]:
    """A running import job, as a killed worker leaves it: staged upload, task row RUNNING, heartbeat as given."""
    staged = default_storage.save("uploads/abc-weights.safetensors", ContentFile(b"w" * 4096))
    job = Job.objects.create(kind=Job.Kind.IMPORT_MODEL, owner=user, params={"staged": staged}, device="cpu")
    task = run_job.enqueue(job.pk)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=now, task_id=str(task.id),
                                         heartbeat_at=now - timedelta(seconds=heartbeat_age), worker_id=worker_id)
    DBTaskResult.objects.filter(id=task.id).update(status=TaskResultStatus.RUNNING, started_at=now,
                                                   worker_ids=[worker_id])
    return job, staged, DBTaskResult.objects.get(id=task.id)


@pytest.mark.django_db(transaction=True)
def test_a_worker_starting_after_its_predecessor_was_killed_cleans_up_at_once(user, drain_jobs):
    worker_id = f"{process_tag(dead_pid())}-killed"
    job, staged, task = staged_import(user, worker_id)  # its heartbeat is fresh: the timeout has not passed
    copy = blobs.temp_dir() / f"{process_tag(dead_pid())}-tmpcopy.safetensors"  # the import's local copy
    copy.write_bytes(b"w" * 4096)
    live = staged_import(user, f"{process_tag()}-alive")[0]  # a job of a live worker (this process) is left alone
    drain_jobs()  # a new worker starts
    job.refresh_from_db()
    assert job.status == "failed" and job.message == "worker lost"
    assert "worker process ended" in job.error and job.finished_at is not None
    assert not default_storage.exists(staged) and not copy.exists()
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED and task.exception_class_path.endswith("WorkerLost")
    assert Job.objects.get(pk=live.pk).status == "running"


@pytest.mark.django_db(transaction=True)
def test_a_job_lost_to_the_heartbeat_timeout_gives_up_its_upload_and_task_row(user, settings):
    job, staged, task = staged_import(user, "another-machine-worker", heartbeat_age=120)
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60
    assert recover_stale_jobs() == 1
    job.refresh_from_db()
    task.refresh_from_db()
    assert job.status == "failed" and "no heartbeat for 60 s" in job.error
    assert not default_storage.exists(staged) and task.status == TaskResultStatus.FAILED


@pytest.mark.django_db
def test_orphaned_staged_uploads_are_removed_once_old(user):
    def stage(name: str, age: float) -> str:
        stored = default_storage.save(f"uploads/{name}", ContentFile(b"u"))
        path = Path(default_storage.path(stored))
        os.utime(path, (time.time() - age, time.time() - age))
        return stored

    orphan, young, queued = stage("orphan.npz", 7200), stage("young.npz", 10), stage("queued.npz", 7200)
    Job.objects.create(kind=Job.Kind.IMPORT_DATASET, owner=user, params={"staged": queued})
    assert uploads.remove_orphaned_staged(3600) == 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(young) and default_storage.exists(queued)


@pytest.mark.django_db
def test_an_upload_whose_job_cannot_be_created_keeps_no_staged_file(user, monkeypatch):
    import io

    import numpy as np
    from django.core.files.uploadedfile import SimpleUploadedFile

    from modules_registry.services import datasets

    def refuse(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(datasets, "start_job", refuse)
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((8, 8, 8), np.uint8), y=np.arange(8) % 2)
    with pytest.raises(RuntimeError):
        datasets.upload_dataset(owner=user, archive=SimpleUploadedFile("d.npz", buffer.getvalue()), name="d")
    assert default_storage.listdir("uploads")[1] == []
