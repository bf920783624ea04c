from __future__ import annotations

import contextlib
import contextvars
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modules_registry.errors import ErrorCode, HubError
from modules_registry.lanes import lane_for
from modules_registry.services import quotas
from modules_registry.models import Job

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
INLINE_QUEUE = "inline"
_inline = contextvars.ContextVar("inline_jobs", default=False)


@contextlib.contextmanager
def inline_jobs():
    """Jobs started inside are not enqueued: the caller (a job that runs others as its steps) runs them itself."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


def dataset_images(dataset) -> int:
    """How many images a data set row holds, from its per-split class counts."""
    counts = dataset.class_counts if isinstance(dataset.class_counts, dict) else {}
    return int(sum(sum(c for c in split if isinstance(c, int)) for split in counts.values() if isinstance(split, list)))


def check_job_memory(estimate, *, what: str, advice: str, field: str) -> None:
    """Refuse (``job_too_large``) a job whose estimated memory is over HUB_JOB_MEMORY_BYTES (0: no limit)."""
    from splitter_engine.resources import JobTooLarge, check_fits

    limit = int(getattr(settings, "HUB_JOB_MEMORY_BYTES", 0) or 0)
    try:
        check_fits(estimate, limit, what, advice)
    except JobTooLarge as exc:
        raise HubError(f"{exc} (HUB_JOB_MEMORY_BYTES)", code=ErrorCode.JOB_TOO_LARGE, field=field,
                       details={"estimated_bytes": estimate.total, "limit_bytes": limit,
                                "estimate": estimate.to_dict()["parts"]}) from exc


def gpu_devices() -> int:
    """CUDA devices each worker of the ``gpu`` queue sees (HUB_GPU_DEVICES; 0: the hub runs no GPU worker)."""
    return max(int(getattr(settings, "HUB_GPU_DEVICES", 0) or 0), 0)


def clean_device(device) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` that a worker of this hub can serve; a GPU request on a hub without
    GPU workers (or for a device index they do not have) is refused, never queued where no worker looks."""
    device = device if isinstance(device, str) else ""
    index = device[5:] if device.startswith("cuda:") else None
    if device not in DEVICES and not (index is not None and index.isdigit() and len(index) <= 3):
        raise HubError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} or cuda:N", field="device")
    if not device.startswith("cuda"):
        return device
    available = gpu_devices()
    if not available:
        raise HubError(f"device {device!r}: no worker of this hub serves GPU jobs (HUB_GPU_DEVICES is 0); use 'auto' "
                       "(a GPU where the worker has one) or 'cpu'", code=ErrorCode.DEVICE_UNAVAILABLE, field="device",
                       details={"gpu_devices": 0})
    if index is not None and int(index) >= available:
        raise HubError(f"device {device!r}: the hub's GPU workers have {available} device(s) each, cuda:0 to "
                       f"cuda:{available - 1}; use 'cuda' for any", code=ErrorCode.DEVICE_UNAVAILABLE, field="device",
                       details={"gpu_devices": available})
    return device


def start_job(*, kind: str, owner, params: dict, device: str = "cpu", incoming_bytes: int = 0) -> Job:
    """Create the Job row, within the owner's quotas (``incoming_bytes``: the upload it imports, already staged),
    and enqueue its task once the row is committed."""
    device = clean_device(device)
    with transaction.atomic():
        quotas.lock_user(owner)  # counted and created under the lock: two requests cannot both take the last place
        if not _inline.get():  # a step of a running job is part of that job, already counted
            quotas.check_jobs(owner)
        if kind != Job.Kind.EVALUATE:  # every other job stores files
            quotas.check_storage(owner, incoming_bytes)
        job = Job.objects.create(kind=kind, owner=owner, params=params, device=device,
                                 queue_name=INLINE_QUEUE if _inline.get() else lane_for(kind, device))
    if job.queue_name != INLINE_QUEUE:
        transaction.on_commit(lambda: _enqueue(job.pk, job.queue_name))
    return job


def _enqueue(job_id: int, queue_name: str) -> None:
    from modules_registry.tasks import run_job

    result = run_job.using(queue_name=queue_name).enqueue(job_id)
    Job.objects.filter(pk=job_id, task_id="").update(task_id=str(result.id)[:64])


def request_cancel(*, job: Job, user) -> Job:
    if job.owner_id != user.pk and not user.is_superuser:
        raise HubError("only the job's owner can cancel it", code=ErrorCode.PERMISSION_DENIED)
    if job.is_terminal:
        raise HubError(f"job #{job.pk} already ended ({job.status}); nothing to cancel", code=ErrorCode.JOB_ENDED)
    # A queued job ends at once (no worker has it; one that claims it later skips it). The update only applies while
    # the job is still queued, so a worker that claimed it meanwhile gets the flag and stops at its next check.
    ended = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(),
        message="cancelled before it started")
    if ended:
        from modules_registry.job_runtime import append_log
        from modules_registry.uploads import discard

        append_log(job.pk, "cancelled before it started")
        staged = (job.params or {}).get("staged")
        if staged:  # an import that will never run: its staged upload goes now
            transaction.on_commit(lambda: discard(staged))
    else:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job
