"""Decomposition bench on digits-32: train (or reuse) each base model, decompose it, extract the modules.

Per run it prints seconds per search (mask) epoch, the ratio to one training epoch of the same model,
batched vs one-module-at-a-time seconds per mask epoch (measured in the same run), time to the selected
result, composed vs base accuracy, mean kernel retention and mean module FLOPs fraction. The last
line is one JSON object with those figures per run.

    python bench/decompose.py --quick     # narrow models, fast preset (the < 10 min proof)
    python bench/decompose.py             # paper widths, both presets (hours on 2 CPU cores)
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import time_train_epoch, train_base  # noqa: E402
from splitter_engine.architectures import ArchSpec  # noqa: E402
from splitter_engine.data import load_builtin  # noqa: E402
from splitter_engine.extraction import extract_modules  # noqa: E402
from splitter_engine.methods import GradSplitterConfig, get_decomposer  # noqa: E402
from splitter_engine.methods.gradsplitter import _Search  # noqa: E402
from splitter_engine.methods.mask_scores import ste_masks  # noqa: E402
from splitter_engine.runtime import RunContext  # noqa: E402

QUICK_MODELS = (("simcnn", 0.125, 10), ("rescnn", 0.125, 10), ("incecnn", 0.125, 10), ("resnet18", 0.25, 10))
WARMUP_BATCHES = 2
FULL_MODELS = (("simcnn", 1.0, 20), ("rescnn", 1.0, 20), ("incecnn", 1.0, 20), ("resnet18", 1.0, 20))


def _timed_step(search: _Search, optimiser, step: int) -> float:
    """Seconds for one mask-search step (the search's own code path) on batch number ``step``."""
    size = search.config.batch_size
    idx = torch.arange(step * size, (step + 1) * size) % len(search.x)
    started = time.perf_counter()
    masks = ste_masks(search.scores, search.slot_group, search.n_groups)
    loss = F.cross_entropy(search._module_scores(search.x[idx], masks, search.sigmoid_loss), search.y[idx])
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return time.perf_counter() - started


def mask_epoch_seconds(model, data, preset: str, batches: int) -> tuple[float, float]:
    """Seconds per mask epoch with all modules in one pass and with one module per pass.

    The two are timed in alternating steps, so both see the same machine (a shared host's speed
    drifts by tens of percent within minutes), and each takes the median step after untimed warm-up
    steps that pay for kernel selection and allocation.
    """
    searches = [_Search(model, data, GradSplitterConfig.preset(preset, modules_per_pass=n), RunContext())
                for n in (0, 1)]
    optimisers = [torch.optim.Adam([s.scores, *s.heads.parameters()], lr=s.config.mask_lr) for s in searches]
    times: list[list[float]] = [[], []]
    for search in searches:
        search.gate.attach()
    try:
        for step in range(WARMUP_BATCHES + batches):
            for which, (search, optimiser) in enumerate(zip(searches, optimisers)):
                seconds = _timed_step(search, optimiser, step)
                if step >= WARMUP_BATCHES:
                    times[which].append(seconds)
    finally:
        for search in searches:
            search.gate.detach()
    steps_per_epoch = math.ceil(len(searches[0].x) / searches[0].config.batch_size)
    batched, single = (statistics.median(t) * steps_per_epoch for t in times)
    return batched, single


def run_one(name: str, width: float, train_epochs: int, preset: str, data, timing_batches: int) -> dict:
    spec = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, _ = train_base(spec, data, train_epochs)
    config = GradSplitterConfig.preset(preset)
    log = lambda f, stage, msg, m=None: print(f"    [{name} {preset}] {msg}", flush=True) if stage == "search" else None  # noqa: E731
    started = time.perf_counter()
    result = get_decomposer("gradsplitter").decompose(model, data, config, RunContext(progress=log))
    extract_started = time.perf_counter()
    modules = extract_modules(model, spec, result, data)
    timing_started = time.perf_counter()
    batched, single = mask_epoch_seconds(model, data, preset, timing_batches)
    m = result.metrics
    mask_epoch = m["seconds_per_mask_epoch"]
    train_epoch = time_train_epoch(spec, data)
    stages = {"decompose": extract_started - started, "extract": timing_started - extract_started,
              "timing": time.perf_counter() - timing_started}
    # The paper preset starts every score at 1 and Adam moves a score by at most about its lr per step,
    # so no kernel can go before ceil(1 / lr) steps, each one pass per module: a lower bound on its time.
    paper = GradSplitterConfig.preset("paper")
    steps_per_epoch = math.ceil(m["search_images"] / paper.batch_size)
    paper_first_drop = math.ceil(1 / paper.mask_lr) * single / steps_per_epoch
    return {
        "model": name, "width": width, "preset": preset, "base_accuracy": m["base_accuracy"],
        "composed_accuracy": m["composed_accuracy"], "accuracy_loss": m["accuracy_loss"],
        "mean_retention": m["mean_retention"],
        "module_flops_fraction": round(sum(x.flops_fraction for x in modules) / len(modules), 5),
        "module_params_fraction": round(sum(x.params_fraction for x in modules) / len(modules), 5),
        "mean_module_f1": round(sum(x.f1 for x in modules) / len(modules), 5),
        "seconds_per_search_epoch": mask_epoch, "seconds_per_train_epoch": round(train_epoch, 3),
        "search_to_train_epoch_ratio": round(mask_epoch / train_epoch, 3) if mask_epoch else None,
        "batched_seconds_per_epoch": round(batched, 3), "one_at_a_time_seconds_per_epoch": round(single, 3),
        "batched_speedup": round(single / batched, 3), "seconds_to_selected": m["seconds_to_selected"],
        "selected_epoch": m["selected_epoch"], "epochs_run": m["epochs_run"], "search_seconds": m["seconds"],
        "paper_seconds_to_first_drop_at_least": round(paper_first_drop, 1),
        "speedup_vs_paper_first_drop": round(paper_first_drop / m["seconds_to_selected"], 2),
        "bench_stage_seconds": {k: round(v, 1) for k, v in stages.items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="narrow models, fast preset only")
    parser.add_argument("--models", help="comma-separated subset, e.g. simcnn,resnet18")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_builtin("digits-32")
    plan = QUICK_MODELS if args.quick else FULL_MODELS
    presets = ("fast",) if args.quick else ("fast", "paper")
    if args.models:
        wanted = set(args.models.split(","))
        plan = tuple(p for p in plan if p[0] in wanted)
    started = time.perf_counter()
    runs = []
    for name, width, epochs in plan:
        for preset in presets:
            row = run_one(name, width, epochs, preset, data, timing_batches=5 if args.quick else 3)
            runs.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    summary = {"bench": "decompose", "quick": args.quick, "dataset": "digits-32", "threads": args.threads,
               "seconds": round(time.perf_counter() - started, 1), "runs": runs,
               "targets_met": all(r["accuracy_loss"] <= 0.01 and r["mean_retention"] <= 0.40 for r in runs)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
