"""Experiment "methods": the three methods side by side on the same base model (and both concern presets)."""
from __future__ import annotations

from statistics import mean

from modules_registry.experiments.context import SeedRun, ref, test_accuracy
from modules_registry.experiments.profiles import METHODS


def variants(run: SeedRun) -> list[tuple[str, str]]:
    chosen = [(method, run.profile.methods[method][0]) for method in METHODS]
    if ("concern", "paper") not in chosen:  # the paper's own variant beside the hub's sliced one
        chosen.append(("concern", "paper"))
    return chosen


def run_methods(run: SeedRun) -> dict:
    base = run.base()
    rows = []
    for method, preset in variants(run):
        decomposition = run.decomposition(base, method, preset)
        modules = list(decomposition.modules.all())
        cost = run.steps.cost_of(decomposition.job_id)
        rows.append({
            "method": method, "preset": preset, "decomposition": ref(decomposition),
            "composed_accuracy": decomposition.composed_accuracy, "base_accuracy": decomposition.base_accuracy,
            "loss_points": round(100 * (decomposition.base_accuracy - decomposition.composed_accuracy), 3),
            "kernels_kept": decomposition.mean_kernel_retention,
            "params_fraction": round(mean(m.params_fraction for m in modules), 5),
            "flops_fraction": round(mean(m.flops_fraction for m in modules), 5),
            "seconds": cost.seconds if cost else None, "cpu_seconds": cost.cpu_seconds if cost else None})
    return {"base_model": ref(base), "base_test_accuracy": test_accuracy(base), "rows": rows}
