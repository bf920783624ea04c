"""CNNSplitter bench on digits-32, on the same four quick base models as GradSplitter's bench
(``bench/decompose.py``, whose cached base models in var/bench/ it reuses).

Per model: composed and base test accuracy, mean kernels (and hidden units) kept, mean module params and
FLOPs fractions, wall time, and forward passes per generation against the reference's one sliced network
per candidate (population x classes networks, each over the validation split in batches of 128). The last
line is one JSON object.

    python bench/decompose_cnnsplitter.py                  # fast preset, four quick models
    python bench/decompose_cnnsplitter.py --models simcnn --preset fast --device cuda
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import train_base  # noqa: E402
from bench.decompose import QUICK_MODELS, bench_data, config_overrides, models_subset  # noqa: E402
from splitter_engine.architectures import ArchSpec  # noqa: E402
from splitter_engine.extraction import extract_modules  # noqa: E402
from splitter_engine.methods import get_decomposer  # noqa: E402
from splitter_engine.runtime import RunContext  # noqa: E402


def run_one(name: str, width: float, train_epochs: int, preset: str, data, seed: int, device: str,
            overrides: dict) -> dict:
    spec = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, _ = train_base(spec, data, train_epochs)
    decomposer = get_decomposer("cnnsplitter")
    config = decomposer.make_config(preset, seed=seed, **overrides)

    def progress(fraction, stage, message, metrics=None):
        if stage in ("search", "sensitivity", "setup"):
            print(f"    [{name} {preset}] {message}", flush=True)

    started = time.perf_counter()
    result = decomposer.decompose(model, data, config, RunContext(device=device, progress=progress))
    search_seconds = time.perf_counter() - started
    modules = extract_modules(model.cpu(), spec, result, data)
    m = result.metrics
    return {
        "model": name, "width": width, "preset": preset, "device": device, "base_accuracy": m["base_accuracy"],
        "composed_accuracy": m["composed_accuracy"], "accuracy_loss": m["accuracy_loss"],
        "val_composed_accuracy": m["val_composed_accuracy"], "val_base_accuracy": m["val_base_accuracy"],
        "mean_retention": m["mean_retention"], "mean_unit_retention": m.get("mean_unit_retention"),
        "total_hidden_units": m.get("total_hidden_units", 0), "val_diff": m["val_diff"],
        "module_flops_fraction": round(sum(x.flops_fraction for x in modules) / len(modules), 5),
        "module_params_fraction": round(sum(x.params_fraction for x in modules) / len(modules), 5),
        "mean_module_f1": round(sum(x.f1 for x in modules) / len(modules), 5),
        "selected_generation": m["selected_generation"], "generations_run": m["generations_run"],
        "search_seconds": round(search_seconds, 1), "sensitivity_seconds": m["sensitivity_seconds"],
        "seconds_per_generation": m["seconds_per_generation"],
        "forward_passes_per_generation": m["forward_passes_per_generation"],
        "reference_passes_per_generation": m["reference_passes_per_generation"], "pass_reduction": m["pass_reduction"],
        "sensitive_groups": len(m["sensitivity"]["sensitive_groups"]), "groups": m["groups"],
        "range_raises": m["sensitivity"]["range_raises"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated subset, e.g. simcnn,resnet18")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--dataset", default="digits-32",
                        help="a built-in data set, or an upload's path (.npz, image .zip, CIFAR .tar.gz), e.g. the "
                             "shapes-32.npz bench/make_shapes.py writes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="config override")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = bench_data(args.dataset)
    overrides = config_overrides(args.set)
    plan = models_subset(QUICK_MODELS, args.models)
    started = time.perf_counter()
    runs = []
    for name, width, epochs in plan:
        row = run_one(name, width, epochs, args.preset, data, args.seed, args.device, overrides)
        runs.append(row)
        print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    summary = {"bench": "decompose_cnnsplitter", "dataset": args.dataset, "preset": args.preset, "threads": args.threads,
               "device": args.device, "seed": args.seed, "overrides": overrides,
               "seconds": round(time.perf_counter() - started, 1), "runs": runs,
               "targets_met": all(r["accuracy_loss"] <= 0.03 and r["mean_retention"] <= 0.60
                                  and r["search_seconds"] <= 900 for r in runs),
               "pass_target_met": all((r["pass_reduction"] or 0) >= 10 for r in runs)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
