"""What a k-class fused build costs and keeps, against the base model restricted to the same k classes.

For each quick model (bench/decompose.py's QUICK_MODELS, trained on digits-32 or reused from var/bench/) it runs
GradSplitter's fast preset (cached like bench/build.py's decompositions), then for k = 2, 3, 5 and N fused
builds of the first k classes (no calibration; no refit unless --refit: the module weights exactly as cut)
and measures, in one run:

- params, FLOPs (one image) and ONNX bytes of the build and of the base model, and their ratios;
- onnxruntime latency at batch 1 and 64 (medians, as the build job measures it: composition.footprint), build and
  base;
- accuracy on those k classes' test images: the build, and the base model restricted to them (argmax over
  its k logits for them), the same images.

Targets (issue #17): for k <= N/2 the build's FLOPs and params <= (k/N + 0.2) x the base model's, at accuracy
within 1 point of the restricted base model. (k = 1 is not a build: the hub's builds have at least two
classes; a single module is the one-class network.)

    python bench/build_k_of_n.py                 # all quick models
    python bench/build_k_of_n.py --models simcnn --hidden-units both   # conv only vs conv + hidden units

The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import train_base  # noqa: E402
from bench.build import chosen_of, decomposition  # noqa: E402
from bench.decompose import QUICK_MODELS  # noqa: E402
from splitter_engine.architectures import ArchSpec  # noqa: E402
from splitter_engine.composition import BaseSource, ComposeOptions, compose, export_build  # noqa: E402
from splitter_engine.composition.compose import reference_accuracy  # noqa: E402
from splitter_engine.composition.footprint import base_footprint, ort_latency  # noqa: E402
from splitter_engine.composition.samples import labelled  # noqa: E402
from splitter_engine.data import load_builtin  # noqa: E402

KS = (2, 3, 5)


def log(message: str) -> None:
    print(message, flush=True)


def bench_model(name: str, width: float, epochs: int, data, hidden_units: bool, refit: bool = False) -> dict:
    arch = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, info = train_base(arch, data, epochs)
    overrides = {} if hidden_units else {"hidden_units": False}
    modules, seconds = decomposition(f"{name}-w{width}-e{epochs}-{data.name}", model, arch, data, overrides)
    sources = {"base": BaseSource("base", model, data.spec, data.class_names)}
    base = {**base_footprint(sources["base"]), "test_accuracy": info["test_accuracy"]}
    row = {"model": name, "width": width, "hidden_units": hidden_units, "refit": refit,
           "decompose_seconds": round(seconds, 1),
           "module_kernel_fraction": round(float(np.mean([m.kernel_fraction for m in modules])), 4),
           "module_params_fraction": round(float(np.mean([m.params_fraction for m in modules])), 4),
           "base": base, "builds": []}
    log(f"{name} x{width} (hidden units {'masked' if hidden_units else 'whole'}): base {base}; modules keep "
        f"{row['module_kernel_fraction']:.1%} of kernels, {row['module_params_fraction']:.1%} of params")
    n = data.num_classes
    for k in (*KS, n):
        classes = data.class_names[:k]
        chosen = chosen_of(modules, "base", classes)
        built = compose(chosen, ComposeOptions("fused", refit=refit), data, sources)
        exported = export_build(built, data, [{"role": "module", "sha256": c.sha256} for c in chosen], {})
        x, y = labelled(data, "test", classes, data.spec)
        m = exported.metrics
        build = {"k": k, "params": m["params"], "flops": m["flops"], "onnx_bytes": len(exported.onnx.data),
                 **ort_latency(exported.onnx.data, data.spec.shape), "accuracy": m["accuracy"],
                 "base_accuracy_on_classes": reference_accuracy(sources["base"], chosen, x, y),
                 "parity_max_abs_diff": m["parity_max_abs_diff"]}
        for key in ("params", "flops", "onnx_bytes", "latency_ms_b1", "latency_ms_b64"):
            build[f"{key}_ratio"] = round(build[key] / base[key], 3)
        build["target_ratio"] = round(k / n + 0.2, 3)
        build["meets_target"] = (k > n / 2 or (build["params_ratio"] <= build["target_ratio"]
                                               and build["flops_ratio"] <= build["target_ratio"]
                                               and build["accuracy"] >= build["base_accuracy_on_classes"] - 0.01))
        row["builds"].append(build)
        log(f"  k={k:2d}: params x{build['params_ratio']:.3f} flops x{build['flops_ratio']:.3f} "
            f"onnx x{build['onnx_bytes_ratio']:.3f} ort b1 x{build['latency_ms_b1_ratio']:.2f} "
            f"b64 x{build['latency_ms_b64_ratio']:.2f} (target <= x{build['target_ratio']:.2f}); accuracy "
            f"{build['accuracy']:.4f} vs base on the classes {build['base_accuracy_on_classes']:.4f}"
            f"{'' if build['meets_target'] else '  MISSES'}")
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=[m[0] for m in QUICK_MODELS],
                        choices=[m[0] for m in QUICK_MODELS])
    parser.add_argument("--hidden-units", choices=("on", "off", "both"), default="on",
                        help="mask the classifier's hidden units (the fast preset's default), not, or both")
    parser.add_argument("--refit", action="store_true",
                        help="refit the fused trunk's output layer on the validation samples (the builder's option)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_builtin("digits-32")
    modes = {"on": (True,), "off": (False,), "both": (False, True)}[args.hidden_units]
    rows = [bench_model(name, width, epochs, data, hidden, args.refit)
            for name, width, epochs in QUICK_MODELS if name in args.models for hidden in modes]
    print(json.dumps({"bench": "build_k_of_n", "dataset": data.name, "threads": args.threads, "rows": rows}))


if __name__ == "__main__":
    main()
