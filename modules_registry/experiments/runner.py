"""The ``reproduce`` job: every chosen experiment for every seed, then the report, written in one transaction.

A run that fails or is cancelled writes no Experiment row (no half report); the rows its finished steps made
(models, decompositions, builds) stay in the registry like those of any other job.
"""
from __future__ import annotations

import time
from dataclasses import replace

from django.db import transaction

from modules_registry.experiments.accuracy import run_accuracy
from modules_registry.experiments.context import SeedRun
from modules_registry.experiments.cost import run_cost
from modules_registry.experiments.methods import run_methods
from modules_registry.experiments.patching import run_patching
from modules_registry.experiments.profiles import EXPERIMENTS, PROFILES
from modules_registry.experiments.report import build_report
from modules_registry.experiments.reuse import run_reuse
from modules_registry.experiments.steps import Steps
from modules_registry.job_runtime import JobInputError
from modules_registry.models import Dataset, Experiment, Job
from splitter_engine.runtime import RunContext

RUNNERS = {"methods": run_methods, "patching": run_patching, "reuse": run_reuse, "accuracy": run_accuracy}


def _seed_results(run: SeedRun, chosen: list[str], ctx: RunContext, done: float, share: float) -> dict:
    results = {}
    for i, name in enumerate(chosen):
        ctx.report(done + share * i / len(chosen), name, f"seed {run.seed}: experiment {name!r}")
        try:
            if name == "cost" and "error" in results.get("reuse", {}):
                results[name] = {"error": "it measures the reuse experiment's steps, and that failed"}
            elif name == "cost":
                results[name] = run_cost(run, results.get("reuse"))
            else:
                results[name] = RUNNERS[name](run)
        except JobInputError as exc:  # one experiment's refused or failed step: the others still report
            results[name] = {"error": str(exc)}
    return results


def run_experiments(job: Job, ctx: RunContext) -> dict:
    started = time.perf_counter()
    params = job.params
    profile = PROFILES[params["profile"]]
    dataset = Dataset.objects.get(pk=params["dataset"])
    profile = replace(profile, classes=params.get("classes") or profile.classes)
    class_names = dataset.class_names[:profile.classes] if profile.classes else dataset.class_names
    chosen = [name for name in EXPERIMENTS if name in params["experiments"]]
    steps = Steps(parent=job, ctx=ctx, prefix=f"x{job.pk}-", visibility=params["visibility"], device=params["device"])
    per_seed = {}
    images_per_point = 0.0
    for i, seed in enumerate(params["seeds"]):
        run = SeedRun(profile=profile, dataset=dataset, steps=steps, seed=seed, class_names=list(class_names))
        per_seed[seed] = _seed_results(run, chosen, ctx, i / len(params["seeds"]), 1 / len(params["seeds"]))
        images_per_point = run.images_per_point()
    ctx.check_cancelled()
    settings = {**profile.to_dict(), "experiments": chosen, "class_names": list(class_names),
                "steps": [c.__dict__ for c in steps.costs]}
    report = build_report(per_seed, images_per_point, settings)
    with transaction.atomic():
        row = Experiment.objects.create(
            owner=job.owner, job=job, visibility=params["visibility"], name=params["name"], profile=profile.name,
            dataset=dataset, seeds=params["seeds"], experiments=chosen, settings=settings, report=report,
            seconds=round(time.perf_counter() - started, 3))
    return {"experiment": row.pk, "seconds": row.seconds}
