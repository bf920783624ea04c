"""A finished run of the papers' experiments: its settings and its report, written once when the run ends."""
from __future__ import annotations

from django.db import models

from modules_registry.models.artifacts import Dataset
from modules_registry.models.base import Artifact


class Experiment(Artifact):
    """The report of one ``reproduce`` job. Every figure in ``report`` names the registry rows it came from."""

    class Profile(models.TextChoices):
        QUICK = "quick", "Quick (small models, CPU, under an hour)"
        PAPER = "paper", "Paper (the papers' architectures and schedules, GPU)"

    name = models.CharField(max_length=120)
    profile = models.CharField(max_length=8, choices=Profile.choices)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    seeds = models.JSONField(help_text="the seeds every experiment ran with")
    experiments = models.JSONField(help_text="the experiments run, in order")
    settings = models.JSONField(help_text="the profile as it ran: architectures, schedules, method presets")
    report = models.JSONField(help_text="claims, tables and per-seed rows (see modules_registry.experiments.report)")
    seconds = models.FloatField(help_text="wall time of the whole run")

    def __str__(self) -> str:
        return f"experiment #{self.pk} {self.name}"
