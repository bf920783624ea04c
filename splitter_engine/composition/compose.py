"""Compose chosen (module, class) pairs into one k-class classifier: ensemble or fused, then calibrate."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from splitter_engine.composition.calibration import fit_calibration
from splitter_engine.composition.fused import refit_output_layer, select_classes, slice_trunk
from splitter_engine.composition.inputs import plan_inputs
from splitter_engine.composition.network import Branch, ComposedClassifier, ModuleScores, Renormalise
from splitter_engine.composition.options import STRATEGIES, ComposeOptions  # noqa: F401
from splitter_engine.composition.samples import labelled
from splitter_engine.composition.sources import BaseSource, ChosenModule
from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import metrics_from_predictions, run_batched
from splitter_engine.profile import model_size
from splitter_engine.runtime import EngineError, RunContext
from splitter_engine.specs import InputSpec

@dataclass
class Composition:
    model: ComposedClassifier
    class_names: list[str]
    spec: InputSpec
    params: int
    flops: int
    metrics: dict


def check_selection(chosen: list[ChosenModule]) -> list[str]:
    if not chosen:
        raise EngineError("choose at least two classes to build a classifier")
    names = [c.class_name for c in chosen]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EngineError(f"each class can be chosen once; repeated: {', '.join(duplicates)}")
    if len(chosen) < 2:
        raise EngineError("a classifier needs at least two classes; choose one more")
    return names


def _ensemble_branches(chosen, adapters) -> tuple[list[Branch], list[int], list[bool]]:
    branches, columns = [], []
    for key, (adapter, members) in adapters.items():
        branches.append(Branch(ModuleScores([chosen[i].network() for i in members]), adapter))
        columns += members
    return branches, columns, [chosen[i].scoring.probability for i in columns]


def _fused_branches(chosen, adapters, bases: dict[str, BaseSource], refit_data, ctx) -> tuple[list[Branch], list[int], list[bool], dict]:
    by_base: dict[str, list[int]] = {}
    for i, item in enumerate(chosen):
        by_base.setdefault(item.base_key, []).append(i)
    branches, columns, info = [], [], {"trunks": []}
    for n, (key, members) in enumerate(by_base.items()):
        ctx.check_cancelled()
        if key not in bases:
            raise EngineError(f"the fused strategy needs the base model the module for {chosen[members[0]].class_name!r} was cut from")
        base = bases[key]
        roots = chosen[members[0]].group_roots
        if any(chosen[i].group_roots != roots for i in members):
            raise EngineError("modules of one base model come from decompositions with different channel groups")
        trunk = slice_trunk(base.model, base.spec.shape, roots, [chosen[i].kept for i in members])
        network, layer = select_classes(trunk, base.spec.shape, [chosen[i].class_index for i in members])
        adapter = adapters[chosen[members[0]].input_spec][0]
        trunk_info = {"base": key, "classes": [chosen[i].class_name for i in members], "output_layer": layer}
        if refit_data is not None:
            x, y = refit_data
            keep = torch.isin(y, torch.tensor(members))
            local = torch.tensor([members.index(int(v)) for v in y[keep]], dtype=torch.long)
            trunk_info.update(refit_output_layer(network, layer, adapter(x[keep]), local))
        info["trunks"].append(trunk_info)
        branches.append(Branch(network, adapter))
        columns += members
        ctx.report(0.1 + 0.4 * (n + 1) / len(by_base), "compose", f"trunk {n + 1}/{len(by_base)} sliced")
    return branches, columns, [False] * len(columns), info


def _accuracy_report(model_fn, x, y, names, check=None) -> dict:
    predicted = run_batched(model_fn, x, check=check).argmax(1)
    report = metrics_from_predictions(y.numpy(), predicted.numpy(), names, split="test")
    return {"accuracy": round(report.accuracy, 5), "macro_f1": round(report.macro_f1, 5),
            "per_class": [{"class": c.name, "precision": round(c.precision, 5), "recall": round(c.recall, 5),
                           "f1": round(c.f1, 5), "support": c.support} for c in report.per_class]}


@torch.no_grad()
def reference_accuracy(base: BaseSource, chosen: list[ChosenModule], x: torch.Tensor, y: torch.Tensor) -> float:
    """The base model restricted to the chosen classes: argmax over its own logits for them."""
    positions = torch.tensor([c.class_index for c in chosen])
    logits = run_batched(lambda b: base.model.eval()(b).index_select(1, positions), x)
    return round(float((logits.argmax(1) == y).float().mean()), 5)


def compose(chosen: list[ChosenModule], options: ComposeOptions, data: ImageDataset | None = None,
            bases: dict[str, BaseSource] | None = None, ctx: RunContext | None = None) -> Composition:
    """The composed classifier, its size and, when ``data`` is given, its accuracy on the test split.

    ``data`` supplies the calibration samples (its val split) and the test images; it must have every
    chosen class by name. ``bases`` (by base key) are needed for ``fused``; for ``ensemble`` a single
    base makes the report include the base model's accuracy restricted to the chosen classes.
    """
    ctx = ctx or RunContext()
    bases = bases or {}
    started = time.perf_counter()
    names = check_selection(chosen)
    if options.needs_data and data is None:
        raise EngineError(f"calibration {options.calibration!r}{' and refit' if options.refit else ''} need a labelled "
                          "data set with every chosen class")
    spec, adapters = plan_inputs([c.input_spec for c in chosen], names, options.adapt_inputs)
    adapter_modules = {s: (Renormalise(spec, s) if s != spec else nn.Identity(), []) for s in adapters}
    for i, item in enumerate(chosen):
        adapter_modules[item.input_spec][1].append(i)
    calib = test = None
    if data is not None:
        calib = labelled(data, "val", names, spec, options.calibration_per_class, options.seed)
        test = labelled(data, "test", names, spec)
    ctx.report(0.05, "compose", f"{options.strategy} of {len(chosen)} classes")
    if options.strategy == "ensemble":
        branches, columns, probability, info = *_ensemble_branches(chosen, adapter_modules), {}
    else:
        refit_data = calib if options.refit else None
        branches, columns, probability, info = _fused_branches(chosen, adapter_modules, bases, refit_data, ctx)
    order = [columns.index(j) for j in range(len(chosen))]
    probability = [probability[columns.index(j)] for j in range(len(chosen))]
    model = ComposedClassifier(branches, order).eval()
    ctx.check_cancelled()
    metrics: dict = {"strategy": options.strategy, "calibration": options.calibration, "classes": len(chosen),
                     "sources": len({c.base_key for c in chosen}), **info,
                     "adapted_inputs": sum(1 for s in adapters if s != spec)}
    if options.calibration != "none":
        scores = run_batched(model.scores, calib[0], check=ctx.check_cancelled)
        model.calibration = fit_calibration(options.calibration, scores, calib[1], probability)
        metrics["calibration_samples"] = int(len(calib[1]))
    if test is not None:
        ctx.report(0.6, "evaluate", f"evaluating on {len(test[1])} test images")
        metrics.update(_accuracy_report(model, *test, names, ctx.check_cancelled))
        metrics["test_samples"] = int(len(test[1]))
        if options.calibration != "none":
            metrics["accuracy_uncalibrated"] = _accuracy_report(model.scores, *test, names)["accuracy"]
        if len({c.base_key for c in chosen}) == 1 and chosen[0].base_key in bases:
            base = bases[chosen[0].base_key]
            if base.spec == spec:
                metrics["base_accuracy_on_classes"] = reference_accuracy(base, chosen, *test)
    size = model_size(model, spec)
    metrics.update({"params": size.params, "flops": size.flops, "compose_seconds": round(time.perf_counter() - started, 3)})
    ctx.report(0.7, "compose", f"{size.params:,} parameters, {size.flops:,} FLOPs")
    return Composition(model=model, class_names=names, spec=spec, params=size.params, flops=size.flops, metrics=metrics)
