"""Experiment "reuse": a new task from modules. Two models trained on disjoint halves of the classes, decomposed.
The papers' own task: one class of each model (the seed picks them) composed into a two-class classifier, against
the same network trained from scratch on those two classes for the same budget. The harder one: all their modules
composed into a classifier of every class, against the base model (trained from scratch on every class). Modules
are composed with the builder's linear calibration (GradSplitter, CNNSplitter) or by voting (concern
identification, as Pan & Rajan). And Pan & Rajan's replace: one class's concern module of the base model swapped
for the same class's module of another model (the half model that has the class), against the base model's own
modules."""
from __future__ import annotations

from modules_registry.experiments.context import SeedRun, ref, test_accuracy

# method -> builder options for composing its modules across two models
COMPOSE = {"gradsplitter": {"strategy": "ensemble", "calibration": "linear"},
           "cnnsplitter": {"strategy": "ensemble", "calibration": "linear"},
           "concern": {"strategy": "ensemble", "calibration": "none"}}


def _compose(run: SeedRun, decompositions: list, name: str, options: dict):
    by_class = {}
    for decomposition in decompositions:
        by_class.update(run.modules(decomposition))
    modules = [by_class[c] for c in run.class_names]
    return run.steps.build(modules, run.dataset, name, **options)


def run_reuse(run: SeedRun) -> dict:
    scratch = run.base()
    halves = [run.half(0), run.half(1)]
    rows = []
    for method in run.profile.reuse_methods:
        parts = [run.decomposition(model, method) for model in halves]
        build = _compose(run, parts, f"new-task-{method}", COMPOSE[method])
        rows.append({"method": method, "build": ref(build), "decompositions": [ref(d) for d in parts],
                     "half_models": [ref(m) for m in halves], "scratch_model": ref(scratch),
                     "composed_accuracy": build.metrics["accuracy"], "scratch_accuracy": test_accuracy(scratch),
                     "difference_points": round(100 * (build.metrics["accuracy"] - test_accuracy(scratch)), 3)})
    return {"rows": rows, "pairs": _pairs(run, halves), "replace": _replace(run, halves)}


def _pairs(run: SeedRun, halves: list) -> list[dict]:
    """One class of each half model composed, against the network trained from scratch on those two classes."""
    first, second = (m.class_names for m in halves)
    pair = [first[run.seed % len(first)], second[run.seed % len(second)]]
    p = run.profile
    scratch = run.train(f"pair-{pair[0]}-{pair[1]}", p.architecture, p.arch_kwargs,
                        run.config(p.train, classes=pair))
    rows = []
    for method in run.profile.reuse_methods:
        modules = [run.modules(run.decomposition(model, method))[c] for model, c in zip(halves, pair)]
        build = run.steps.build(modules, run.dataset, f"pair-{pair[0]}-{pair[1]}-{method}", **COMPOSE[method])
        rows.append({"method": method, "classes": pair, "build": ref(build), "modules": [ref(m) for m in modules],
                     "scratch_model": ref(scratch), "composed_accuracy": build.metrics["accuracy"],
                     "scratch_accuracy": test_accuracy(scratch),
                     "test_images": sum(c["support"] for c in build.metrics["per_class"]),
                     "difference_points": round(100 * (build.metrics["accuracy"] - test_accuracy(scratch)), 3)})
    return rows


def _replace(run: SeedRun, halves: list) -> dict:
    """Swap class c (the seed picks it) of the base model's concern modules for another model's module of c."""
    target = run.class_names[run.seed % len(run.class_names)]
    donor = next(m for m in halves if target in m.class_names)
    own = run.modules(run.decomposition(run.base(), "concern"))
    other = run.modules(run.decomposition(donor, "concern"))
    options = COMPOSE["concern"]
    original = run.steps.build([own[c] for c in run.class_names], run.dataset, "replace-original", **options)
    swapped = [other[c] if c == target else own[c] for c in run.class_names]
    replaced = run.steps.build(swapped, run.dataset, f"replace-{target}", **options)
    return {"target": target, "donor_model": ref(donor), "module": ref(other[target]), "original": ref(original),
            "replaced": ref(replaced), "original_accuracy": original.metrics["accuracy"],
            "replaced_accuracy": replaced.metrics["accuracy"],
            "difference_points": round(100 * (replaced.metrics["accuracy"] - original.metrics["accuracy"]), 3)}
