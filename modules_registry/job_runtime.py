"""The worker side of a Job row: state transitions, progress, heartbeat, cancellation, recovery.

The engine sees only a ``RunContext``; this module turns its callbacks into row updates.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from datetime import timedelta
from typing import Iterator

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from modules_registry.errors import HubError
from modules_registry.models import Job
from splitter_engine.runtime import EngineError, RunCancelled, RunContext, resolve_device

log = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 0.5
CANCEL_POLL_INTERVAL = 1.0


class JobInputError(HubError):
    """A job's request cannot be carried out as asked (found by the worker); the message, which the job records,
    tells the user what to fix."""


def append_log(job_id: int, line: str) -> None:
    stamp = timezone.now().strftime("%H:%M:%S")
    Job.objects.filter(pk=job_id).update(log=Concat(F("log"), Value(f"[{stamp}] {line}\n")))


class _ProgressWriter:
    """Writes engine progress to the row, at most every PROGRESS_WRITE_INTERVAL unless the stage changes."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._last_write = 0.0
        self._last_stage = None

    def __call__(self, fraction: float, stage: str, message: str, metrics: dict | None = None) -> None:
        now = time.monotonic()
        if stage == self._last_stage and not metrics and now - self._last_write < PROGRESS_WRITE_INTERVAL:
            return
        fields = {"progress": round(fraction, 4), "stage": stage[:80], "message": message}
        if metrics:
            fields["metrics"] = metrics
        Job.objects.filter(pk=self.job_id).update(**fields)
        if stage != self._last_stage or metrics:
            append_log(self.job_id, f"{stage}: {message}" if message else stage)
        self._last_write, self._last_stage = now, stage


class _CancelProbe:
    def __init__(self, job_id: int):
        self.job_id = job_id
        self._last_poll = 0.0
        self._cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_poll >= CANCEL_POLL_INTERVAL:
            self._last_poll = now
            self._cancelled = Job.objects.filter(pk=self.job_id, cancel_requested=True).exists()
        return self._cancelled


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.JOB_HEARTBEAT_SECONDS):
                Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a failed beat must never kill the job; the next worker's reaper decides
            log.exception("heartbeat for job %s failed", self.job_id)
        finally:
            connection.close()


def _finish(job_id: int, status: str, **fields) -> None:
    Job.objects.filter(pk=job_id).update(status=status, finished_at=timezone.now(), **fields)


@contextlib.contextmanager
def running(job_id: int, worker_id: str = "", parent_id: int | None = None) -> Iterator[tuple[Job, RunContext] | None]:
    """Claim a queued job, run the body with a RunContext, and record how it ended.

    Yields None when the job must not run (already ended, or cancelled while queued). A step of a parent job
    (``parent_id``, run in the parent's process) is also cancelled when the parent is.
    """
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, cancel_requested=False).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, worker_id=worker_id[:64], stage="starting")
    if not claimed:
        Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED, finished_at=now, message="cancelled before it started")
        yield None
        return
    job = Job.objects.get(pk=job_id)
    append_log(job_id, f"started on worker {worker_id or '?'}")
    log.info("job %s (%s) started on worker %s", job_id, job.kind, worker_id or "?")
    heartbeat = _Heartbeat(job_id)
    heartbeat.start()
    try:
        device = resolve_device(job.device)
        Job.objects.filter(pk=job_id).update(device=device)
        probes = [_CancelProbe(job_id)] + ([_CancelProbe(parent_id)] if parent_id is not None else [])
        ctx = RunContext(device=device, progress=_ProgressWriter(job_id),
                         is_cancelled=lambda: any(probe() for probe in probes))
        yield job, ctx
    except RunCancelled:
        append_log(job_id, "cancelled")
        _finish(job_id, Job.Status.CANCELLED, message="cancelled by request")
    except (EngineError, JobInputError) as exc:
        append_log(job_id, f"failed: {exc}")
        _finish(job_id, Job.Status.FAILED, error=str(exc), message=str(exc))
    except Exception as exc:
        if is_out_of_memory(exc):
            message = (f"the job ran out of memory ({type(exc).__name__}: {str(exc)[:200]}); a worker may use "
                       f"{memory_cap_text()}: choose a smaller network, batch or data set")
            log.warning("job %s: %s", job_id, message)
            append_log(job_id, f"failed: {message}")
            _finish(job_id, Job.Status.FAILED, error=message, message="out of memory")
        elif isinstance(exc, DATABASE_DOWN):
            log.warning("job %s: lost its database connection: %s", job_id, exc)
            connection.close()  # a new one, if the database is back already
            _finish(job_id, Job.Status.FAILED, error="the database became unreachable while it ran; start the job "
                                                     "again", message="database lost")  # raises while it is down
        else:
            log.exception("job %s crashed", job_id)
            append_log(job_id, traceback.format_exc())
            _finish(job_id, Job.Status.FAILED, error=f"internal error ({type(exc).__name__}): {exc}",
                    message="the job crashed; the log has the details")
    else:
        append_log(job_id, "succeeded")
        _finish(job_id, Job.Status.SUCCEEDED, progress=1.0, stage="done")
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
        log.info("job %s ended on worker %s", job_id, worker_id or "?")


# --- Memory: the worker's cap ----------------------------------------------------------------------------------
# A job the door's estimate let through can still grow past what the machine has; without a cap the kernel kills
# the whole worker (and its job stays `running` until the heartbeat times out). Under RLIMIT_DATA an allocation
# past the cap fails instead: PyTorch raises "can't allocate memory", NumPy a MemoryError, and the job fails
# with a message while the worker lives on.


def physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def worker_memory_cap(queue_names) -> int:
    """Bytes of data memory a worker serving ``queue_names`` may use (0: no cap).

    HUB_WORKER_MEMORY_BYTES when set (0 turns the cap off). Unset, a CPU worker is capped at 80 % of the
    machine's memory; a worker that serves the ``gpu`` queue is not capped (the CUDA driver maps large writable
    regions of host memory of its own): set HUB_WORKER_MEMORY_BYTES for it explicitly.
    """
    configured = getattr(settings, "HUB_WORKER_MEMORY_BYTES", None)
    if configured is not None:
        return max(int(configured), 0)
    if {"gpu", "*"} & set(queue_names):
        return 0
    return int(physical_memory() * 0.8)


def apply_memory_cap(limit: int) -> bool:
    """Cap this process's data memory (RLIMIT_DATA) at ``limit`` bytes; False where it cannot be set."""
    if limit <= 0:
        return False
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, ValueError, OSError) as exc:
        log.warning("could not cap the worker's memory at %s bytes: %s", limit, exc)
        return False
    return True


def memory_cap_text() -> str:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    except (ImportError, ValueError, OSError):
        return "what the machine has"
    if soft == resource.RLIM_INFINITY:
        return "what the machine has"
    return f"{soft / 1024**3:.1f} GB (HUB_WORKER_MEMORY_BYTES)"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed (host or GPU memory)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


# --- The database going away -----------------------------------------------------------------------------------
# A PostgreSQL restart (or a network cut) breaks every open connection. The job running then cannot record its
# progress; it fails once the database is back, and the worker, instead of exiting, waits for the database and
# carries on with the queue.

DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_RETRY_SECONDS = 2.0


def wait_for_database(worker_id: str, error: BaseException) -> None:
    """Block until the database answers again, then fail the job this worker was running when it went away."""
    message = f"database unavailable ({type(error).__name__}: {str(error).strip()[:200]}); retrying every " \
              f"{DATABASE_RETRY_SECONDS:.0f} s"
    log.warning("worker %s: %s", worker_id, message)
    while True:
        time.sleep(DATABASE_RETRY_SECONDS)  # also paces an error that is not an outage (a missing table) to a retry
        connections.close_all()             # every 2 s, never a hot loop
        try:
            connection.ensure_connection()
            break
        except DATABASE_DOWN:
            pass
    log.warning("worker %s: the database is back", worker_id)
    for job_id in Job.objects.filter(status=Job.Status.RUNNING, worker_id=worker_id).values_list("pk", flat=True):
        fail_lost_job(job_id, error="the database became unreachable while it ran; start the job again",
                      reason="its database connection was lost", only_if={"worker_id": worker_id})


class WorkerLost(Exception):
    """Recorded on the task row of a job whose worker died."""


def fail_lost_job(job_id: int, *, error: str, reason: str, only_if=None) -> bool:
    """Mark a running job whose worker died as failed, with everything it held: its staged upload is removed and
    its task row (django-tasks-db) marked failed too. ``only_if``: extra conditions the row must still meet (so
    that a job that beat meanwhile is left alone). Returns whether the job was marked."""
    conditions = {"pk": job_id, "status": Job.Status.RUNNING, **(only_if or {})}
    updated = Job.objects.filter(**conditions).update(status=Job.Status.FAILED, finished_at=timezone.now(),
                                                      error=error, message="worker lost")
    if not updated:
        return False
    append_log(job_id, f"marked failed: {reason}")
    log.warning("job %s: %s, marked failed", job_id, reason)
    job = Job.objects.filter(pk=job_id).values("params", "task_id").first() or {}
    staged = (job.get("params") or {}).get("staged") if isinstance(job.get("params"), dict) else None
    if staged:
        from modules_registry.uploads import discard

        with contextlib.suppress(Exception):
            discard(staged)
    _fail_task_row(job.get("task_id") or "", error)
    return True


def _fail_task_row(task_id: str, error: str) -> None:
    """The task backend's row of a lost job: RUNNING forever unless told (django-tasks-db only)."""
    if not task_id:
        return
    try:
        from django_tasks_db.models import DBTaskResult
        from django_tasks.base import TaskResultStatus
    except ImportError:
        return
    with contextlib.suppress(Exception):  # another backend, or an id that is not its UUID
        DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED, finished_at=timezone.now(),
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}", traceback=error)


def recover_stale_jobs(timeout_seconds: float | None = None) -> int:
    """Mark running jobs whose worker stopped sending heartbeats as failed; returns how many."""
    timeout = settings.JOB_HEARTBEAT_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
    cutoff = timezone.now() - timedelta(seconds=timeout)
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff)
    ids = list(stale.values_list("pk", flat=True))
    for job_id in ids:
        fail_lost_job(job_id, error=f"its worker stopped responding (no heartbeat for {timeout:.0f} s); start the "
                                    "job again", reason="worker lost", only_if={"heartbeat_at__lt": cutoff})
    return len(ids)


def recover_dead_workers_jobs() -> int:
    """Mark failed, at once, the running jobs of workers of this machine that no longer run (their worker id
    carries their process tag, ``modules_registry.processes``): a worker starting after its predecessor was killed
    need not wait for the heartbeat timeout. Jobs of workers on other machines are left to the heartbeat."""
    from modules_registry.processes import gone

    marked = 0
    for job_id, worker_id in Job.objects.filter(status=Job.Status.RUNNING).values_list("pk", "worker_id"):
        if gone(worker_id):
            marked += fail_lost_job(job_id, error="its worker process ended while it ran (it was killed or crashed); "
                                                  "start the job again",
                                    reason=f"worker {worker_id} is gone", only_if={"worker_id": worker_id})
    return marked


def worker_id_for_this_process() -> str:
    """A worker id (at most 64 characters) that starts with this process's tag, so that a later worker on this
    machine can tell at once when this one is gone."""
    from django.utils.crypto import get_random_string

    from modules_registry.processes import process_tag

    return f"{process_tag()}-{get_random_string(12)}"[:64]


def sweep_files() -> None:
    """Remove what dead processes left: temporary files of writers and requests, orphaned staged uploads."""
    from modules_registry import blobs, uploads

    blobs.remove_stale_temp_files()
    uploads.remove_stale_upload_files()
    uploads.remove_orphaned_staged()


class StaleJobReaper(threading.Thread):
    """For as long as a worker lives: marks jobs of lost workers failed, and now and then sweeps files."""

    SWEEP_SECONDS = 600.0

    def __init__(self):
        super().__init__(name="stale-job-reaper", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(settings.JOB_HEARTBEAT_TIMEOUT_SECONDS / 2, 1.0)
        last_sweep = time.monotonic()
        while not self.stopped.wait(interval):
            try:
                close_old_connections()
                recover_dead_workers_jobs()
                recover_stale_jobs()
                if time.monotonic() - last_sweep > self.SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    sweep_files()
            except Exception:
                log.exception("stale job check failed")
        connection.close()
