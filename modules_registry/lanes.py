"""Which queue (lane) a job waits in, its place there, and a running job's time left.

Short jobs (imports, evaluations, builds, patches) wait in the ``fast`` lane, long ones (training, decomposition,
experiments) in ``default``, so that a build never queues behind a decomposition: each lane has its own worker
(scripts/run_hub.sh). A job asked to run on a GPU waits in ``gpu``, served by one worker per GPU.
"""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from modules_registry.models import Job

FAST, LONG, GPU = "fast", "default", "gpu"
LANES = (FAST, LONG, GPU)
LONG_KINDS = frozenset({Job.Kind.TRAIN, Job.Kind.DECOMPOSE, Job.Kind.REPRODUCE})
# Below this much progress the rate says little (set-up, data loading): no ETA yet.
ETA_MIN_PROGRESS = 0.02


def lane_for(kind: str, device: str) -> str:
    if device.startswith("cuda"):
        return GPU
    return LONG if kind in LONG_KINDS else FAST


def _queued_before(job_ref):
    # Workers take a lane's tasks in the order they were enqueued, which is the order of the job ids.
    return Job.objects.filter(status=Job.Status.QUEUED, queue_name=job_ref("queue_name"), pk__lt=job_ref("pk"))


def with_queue_ahead(queryset):
    """``queryset`` with ``queued_ahead``: how many queued jobs of the same lane a worker takes before each job."""
    ahead = _queued_before(OuterRef).order_by().values("queue_name").annotate(n=Count("pk")).values("n")
    return queryset.annotate(queued_ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0)))


def queue_position(job: Job) -> int | None:
    """1 for the next job a worker of its lane takes, 2 for the one after, ...; None unless the job is queued."""
    if job.status != Job.Status.QUEUED:
        return None
    ahead = getattr(job, "queued_ahead", None)
    if ahead is None:
        ahead = _queued_before(lambda field: getattr(job, field)).count()
    return ahead + 1


def eta_seconds(job: Job, now: datetime | None = None) -> float | None:
    """Seconds a running job has left at its rate so far (elapsed × (1 − progress) / progress); None when it is
    not running or too early to tell."""
    if job.status != Job.Status.RUNNING or job.started_at is None or not job.progress:
        return None
    if job.progress < ETA_MIN_PROGRESS:
        return None
    elapsed = ((now or timezone.now()) - job.started_at).total_seconds()
    return round(max(elapsed, 0.0) * (1.0 - job.progress) / job.progress, 1)
