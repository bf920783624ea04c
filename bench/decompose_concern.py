"""Concern identification (Pan & Rajan) on the decomposition bench's models: decomposition, reuse, replace.

Per model and preset: voting accuracy of all N modules vs the model on the test split, the modules' mean
params and FLOPs as a fraction of the model's (physically sliced), kernels kept, tau, wall and CPU seconds.

Reuse, measured as the paper does for its intra-data-set scenario: 4 classes drawn at random (seeded), the
6 pairs of them; per pair the two modules composed by voting (no calibration) against a model of the same
architecture trained from scratch on those two classes with the base model's recipe; the figure is the
mean of (composed - retrained) test accuracy on the pair's test images (the paper: +2.5 % intra, -7.63 %
inter-data-set, -2.3 % overall as its abstract says).

Replace, as the paper does it: a model's set of N modules with the module of one class swapped for the same
class's module of another model (the paper: ResNet-20's into ResNet-32's set), composed by voting; the
figure is the mean over the N classes of (replaced composition - the target model) test accuracy (the paper:
-0.5 % in its abstract, +0.7 % top-1 intra-data-set). The same with a temperature calibration fitted on 50
validation images per class (the hub's answer to scores of different models) is reported beside it.

    python bench/decompose.py --quick --methods concern
"""
from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import torch

from bench.base_models import accuracy, train_base
from splitter_engine.architectures import ArchSpec
from splitter_engine.composition import fit_calibration
from splitter_engine.composition.samples import labelled
from splitter_engine.data.subset import restrict_to_classes
from splitter_engine.evaluation import run_batched
from splitter_engine.extraction import extract_modules
from splitter_engine.methods import get_decomposer
from splitter_engine.runtime import RunContext

PRESETS = ("paper", "sliced")
# The targets: paper within 2 points; sliced at most 70 % of the params at a loss of at most 3 points.
PAPER_MAX_LOSS, SLICED_MAX_LOSS, SLICED_MAX_PARAMS = 0.02, 0.03, 0.70


@dataclasses.dataclass
class Decomposed:
    name: str
    spec: ArchSpec
    model: torch.nn.Module
    result: object
    modules: list
    row: dict


def decompose_one(name: str, width: float, epochs: int, preset: str, data, seed: int, **overrides) -> Decomposed:
    spec = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, _ = train_base(spec, data, epochs)
    decomposer = get_decomposer("concern")
    config = decomposer.make_config(preset, seed=seed, **overrides)
    cpu0, started = time.process_time(), time.perf_counter()
    result = decomposer.decompose(model, data, config, RunContext())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    extract_started = time.perf_counter()
    modules = extract_modules(model, spec, result, data)
    m = result.metrics
    row = {
        "method": "concern", "model": name, "width": width, "preset": preset, **({"overrides": overrides} if overrides else {}),
        "base_accuracy": m["base_accuracy"], "composed_accuracy": m["composed_accuracy"],
        "accuracy_loss": m["accuracy_loss"], "val_base_accuracy": m["val_base_accuracy"],
        "val_composed_accuracy": m["val_composed_accuracy"], "tau": m["tau"],
        "mean_retention": m["mean_retention"],
        "module_params_fraction": round(float(np.mean([x.params_fraction for x in modules])), 5),
        "module_params_fraction_max": round(float(np.max([x.params_fraction for x in modules])), 5),
        "module_flops_fraction": round(float(np.mean([x.flops_fraction for x in modules])), 5),
        "mean_module_f1": round(float(np.mean([x.f1 for x in modules])), 5),
        "bln_inputs_removed_mean": round(float(np.mean(m["bln_inputs_removed"])), 2),
        "positives_mean": round(float(np.mean(m["positives"])), 1),
        "decompose_seconds": round(seconds, 2), "decompose_cpu_seconds": round(cpu, 2),
        "seconds_by_stage": m["seconds_by_stage"], "extract_seconds": round(time.perf_counter() - extract_started, 2),
        "history": [{k: h[k] for k in ("tau", "accuracy", "retention", "chosen")} for h in result.history],
    }
    return Decomposed(name, spec, model, result, modules, row)


@torch.no_grad()
def paper_positional_accuracy(model, data, seed: int) -> dict:
    """The paper's own modules, position by position: every value a consumer layer receives (after the
    activation, so at the pre-activation map's positions) that is zero for all of a class's observed inputs
    is zeroed at run time, all weights kept; channeled head with MC-BLN, voting. Test and val accuracy.

    It differs from the paper where a value reaches an add before an activation (a residual branch): the
    paper masks the branch's conv output there, this masks the add's activated output."""
    from splitter_engine.methods.concern import _Concern

    runner = _Concern(model, data, get_decomposer("concern").make_config("paper", seed=seed), RunContext())
    model = runner.model  # the run's copy: the consumers below are its layers
    positives, negatives = runner.observed_sets(runner._probabilities(runner.x))
    consumers = [module for module, _, _ in runner.gate.consumer_indices()]
    n = runner.n
    used: dict[int, torch.Tensor] = {}
    current: list[torch.Tensor] = []

    def record(module, args):
        bits = (args[0] != 0).flatten(1).float()
        used[id(module)] = used.get(id(module), 0) + current[0].t() @ bits

    pool = np.unique(np.concatenate([*positives, *negatives]))
    member = torch.zeros(len(pool), n)
    where = {int(i): k for k, i in enumerate(pool)}
    for c in range(n):
        for i in (*positives[c], *negatives[c]):
            member[where[int(i)], c] = 1.0
    handles = [m.register_forward_pre_hook(record) for m in consumers]
    try:
        for start in range(0, len(pool), 256):
            current[:] = [member[start:start + 256]]
            model(runner.x[torch.from_numpy(pool[start:start + 256])])
    finally:
        for h in handles:
            h.remove()
    layer = model.get_submodule(runner.output_layer)

    def scores(x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(x), n)
        features: list[torch.Tensor] = []
        for c in range(n):
            def gate(module, args, c=c):
                keep = (used[id(module)][c] > 0).view(1, *args[0].shape[1:]).to(args[0].dtype)
                return (args[0] * keep,) + tuple(args[1:])
            handles = [m.register_forward_pre_hook(gate) for m in consumers]
            handles.append(layer.register_forward_hook(lambda mod, args, out: features.append(args[0])))
            try:
                features.clear()
                model(x)
            finally:
                for h in handles:
                    h.remove()
            z = features[-1] @ runner.weight[c].t() + runner.bias[c]
            out[:, c] = torch.softmax(z, 1)[:, 0]
        return out

    kept = float(np.mean([float((used[id(m)] > 0).float().mean()) for m in consumers]))
    return {"test": round(float((scores(runner.x_test).argmax(1) == runner.y_test).float().mean()), 5),
            "val": round(float((scores(runner.x_val).argmax(1) == runner.y_val).float().mean()), 5),
            "positions_kept": round(kept, 5)}


@torch.no_grad()
def module_scores(modules, x: torch.Tensor) -> torch.Tensor:
    """B x N: every extracted module's probability for its own class (the sliced networks themselves)."""
    return torch.stack([m.network(x) for m in modules], 1)


def reuse_experiment(run: Decomposed, data, width: float, epochs: int, seed: int, classes: int = 4) -> dict:
    """Pairs of ``classes`` random classes: the pair's two modules by voting vs a model retrained on the pair."""
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(data.num_classes, classes, replace=False).tolist())
    x, y = data.tensors("test")
    scores = module_scores(run.modules, x)
    logits = run_batched(run.model, x)
    pairs = []
    for i, j in itertools.combinations(picked, 2):
        names = [data.class_names[i], data.class_names[j]]
        on_pair = (y == i) | (y == j)
        truth = (y[on_pair] == j).long()
        composed = float((scores[on_pair][:, [i, j]].argmax(1) == truth).float().mean())
        base = float((logits[on_pair][:, [i, j]].argmax(1) == truth).float().mean())
        subset = dataclasses.replace(restrict_to_classes(data, names), name=f"{data.name}-classes-{i}-{j}")
        spec = ArchSpec(run.name, 2, data.spec.channels, {"width": width})
        retrained, _ = train_base(spec, subset, epochs)
        xs, ys = subset.tensors("test")
        pairs.append({"classes": names, "composed": round(composed, 5), "base_on_pair": round(base, 5),
                      "retrained": round(accuracy(retrained, xs, ys), 5)})
    diffs = [p["composed"] - p["retrained"] for p in pairs]
    return {"model": run.name, "preset": run.row["preset"], "classes": [data.class_names[c] for c in picked],
            "pairs": pairs, "mean_composed_minus_retrained": round(float(np.mean(diffs)), 5)}


def replace_experiment(target: Decomposed, donor: Decomposed, data, seed: int) -> dict:
    """Each class's module of ``target`` swapped for ``donor``'s: voting, and voting after a per-module
    temperature calibration fitted on 50 validation images per class (what a calibrated build does)."""
    names = list(data.class_names)
    x, y = data.tensors("test")
    xv, yv = labelled(data, "val", names, data.spec, 50, seed)
    target_test, donor_test = module_scores(target.modules, x), module_scores(donor.modules, x)
    target_val, donor_val = module_scores(target.modules, xv), module_scores(donor.modules, xv)
    target_accuracy = accuracy(target.model, x, y)
    own = float((target_test.argmax(1) == y).float().mean())
    rows = []
    for c in range(len(names)):
        test, val = target_test.clone(), target_val.clone()
        test[:, c], val[:, c] = donor_test[:, c], donor_val[:, c]
        layer = fit_calibration("temperature", val, yv, [True] * len(names))
        with torch.no_grad():
            calibrated = float((layer(test).argmax(1) == y).float().mean())
        rows.append({"class": names[c], "voting": round(float((test.argmax(1) == y).float().mean()), 5),
                     "calibrated": round(calibrated, 5)})
    return {"target": target.name, "donor": donor.name, "preset": target.row["preset"],
            "target_model_accuracy": round(target_accuracy, 5), "target_voting_accuracy": round(own, 5),
            "donor_model_accuracy": donor.row["base_accuracy"], "per_class": rows,
            "mean_voting_minus_target_model": round(float(np.mean([r["voting"] for r in rows])) - target_accuracy, 5),
            "mean_calibrated_minus_target_model": round(float(np.mean([r["calibrated"] for r in rows])) - target_accuracy, 5)}


def concern_bench(plan, data, seed: int, presets=PRESETS, reuse_model: str = "rescnn",
                  replace_pair: tuple[str, str] = ("rescnn", "resnet18"), extra: bool = True) -> dict:
    """Every (model, preset) decomposed; reuse on ``reuse_model``; replace of ``replace_pair`` (target, donor)."""
    runs: dict[tuple[str, str], Decomposed] = {}
    rows = []
    for name, width, epochs in plan:
        for preset in presets:
            run = decompose_one(name, width, epochs, preset, data, seed)
            runs[(name, preset)] = run
            rows.append(run.row)
            print("  ".join(f"{k}={v}" for k, v in run.row.items() if k != "history"), flush=True)
        if extra and "paper" in presets:  # the paper's own position masks; MC-BLN's part: the paper preset without it
            positional = paper_positional_accuracy(runs[(name, "paper")].model, data, seed)
            runs[(name, "paper")].row["paper_positional"] = positional
            print(f"paper, position masks: {positional}", flush=True)
            rows.append(decompose_one(name, width, epochs, "paper", data, seed, bln_delta=0.0).row)
            print("  ".join(f"{k}={v}" for k, v in rows[-1].items() if k != "history"), flush=True)
    widths = {name: (width, epochs) for name, width, epochs in plan}
    reuse, replace = [], []
    for preset in presets:
        if reuse_model in widths and (reuse_model, preset) in runs:
            reuse.append(reuse_experiment(runs[(reuse_model, preset)], data, *widths[reuse_model], seed))
            print(f"reuse {preset}: {reuse[-1]['mean_composed_minus_retrained']}", flush=True)
        target, donor = replace_pair
        if (target, preset) in runs and (donor, preset) in runs:
            replace.append(replace_experiment(runs[(target, preset)], runs[(donor, preset)], data, seed))
            print(f"replace {preset}: {replace[-1]['mean_voting_minus_target_model']} "
                  f"(calibrated {replace[-1]['mean_calibrated_minus_target_model']})", flush=True)
    main = [r for r in rows if "overrides" not in r]
    targets = {
        "paper_within_2_points": all(r["accuracy_loss"] <= PAPER_MAX_LOSS for r in main if r["preset"] == "paper"),
        "sliced_70pct_params_within_3_points": all(
            r["accuracy_loss"] <= SLICED_MAX_LOSS and r["module_params_fraction"] <= SLICED_MAX_PARAMS
            for r in main if r["preset"] == "sliced"),
        "resnet18_within_30_seconds": all(r["decompose_seconds"] <= 30 for r in main if r["model"] == "resnet18"),
    }
    return {"runs": rows, "reuse": reuse, "replace": replace, "targets": targets}
