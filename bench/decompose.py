"""Decomposition bench on digits-32: train (or reuse) each base model, decompose it, extract the modules.

Per run it prints seconds per search (mask) epoch, the ratio to one training epoch of the same model,
batched vs one-module-at-a-time seconds per mask epoch (sampled in turn during the search), time to the
selected result against the paper preset's lower bound to its first dropped kernel, composed vs base
accuracy, mean kernel retention and mean module FLOPs fraction. The last line is one JSON object with
those figures per run.

    python bench/decompose.py --quick     # narrow models, fast preset (the < 10 min proof)
    python bench/decompose.py             # paper widths, both presets (hours on 2 CPU cores)
    python bench/decompose.py --quick --methods concern   # concern identification (bench/decompose_concern.py)
    python bench/decompose.py --quick --methods gradsplitter,cnnsplitter   # both splitters and the paper's
                                         # claim (GradSplitter keeps 19.88 % fewer kernels at less loss)
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import train_base  # noqa: E402
from splitter_engine.architectures import ArchSpec, build_model  # noqa: E402
from splitter_engine.data import ImageDataset, load_builtin  # noqa: E402
from splitter_engine.data.read import read_dataset  # noqa: E402
from splitter_engine.extraction import extract_modules  # noqa: E402
from splitter_engine.gating import ChannelGate  # noqa: E402
from splitter_engine.methods import GradSplitterConfig, get_decomposer  # noqa: E402
from splitter_engine.methods.gradsplitter import _Search  # noqa: E402
from splitter_engine.methods.mask_scores import ste_masks  # noqa: E402
from splitter_engine.runtime import RunContext  # noqa: E402

# SimCNN (plain VGG, dropout 0.5) trains for 20 epochs: after 10 it is at 98.9 % on the test images and
# its modules lose test images from 80 % of kernels kept down; after 20 it is at 100 %.
QUICK_MODELS = (("simcnn", 0.125, 20), ("rescnn", 0.125, 10), ("incecnn", 0.125, 10), ("resnet18", 0.25, 10))
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


def _reference_style(search: _Search, model: torch.nn.Module) -> _Search:
    """``search`` switched back to how the reference code runs: BatchNorm not folded, tensors in the
    default memory format (its one module per pass comes from the config)."""
    search.model = copy.deepcopy(model).eval().to(search.device)
    for p in search.model.parameters():
        p.requires_grad_(False)
    search.gate = ChannelGate(search.model, search.graph)
    search.x = search.x.contiguous()
    return search


class StepTimer:
    """Step times sampled in turn while the search runs, so the figures compared below see the same
    machine (a shared host's speed drifts by up to 2x within minutes): a search step with all modules
    in one pass, with one module per pass, with one module per pass run the reference code's way
    (unfolded BatchNorm, default memory format), and one training step of a fresh model.
    Each figure is the median over the samples, after untimed warm-up steps.
    """

    NAMES = ("batched", "single", "reference", "train")

    def __init__(self, model, spec: ArchSpec, data, preset: str):
        self.searches = [_Search(model, data, GradSplitterConfig.preset(preset, modules_per_pass=n), RunContext())
                         for n in (0, 1, 1)]
        _reference_style(self.searches[2], model)
        self.optimisers = [torch.optim.Adam([s.scores, *s.heads.parameters()], lr=s.config.mask_lr)
                           for s in self.searches]
        self.trainee = build_model(spec).to(memory_format=torch.channels_last).train()
        self.train_optimiser = torch.optim.SGD(self.trainee.parameters(), lr=0.01, momentum=0.9)
        self.x_train, self.y_train = data.tensors("train")
        self.x_train = self.x_train.contiguous(memory_format=torch.channels_last)
        self.batch_size = self.searches[0].config.batch_size
        self.steps_per_epoch = math.ceil(len(self.x_train) / self.batch_size)
        self.times: dict[str, list[float]] = {name: [] for name in self.NAMES}
        self.step = 0
        for _ in range(WARMUP_BATCHES):
            self.sample(record=False)

    def _train_step(self, step: int) -> float:
        idx = torch.arange(step * self.batch_size, (step + 1) * self.batch_size) % len(self.x_train)
        started = time.perf_counter()
        loss = F.cross_entropy(self.trainee(self.x_train[idx]), self.y_train[idx])
        self.train_optimiser.zero_grad()
        loss.backward()
        self.train_optimiser.step()
        return time.perf_counter() - started

    def sample(self, record: bool = True) -> None:
        seconds = []
        for search, optimiser in zip(self.searches, self.optimisers):
            with search.gate.attached():
                seconds.append(_timed_step(search, optimiser, self.step))
        seconds.append(self._train_step(self.step))
        self.step += 1
        if record:
            for name, value in zip(self.NAMES, seconds):
                self.times[name].append(value)

    def seconds_per_epoch(self) -> dict[str, float]:
        return {name: statistics.median(t) * self.steps_per_epoch for name, t in self.times.items()}


def run_one(name: str, width: float, train_epochs: int, preset: str, data, timing_batches: int, seed: int) -> dict:
    spec = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, _ = train_base(spec, data, train_epochs)
    config = GradSplitterConfig.preset(preset, seed=seed)
    timer = StepTimer(model, spec, data, preset)

    def progress(fraction, stage, message, metrics=None):
        if stage == "search":
            print(f"    [{name} {preset}] {message}", flush=True)
            if metrics["epoch"] % 2:  # between epochs, so not counted in the search's own times
                timer.sample()

    started = time.perf_counter()
    result = get_decomposer("gradsplitter").decompose(model, data, config, RunContext(progress=progress))
    extract_started = time.perf_counter()
    modules = extract_modules(model, spec, result, data)
    timing_started = time.perf_counter()
    while len(timer.times["batched"]) < timing_batches:
        timer.sample()
    seconds = timer.seconds_per_epoch()
    batched, single, reference, train_epoch = (seconds[k] for k in StepTimer.NAMES)
    m = result.metrics
    mask_epoch = m["seconds_per_mask_epoch"]
    stages = {"decompose": extract_started - started, "extract": timing_started - extract_started,
              "extra_timing": time.perf_counter() - timing_started}
    # The paper preset starts every score at 1 and Adam moves a score by at most about its lr per step,
    # so no kernel can go before ceil(1 / lr) steps, each one pass per module: a lower bound on its time,
    # with this code's one-module step and with the reference code's way of running it.
    paper = GradSplitterConfig.preset("paper")
    steps_per_epoch = math.ceil(m["search_images"] / paper.batch_size)
    paper_first_drop = math.ceil(1 / paper.mask_lr) * single / steps_per_epoch
    reference_first_drop = math.ceil(1 / paper.mask_lr) * reference / steps_per_epoch
    return {
        "model": name, "width": width, "preset": preset, "base_accuracy": m["base_accuracy"],
        "composed_accuracy": m["composed_accuracy"], "accuracy_loss": m["accuracy_loss"],
        "mean_retention": m["mean_retention"],
        "module_flops_fraction": round(sum(x.flops_fraction for x in modules) / len(modules), 5),
        "module_params_fraction": round(sum(x.params_fraction for x in modules) / len(modules), 5),
        "mean_module_f1": round(sum(x.f1 for x in modules) / len(modules), 5),
        "seconds_per_search_epoch": mask_epoch, "seconds_per_train_epoch": round(train_epoch, 3),
        "search_to_train_epoch_ratio": round(batched / train_epoch, 3),
        "batched_seconds_per_epoch": round(batched, 3), "one_at_a_time_seconds_per_epoch": round(single, 3),
        "batched_speedup": round(single / batched, 3),
        "reference_style_seconds_per_epoch": round(reference, 3), "seconds_to_selected": m["seconds_to_selected"],
        "selected_epoch": m["selected_epoch"], "epochs_run": m["epochs_run"], "search_seconds": m["seconds"],
        "paper_seconds_to_first_drop_at_least": round(paper_first_drop, 1),
        "speedup_vs_paper_first_drop": round(paper_first_drop / m["seconds_to_selected"], 2),
        "reference_seconds_to_first_drop_at_least": round(reference_first_drop, 1),
        "speedup_vs_reference_first_drop": round(reference_first_drop / m["seconds_to_selected"], 2),
        "bench_stage_seconds": {k: round(v, 1) for k, v in stages.items()},
    }


def bench_data(source: str) -> ImageDataset:
    if Path(source).suffix in (".npz", ".zip", ".gz"):
        return read_dataset(Path(source), name=Path(source).name.split(".")[0])
    return load_builtin(source)


def config_overrides(items: list[str]) -> dict:
    """``--set KEY=JSON`` options as config overrides."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in items)}


def models_subset(plan, models: str | None):
    """The plan's rows whose model is in the comma-separated ``models`` (all of them when empty)."""
    if not models:
        return tuple(plan)
    wanted = set(models.split(","))
    return tuple(p for p in plan if p[0] in wanted)


def concern_summary(plan, data: ImageDataset, args) -> dict:
    """Concern identification on the same models (both presets, reuse, replace): bench/decompose_concern.py."""
    from bench.decompose_concern import concern_bench

    started = time.perf_counter()
    result = concern_bench(plan, data, args.seed)
    return {"bench": "decompose", "method": "concern", "quick": args.quick, "dataset": data.name,
            "threads": args.threads, "seed": args.seed, "seconds": round(time.perf_counter() - started, 1), **result}


def cnnsplitter_runs(plan, presets, data: ImageDataset, args) -> list[dict]:
    """CNNSplitter on the same base models (bench/decompose_cnnsplitter.py prints its own figures)."""
    from bench.decompose_cnnsplitter import run_one as cnnsplitter_one

    runs = []
    for name, width, epochs in plan:
        for preset in presets:
            row = cnnsplitter_one(name, width, epochs, preset, data, args.seed, "cpu", {})
            runs.append(row)
            print("cnnsplitter  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return runs


def splitters_compared(gradsplitter: list[dict], cnnsplitter: list[dict]) -> list[dict]:
    """Per model and preset: how many points fewer kernels GradSplitter keeps, and how much less it loses."""
    rows = []
    for g in gradsplitter:
        c = next((c for c in cnnsplitter if (c["model"], c["preset"]) == (g["model"], g["preset"])), None)
        if c is not None:
            fewer = round(100 * (c["mean_retention"] - g["mean_retention"]), 2)
            less_loss = round(100 * (c["accuracy_loss"] - g["accuracy_loss"]), 2)
            rows.append({"model": g["model"], "preset": g["preset"], "fewer_kernels_points": fewer,
                         "less_loss_points": less_loss, "claim_holds": fewer > 0 and less_loss >= 0})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="narrow models, fast preset only")
    parser.add_argument("--models", help="comma-separated subset, e.g. simcnn,resnet18")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="the search's seed (the base models keep theirs)")
    parser.add_argument("--data", default="digits-32",
                        help="a built-in data set, or an upload's path (.npz, image .zip, CIFAR .tar.gz), e.g. the "
                             "shapes-32.npz bench/make_shapes.py writes: a data set nothing was tuned on")
    parser.add_argument("--methods", default="gradsplitter",
                        help="comma-separated: gradsplitter, cnnsplitter, concern (bench/decompose_concern.py)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = bench_data(args.data)
    plan = models_subset(QUICK_MODELS if args.quick else FULL_MODELS, args.models)
    presets = ("fast",) if args.quick else ("fast", "paper")
    started = time.perf_counter()
    methods = set(args.methods.split(","))
    concern = concern_summary(plan, data, args) if "concern" in methods else None
    if methods == {"concern"}:
        print(json.dumps(concern))
        return 0
    runs = []
    for name, width, epochs in plan if "gradsplitter" in methods else ():
        for preset in presets:
            row = run_one(name, width, epochs, preset, data, timing_batches=5 if args.quick else 3,
                          seed=args.seed)
            runs.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    summary = {"bench": "decompose", "quick": args.quick, "dataset": data.name, "threads": args.threads,
               "seed": args.seed, "runs": runs,
               "targets_met": bool(runs) and all(r["accuracy_loss"] <= 0.01 and r["mean_retention"] <= 0.40
                                                 for r in runs)}
    if "cnnsplitter" in methods:
        summary["cnnsplitter"] = cnnsplitter_runs(plan, presets, data, args)
        summary["gradsplitter_vs_cnnsplitter"] = splitters_compared(runs, summary["cnnsplitter"])
        for row in summary["gradsplitter_vs_cnnsplitter"]:
            print(f"{row['model']} ({row['preset']}): GradSplitter keeps {row['fewer_kernels_points']:+.2f} points "
                  f"fewer kernels and loses {row['less_loss_points']:+.2f} points less than CNNSplitter "
                  f"(paper: 19.88 fewer, less loss): {'holds' if row['claim_holds'] else 'does not hold'}")
    summary["seconds"] = round(time.perf_counter() - started, 1)
    if concern is not None:
        summary["concern"] = concern
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
