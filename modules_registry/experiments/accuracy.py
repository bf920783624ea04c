"""Experiment "accuracy": a more accurate model from modules (the ModelFoundry table). A pool of models, each
trained on a Dirichlet-skewed subset of the training split, is decomposed; per class the module with the best
validation F1 across the pool is chosen and the chosen modules composed. Compared with the pool's best single
model (chosen by validation accuracy) and with all modules of that one model composed the same way."""
from __future__ import annotations

from modules_registry.experiments.context import SeedRun, ref, test_accuracy
from modules_registry.job_runtime import JobInputError
from modules_registry.selectors import module_spec

OPTIONS = {"strategy": "ensemble", "calibration": "linear"}


def _pool(run: SeedRun) -> list[dict]:
    """The pool: each model with its validation evaluation and its decomposition (None, with the reason, where the
    method refuses it, e.g. concern identification on a model that never confidently predicts a class it saw few
    images of)."""
    p = run.profile
    method, preset, overrides = p.pool_method
    pool = []
    for i in range(p.pool_models):
        model = run.train(f"pool{i}", p.architecture, p.arch_kwargs, run.config(p.pool_train, seed=run.seed * 100 + i))
        item = {"model": model, "validation": run.steps.evaluate(model, run.dataset, "val"), "decomposition": None,
                "refused": ""}
        try:
            item["decomposition"] = run.once(("pool-decomposition", model.pk), lambda m=model: run.steps.decompose(
                m, run.dataset, method, preset, overrides, run.seed))
        except JobInputError as exc:
            item["refused"] = str(exc)
        pool.append(item)
    return pool


def _best_modules(run: SeedRun, decomposed: list[dict]) -> tuple[list, list[dict]]:
    """Per class, the module with the best validation F1 across the decomposed pool."""
    chosen, sources = [], []
    for c in run.class_names:
        candidates = [(module_spec(module)["val_f1"], -item["model"].pk, module, item["model"])
                      for item in decomposed for module in [run.modules(item["decomposition"]).get(c)]
                      if module is not None]
        if not candidates:
            raise JobInputError(f"no model of the pool has a module for class {c!r}")
        val_f1, _, module, model = max(candidates, key=lambda candidate: candidate[:2])
        chosen.append(module)
        sources.append({"class": c, "module": ref(module), "model": ref(model), "val_f1": val_f1})
    return chosen, sources


def run_accuracy(run: SeedRun) -> dict:
    pool = _pool(run)
    by_validation = lambda item: (item["validation"].accuracy, -item["model"].pk)  # noqa: E731
    best = max(pool, key=by_validation)
    decomposed = [item for item in pool if item["decomposition"] is not None]
    if not decomposed:
        raise JobInputError(f"the pool's method refused every model: {pool[0]['refused']}")
    chosen, sources = _best_modules(run, decomposed)
    composed = run.steps.build(chosen, run.dataset, "best-modules", **OPTIONS)
    best_decomposed = max(decomposed, key=by_validation)  # the best single model, where the method took it
    own = run.modules(best_decomposed["decomposition"])
    one_model = run.steps.build([own[c] for c in run.class_names], run.dataset, "one-model-modules", **OPTIONS)
    best_single = test_accuracy(best["model"])
    return {"pool": [{"model": ref(item["model"]), "val_accuracy": item["validation"].accuracy,
                      "test_accuracy": test_accuracy(item["model"]), "refused": item["refused"],
                      "decomposition": ref(item["decomposition"]) if item["decomposition"] else None}
                     for item in pool],
            "best_model": ref(best["model"]), "best_single_accuracy": best_single, "sources": sources,
            "composed": ref(composed), "composed_accuracy": composed.metrics["accuracy"],
            "one_model": ref(one_model), "one_model_source": ref(best_decomposed["model"]),
            "one_model_accuracy": one_model.metrics["accuracy"],
            "gain_points": round(100 * (composed.metrics["accuracy"] - best_single), 3),
            "models_used": len({s["model"]["id"] for s in sources}), "models_decomposed": len(decomposed)}
