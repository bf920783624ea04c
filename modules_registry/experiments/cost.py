"""Experiment "cost": what each route to a classifier of every class costs, from the steps' own measurements.
Training from scratch is the base model's training step; reuse is the decompositions of the two half models
plus the build that composes their modules (the models exist already: that is the premise of reuse)."""
from __future__ import annotations

from modules_registry.experiments import energy
from modules_registry.experiments.context import SeedRun, ref
from modules_registry.experiments.reuse import run_reuse
from modules_registry.models import Build, Decomposition


def _jobs_of(model, ids: list[int]) -> list[int]:
    """The jobs that made these rows (a cached build's is another run's job: its cost was not measured here)."""
    return [pk for pk in model.objects.filter(pk__in=ids).values_list("job_id", flat=True) if pk is not None]


def _route(run: SeedRun, name: str, job_ids: list[int]) -> dict:
    costs = [run.steps.cost_of(pk) for pk in job_ids]
    costs = [c for c in costs if c is not None]
    joules = [c.joules for c in costs]
    total_joules = round(sum(joules), 3) if costs and None not in joules else None
    return {"route": name, "jobs": job_ids, "seconds": round(sum(c.seconds for c in costs), 3),
            "cpu_seconds": round(sum(c.cpu_seconds for c in costs), 3),
            "gpu_seconds": round(sum(c.seconds for c in costs if c.device.startswith("cuda")), 3),
            "joules": total_joules,
            "grams_co2e": round(energy.grams_co2e(total_joules), 4) if total_joules is not None else None}


def run_cost(run: SeedRun, reuse: dict | None = None) -> dict:
    reuse = reuse or run_reuse(run)
    scratch = run.base()
    routes = [_route(run, "train from scratch", [scratch.job_id])]
    for row in reuse["rows"]:
        decompositions = [d["id"] for d in row["decompositions"]]
        job_ids = _jobs_of(Decomposition, decompositions) + _jobs_of(Build, [row["build"]["id"]])
        routes.append(_route(run, f"reuse ({row['method']})", job_ids))
    for route in routes[1:]:
        route["speedup_vs_scratch"] = (round(routes[0]["cpu_seconds"] / route["cpu_seconds"], 2)
                                       if route["cpu_seconds"] else None)
    return {"scratch_model": ref(scratch), "routes": routes, "energy_source": energy.source()}
