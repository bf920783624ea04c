"""Patch a weak model: replace (or add) class c with a strong model's module for c, then calibrate.

The patched network runs the weak model (its outputs for every class but c) beside the strong module
(its score for c); their scales differ, so a calibration layer fitted on labelled samples (MODA's
k x k linear repair layer by default) turns the columns into comparable logits.
"""
from __future__ import annotations

import copy
import time

import torch

from splitter_engine.composition.calibration import PATCH_CALIBRATIONS, fit_calibration, fit_minmax
from splitter_engine.composition.compose import Composition, _accuracy_report
from splitter_engine.composition.fused import select_classes
from splitter_engine.composition.inputs import plan_inputs
from splitter_engine.composition.network import Branch, ComposedClassifier, ModuleScores, Renormalise
from splitter_engine.composition.options import MODES, PatchOptions, patched_class_names  # noqa: F401
from splitter_engine.composition.samples import labelled
from splitter_engine.composition.sources import BaseSource, ChosenModule
from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import run_batched
from splitter_engine.profile import model_size
from splitter_engine.runtime import EngineError, RunContext

def _class_report(report: dict, class_name: str) -> dict:
    row = next(r for r in report["per_class"] if r["class"] == class_name)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "precision": row["precision"],
            "recall": row["recall"], "f1": row["f1"], "support": row["support"]}


def _calibrated_weak(weak: BaseSource, options: PatchOptions, data: ImageDataset, names: list[str], spec,
                     c: str):
    """The weak model with the patch's calibration fitted to its own scores and no module swapped in (the
    control): what the calibration alone does, so that patched minus control is the module's own effect.
    Output columns follow ``names``; in 'add' mode class c's column is -inf (the weak model has no such class)."""
    network = ComposedClassifier([Branch(copy.deepcopy(weak.model).cpu().eval())],
                                 list(range(len(weak.class_names)))).eval()
    if options.calibration == "minmax" and options.mode == "replace":
        x, _ = labelled(data, "val", [c], spec)
        column = weak.class_names.index(c)
        network.calibration = fit_minmax(len(weak.class_names), column, run_batched(network.scores, x)[:, column])
    elif options.calibration in ("linear", "temperature"):
        x, y = labelled(data, "val", list(weak.class_names), spec, options.calibration_per_class, options.seed)
        network.calibration = fit_calibration(options.calibration, run_batched(network.scores, x), y,
                                              [False] * len(weak.class_names))
    # 'none', and 'minmax' when adding (no column of c to scale: the softmax keeps the weak model's argmax)
    if options.mode == "replace":
        return network
    return lambda b: torch.cat([network(b), torch.full((len(b), 1), float("-inf"))], 1)


def patch(weak: BaseSource, module: ChosenModule, options: PatchOptions, data: ImageDataset,
          ctx: RunContext | None = None) -> Composition:
    """The patched classifier with class-c precision/recall/F1 and accuracy on the test split: before (the weak
    model as it is), control (the weak model with the same calibration and no module) and after."""
    ctx = ctx or RunContext()
    started = time.perf_counter()
    names = patched_class_names(weak.class_names, module.class_name, options.mode)
    c = module.class_name
    spec, _ = plan_inputs([weak.spec, module.input_spec], ["weak model", c], options.adapt_inputs)
    kept = [i for i, n in enumerate(weak.class_names) if n != c]
    ctx.report(0.05, "patch", f"{options.mode} class {c!r} of the weak model")
    weak_net, _ = select_classes(copy.deepcopy(weak.model).cpu().eval(), weak.spec.shape, kept)
    adapter = Renormalise(spec, module.input_spec) if module.input_spec != spec else None
    branches = [Branch(weak_net), Branch(ModuleScores([module.network()]), adapter)]
    position = names.index(c)
    columns = [names.index(weak.class_names[i]) for i in kept] + [position]  # concatenated column -> output
    order = [columns.index(j) for j in range(len(names))]
    model = ComposedClassifier(branches, order).eval()
    probability = [j == position and module.scoring.probability for j in range(len(names))]
    test = labelled(data, "test", names, spec)
    metrics: dict = {"mode": options.mode, "calibration": options.calibration, "class": c, "classes": len(names)}
    if options.calibration == "minmax":  # CNNSplitter's patch: min/max of the module's score on class-c val images
        x, _ = labelled(data, "val", [c], spec)
        model.calibration = fit_minmax(len(names), position, run_batched(model.scores, x)[:, position])
        metrics["calibration_samples"] = int(len(x))
    elif options.calibration != "none":
        x, y = labelled(data, "val", names, spec, options.calibration_per_class, options.seed)
        model.calibration = fit_calibration(options.calibration, run_batched(model.scores, x), y, probability)
        metrics["calibration_samples"] = int(len(y))
    ctx.report(0.5, "evaluate", f"before and after on {len(test[1])} test images")
    weak_eval = weak.model.eval()
    if options.mode == "replace":
        before = _accuracy_report(weak_eval, *test, names)
    else:  # the weak model never predicts the added class: score its outputs with class c's column at -inf
        pad = lambda b: torch.cat([weak_eval(b), torch.full((len(b), 1), float("-inf"))], 1)  # noqa: E731
        before = _accuracy_report(pad, *test, names)
    control = _accuracy_report(_calibrated_weak(weak, options, data, names, spec, c), *test, names)
    after = _accuracy_report(model, *test, names)
    metrics.update({"before": _class_report(before, c), "control": _class_report(control, c),
                    "after": _class_report(after, c), "before_per_class": before["per_class"],
                    "control_per_class": control["per_class"], "per_class": after["per_class"],
                    "accuracy": after["accuracy"], "macro_f1": after["macro_f1"], "test_samples": int(len(test[1]))})
    metrics["f1_gain"] = round(metrics["after"]["f1"] - metrics["before"]["f1"], 5)
    metrics["module_f1_gain"] = round(metrics["after"]["f1"] - metrics["control"]["f1"], 5)  # the module's own
    size = model_size(model, spec)
    metrics.update({"params": size.params, "flops": size.flops, "compose_seconds": round(time.perf_counter() - started, 3)})
    return Composition(model=model, class_names=names, spec=spec, params=size.params, flops=size.flops, metrics=metrics)
