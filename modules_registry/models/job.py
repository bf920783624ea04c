from __future__ import annotations

from django.conf import settings
from django.db import models


class Job(models.Model):
    """A background run. This row, not the task backend's, is the source of truth for its state."""

    class Kind(models.TextChoices):
        IMPORT_DATASET = "import_dataset", "Import data set"
        IMPORT_MODEL = "import_model", "Import model"
        TRAIN = "train", "Train"
        EVALUATE = "evaluate", "Evaluate"
        DECOMPOSE = "decompose", "Decompose"
        BUILD = "build", "Build"
        PATCH = "patch", "Patch"
        REPRODUCE = "reproduce", "Reproduce the papers' experiments"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    params = models.JSONField(default=dict, help_text="the request, as validated by the service")
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=80, blank=True)
    message = models.TextField(blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="the latest per-step metrics")
    result = models.JSONField(default=dict, blank=True, help_text="ids of the rows the job created")
    device = models.CharField(max_length=16, default="cpu")
    queue_name = models.CharField(max_length=32, default="default")
    task_id = models.CharField(max_length=64, blank=True)
    worker_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=1), name="job_progress_in_0_1"),
            models.CheckConstraint(condition=models.Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                                   name="job_status_known"),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running"], finished_at__isnull=True)
                | models.Q(status__in=["succeeded", "failed", "cancelled"], finished_at__isnull=False),
                name="job_finished_iff_terminal"),
            models.CheckConstraint(
                condition=~models.Q(status="running") | models.Q(started_at__isnull=False),
                name="job_running_has_started_at"),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} {self.kind} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
