"""The steps of an experiment run: ordinary hub jobs (train, evaluate, decompose, build, patch), created through the
same services as any request and run one after another inside the ``reproduce`` job's process.

Each step is a Job row of its own (queue ``inline``), so the rows it makes link back to it like any other, it is
cancelled with its parent, and its wall and CPU seconds are recorded for the cost experiment.
"""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field

from modules_registry.errors import HubError
from modules_registry.experiments import energy
from modules_registry.job_runtime import JobInputError
from modules_registry.models import BaseModel, Build, Decomposition, Evaluation, Job
from modules_registry.services import builds, decompositions, models
from modules_registry.services.jobs import inline_jobs
from splitter_engine.runtime import RunCancelled, RunContext


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class StepCost:
    job: int
    kind: str
    label: str
    seconds: float
    cpu_seconds: float
    device: str
    joules: float | None = None  # where the machine has an energy counter (experiments.energy)


@dataclass
class Steps:
    """Runs steps for the parent job ``parent`` under its context; ``prefix`` keeps the names of its rows unique."""

    parent: Job
    ctx: RunContext
    prefix: str
    visibility: str
    device: str = "cpu"
    costs: list[StepCost] = field(default_factory=list)

    def _start(self, start, label: str):
        """What the service returned for the step (a Job, or a build request whose ``job`` is None when cached)."""
        self.ctx.check_cancelled()
        try:
            with inline_jobs():
                return start()
        except HubError as exc:  # the service refused the step: the run fails with its reason
            raise JobInputError(f"step {label!r} was refused: {exc}") from exc

    def _run(self, start, label: str) -> Job:
        return self._run_job(self._start(start, label), label)

    def _run_job(self, job: Job, label: str) -> Job:
        from modules_registry.tasks import run_here

        wall, cpu, microjoules = time.perf_counter(), _cpu_seconds(), energy.read_microjoules()
        run_here(job.pk, worker_id=self.parent.worker_id, parent_id=self.parent.pk)
        job.refresh_from_db()
        self.costs.append(StepCost(job=job.pk, kind=job.kind, label=label, seconds=round(time.perf_counter() - wall, 3),
                                   cpu_seconds=round(_cpu_seconds() - cpu, 3), device=job.device,
                                   joules=energy.joules_between(microjoules, energy.read_microjoules())))
        if job.status == Job.Status.CANCELLED:
            raise RunCancelled()
        if job.status != Job.Status.SUCCEEDED:
            raise JobInputError(f"step {label!r} (job #{job.pk}) failed: {job.error or job.message}")
        return job

    def cost_of(self, job_id: int | None) -> StepCost | None:
        return next((c for c in self.costs if c.job == job_id), None)

    def train(self, dataset, name: str, architecture: str, arch_kwargs: dict, config: dict) -> BaseModel:
        job = self._run(lambda: models.start_training(
            owner=self.parent.owner, dataset=dataset, name=f"{self.prefix}{name}", architecture=architecture,
            arch_kwargs=arch_kwargs, config=config, device=self.device, visibility=self.visibility,
            description=f"trained by experiment job #{self.parent.pk}"), f"train {name}")
        return BaseModel.objects.get(pk=job.result["model"])

    def evaluate(self, model: BaseModel, dataset, split: str) -> Evaluation:
        job = self._run(lambda: models.start_evaluation(owner=self.parent.owner, model=model, dataset=dataset,
                                                        split=split, device=self.device),
                        f"evaluate {model.name} on {split}")
        return Evaluation.objects.get(pk=job.result["evaluation"])

    def decompose(self, model: BaseModel, dataset, method: str, preset: str, overrides: dict, seed: int) -> Decomposition:
        job = self._run(lambda: decompositions.start_decomposition(
            owner=self.parent.owner, model=model, method=method, preset=preset, overrides=overrides, seed=seed,
            device=self.device, dataset=dataset), f"decompose {model.name} with {method}")
        return Decomposition.objects.get(pk=job.result["decomposition"])

    def _made_build(self, request, label: str) -> Build:
        """The build a build or patch request made: its job's row, or the cached row the request found."""
        if request.job is None:
            return request.build
        job = self._run_job(request.job, label)
        return Build.objects.get(pk=job.result["build"])

    def build(self, modules: list, dataset, name: str, **options) -> Build:
        label = f"build {name}"
        request = self._start(lambda: builds.start_build(
            owner=self.parent.owner, modules=[m.pk for m in modules], dataset=dataset, name=f"{self.prefix}{name}",
            visibility=self.visibility, device=self.device, **options), label)
        return self._made_build(request, label)

    def patch(self, model: BaseModel, module, dataset, name: str, calibration: str) -> Build:
        label = f"patch {name}"
        request = self._start(lambda: builds.start_patch(
            owner=self.parent.owner, model=model, module=module.pk, dataset=dataset, calibration=calibration,
            name=f"{self.prefix}{name}", visibility=self.visibility, device=self.device), label)
        return self._made_build(request, label)
