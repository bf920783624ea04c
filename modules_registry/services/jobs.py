from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import Job

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


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


def queue_for(device: str) -> str:
    return "gpu" if device.startswith("cuda") else "default"


def start_job(*, kind: str, owner, params: dict, device: str = "cpu") -> Job:
    """Create the Job row and enqueue its task once the row is committed."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise HubError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}", field="device")
    job = Job.objects.create(kind=kind, owner=owner, params=params, device=device, queue_name=queue_for(device))
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
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job
