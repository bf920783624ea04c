"""Experiment "accuracy": a more accurate model from modules (the ModelFoundry table). A pool of models, each
trained on a Dirichlet-skewed subset of the training split, is decomposed; per class the module with the best
validation F1 across the pool is chosen and the chosen modules composed. Compared with the pool's best single
model (chosen by validation accuracy) and with all modules of that one model composed the same way."""
from __future__ import annotations

from modules_registry.experiments.context import SeedRun, ref, test_accuracy
from modules_registry.selectors import module_spec

OPTIONS = {"strategy": "ensemble", "calibration": "linear"}


def run_accuracy(run: SeedRun) -> dict:
    p = run.profile
    method, preset, overrides = p.pool_method
    pool = []
    for i in range(p.pool_models):
        model = run.train(f"pool{i}", p.architecture, p.arch_kwargs, run._config(p.pool_train, seed=run.seed * 100 + i))
        validation = run.steps.evaluate(model, run.dataset, "val")
        decomposition = run._once(("pool-decomposition", model.pk), lambda m=model: run.steps.decompose(
            m, run.dataset, method, preset, overrides, run.seed))
        pool.append((model, validation, decomposition))
    best_model, best_validation, best_decomposition = max(pool, key=lambda item: (item[1].accuracy, -item[0].pk))
    chosen, sources = [], []
    for c in run.class_names:
        candidates = [(module_spec(module)["val_f1"], -model.pk, module, model)
                      for model, _, decomposition in pool
                      for module in [run.modules(decomposition).get(c)] if module is not None]
        val_f1, _, module, model = max(candidates, key=lambda item: item[:2])
        chosen.append(module)
        sources.append({"class": c, "module": ref(module), "model": ref(model), "val_f1": val_f1})
    composed = run.steps.build(chosen, run.dataset, "best-modules", **OPTIONS)
    own = run.modules(best_decomposition)
    one_model = run.steps.build([own[c] for c in run.class_names], run.dataset, "one-model-modules", **OPTIONS)
    best_single = test_accuracy(best_model)
    return {"pool": [{"model": ref(m), "val_accuracy": v.accuracy, "test_accuracy": test_accuracy(m),
                      "decomposition": ref(d)} for m, v, d in pool],
            "best_model": ref(best_model), "best_single_accuracy": best_single, "sources": sources,
            "composed": ref(composed), "composed_accuracy": composed.metrics["accuracy"],
            "one_model": ref(one_model), "one_model_accuracy": one_model.metrics["accuracy"],
            "gain_points": round(100 * (composed.metrics["accuracy"] - best_single), 3),
            "models_used": len({s["model"]["id"] for s in sources})}
