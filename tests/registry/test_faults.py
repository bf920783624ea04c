"""#19.3: faults with real processes. A worker SIGKILLed mid-decomposition and then one SIGKILLed mid-ONNX-export:
each job ends `failed` (the hub does not retry: the user starts it again), a restarted worker drains the rest of
the queue, and no row, blob or temporary file of the killed jobs is left. A web process SIGKILLed mid-upload of a
50 MB file leaves no row, blob or staged file, and its partial temporary file is gone once a web process starts."""
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django_tasks_db.models import DBTaskResult

from accounts.services import create_token
from modules_registry import blobs
from modules_registry.models import BaseModel, Blob, Build, Dataset, Decomposition, Job, Module
from modules_registry.processes import process_tag
from modules_registry.services.builds import start_build
from modules_registry.services.datasets import import_builtin_dataset
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_training
from tiny_lineage import make_tiny_lineage
from worker_process import database_env, free_port, start_server, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def staged_uploads() -> list[str]:
    return default_storage.listdir("uploads")[1] if default_storage.exists("uploads") else []


def stored_files_without_rows(media: Path) -> list[Path]:
    """Files under the blob store that no Blob row names (a blob left by a writer that died), temporary ones too."""
    root = media / "blobs"
    known = {Path(blob.storage_name) for blob in Blob.objects.all()}
    return [path for path in root.rglob("*") if path.is_file() and path.relative_to(media) not in known]


@pytest.mark.slow
def test_killed_workers_leave_failed_jobs_and_nothing_else_and_a_restarted_worker_drains_the_queue(
        user, drain_jobs, isolated_media):
    lineage = make_tiny_lineage(user, drain_jobs)
    counts = {m: m.objects.count() for m in (Decomposition, Module, Build, BaseModel, Dataset)}
    # One worker serves every lane and takes tasks in the order they were queued: the decomposition first.
    decomposition = start_decomposition(owner=user, model=lineage.model, preset="paper", device="cpu")
    build = start_build(owner=user, modules=[m.pk for m in lineage.modules], device="cpu").job
    rest = [start_training(owner=user, dataset=lineage.dataset, name="after", architecture="rescnn",
                           arch_kwargs={"width": 0.125}, config={"epochs": 1}, device="cpu"),
            import_builtin_dataset(owner=user, builtin="digits-16")]

    worker = start_worker(isolated_media, HUB_JOB_HEARTBEAT_SECONDS="0.5")
    try:
        wait_for(lambda: Job.objects.filter(pk=decomposition.pk, status="running", progress__gt=0).exists(), 180,
                 "the decomposition to run")
    finally:
        kill(worker)
    # A new worker fails the dead one's job at once (its id names a process that is gone) and takes the next one:
    # the build, killed in turn while it exports to ONNX.
    worker = start_worker(isolated_media, HUB_JOB_HEARTBEAT_SECONDS="0.5")
    try:
        wait_for(lambda: Job.objects.filter(pk=build.pk, status="running", stage="export").exists(), 180,
                 "the build to export")
    finally:
        kill(worker)
    killed_in = Job.objects.values("stage", "message", "status").get(pk=build.pk)
    assert killed_in == {"stage": "export", "message": "exporting to ONNX", "status": "running"}

    drain_jobs()  # a restarted worker
    for job in (decomposition, build):
        job.refresh_from_db()
        assert job.status == "failed" and "worker process ended" in job.error and job.finished_at, job.error
        assert DBTaskResult.objects.get(id=job.task_id).status == "FAILED"
    for job in rest:
        job.refresh_from_db()
        assert job.status == "succeeded", job.error
    assert Decomposition.objects.count() == counts[Decomposition] and Module.objects.count() == counts[Module]
    assert Build.objects.count() == counts[Build]
    assert BaseModel.objects.count() == counts[BaseModel] + 1 and Dataset.objects.count() == counts[Dataset] + 1
    assert stored_files_without_rows(isolated_media) == []
    assert not any(blobs.temp_dir().iterdir()) and staged_uploads() == []


# --- the web process ------------------------------------------------------------------------------------------

def test_a_web_process_killed_mid_upload_leaves_nothing_once_restarted(user, isolated_media, tmp_path):
    upload_tmp = tmp_path / "upload-tmp"
    env = {**os.environ, **database_env(), "HUB_MEDIA_ROOT": str(isolated_media),
           "HUB_UPLOAD_TEMP_DIR": str(upload_tmp), "HUB_THROTTLE_UPLOADS": "1000/hour"}
    _, token = create_token(user=user, name="upload", scope="write")
    port = free_port()
    server = start_server(port, env)
    size = 50 * 1024**2
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"name": "big", "class_names": "a,b", "architecture": "rescnn",
                            "input_spec": '{"channels": 1, "height": 16, "width": 16}'}.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="weights"; filename="big.safetensors"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = (f"POST /api/models/upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(head) + size + len(tail)}\r\n\r\n").encode() + head
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(request)
        chunk = b"\x00" * 1024**2
        for _ in range(30):  # 30 of the 50 MB
            sock.sendall(chunk)

        def partial():
            files = [p for p in upload_tmp.glob("*") if p.name.startswith(process_tag(server.pid))]
            return files if files and files[0].stat().st_size >= 20 * 1024**2 else None

        files = wait_for(partial, 60, "the upload to stream into the web process's temporary file")
        kill(server)
    finally:
        sock.close()
        if server.poll() is None:
            kill(server)
    assert all(path.exists() for path in files)  # what the killed process left, until the next one starts
    assert not Job.objects.exists() and not Blob.objects.filter(size__gte=size // 2).exists()
    assert staged_uploads() == []

    server = start_server(port, env)  # a web process starting on this machine removes what a dead one left
    try:
        assert not any(path.exists() for path in files)
        assert list(upload_tmp.iterdir()) == []
    finally:
        kill(server)
    assert not Job.objects.exists() and not BaseModel.objects.exists()
