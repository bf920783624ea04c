"""Experiment "patching": weak models as the papers build them (a small net, and the same network under-trained),
each patched on the class it is weakest on (lowest validation F1) with a strong model's module: GradSplitter's
with the builder's linear calibration, CNNSplitter's with its min-max rule. The patch job measures the target
class before, after, and with the same calibration and no module (the control)."""
from __future__ import annotations

from modules_registry.experiments.context import SeedRun, ref

PATCHES = (("gradsplitter", "linear"), ("cnnsplitter", "minmax"))


def weakest_class(evaluation) -> str:
    """The class with the lowest F1 on the split the evaluation ran on (validation: no test data is read)."""
    rows = evaluation.metrics["per_class"]
    return min(rows, key=lambda r: (r["f1"], r["name"]))["name"]


def other_accuracy(per_class: list[dict], target: str) -> float:
    """Accuracy on the test images of every class but the target (recall weighted by support)."""
    rows = [r for r in per_class if r["class"] != target]
    total = sum(r["support"] for r in rows)
    return round(sum(r["recall"] * r["support"] for r in rows) / total, 5) if total else 0.0


def _weak_models(run: SeedRun) -> list[tuple[str, object]]:
    p = run.profile
    small = run.train("weak-small", p.small_architecture, p.small_kwargs, run.config(p.small_train))
    short = run.train("weak-short", p.architecture, p.arch_kwargs, run.config(p.short_train))
    return [("small net", small), ("under-trained", short)]


def run_patching(run: SeedRun) -> dict:
    strong = run.base()
    rows = []
    for weakness, weak in _weak_models(run):
        validation = run.steps.evaluate(weak, run.dataset, "val")
        target = weakest_class(validation)
        for method, calibration in PATCHES:
            module = run.modules(run.decomposition(strong, method))[target]
            build = run.steps.patch(weak, module, run.dataset, f"{weakness}-{method}", calibration)
            m = build.metrics
            row = {"weak": weakness, "weak_model": ref(weak), "validation": ref(validation), "target": target,
                   "method": method, "calibration": calibration, "module": ref(module), "build": ref(build),
                   "target_support": m["before"]["support"]}
            for stage in ("before", "control", "after"):
                row.update({f"{stage}_{k}": m[stage][k] for k in ("precision", "recall", "f1")})
            row["other_accuracy_before"] = other_accuracy(m["before_per_class"], target)
            row["other_accuracy_after"] = other_accuracy(m["per_class"], target)
            rows.append(row)
    return {"strong_model": ref(strong), "rows": rows}
