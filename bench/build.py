"""Builder bench on digits-32 (CPU): compose, calibrate, patch, export; times, sizes, accuracies.

It trains (or reuses from var/bench/) a base model, two models on disjoint halves of the classes and a
weak model on a skewed subset; decomposes the first three with GradSplitter (fast preset); then
measures, on the real engine and through the hub's services (a throw-away SQLite hub):

- build time (compose + evaluate + export + parity) for 2, 5 and 10 classes, both strategies, and
  its ratio to one torch.onnx.export of the base model; a cold 3-class build and the cached answer
  through the hub;
- onnxruntime latency (batch 1) and throughput (batch 64), params and FLOPs: base, ensemble, fused;
- accuracies: fused k classes vs the base restricted to them, ensemble of all N vs the base;
- reuse: modules of the two half models composed into a 10-class classifier, calibration none /
  linear / temperature, against the same architecture trained from scratch (accuracy and time);
- patching: the weak model's weakest classes replaced by the base model's modules: class F1 before/after.

The last line is one JSON object with every figure.

    python bench/build.py --quick     # narrow models (< 10 min on 2 cores)
    python bench/build.py             # wider models
    --fresh                           # retrain and re-decompose (times then come from this run)

Without --fresh, models and decompositions found in var/bench/ are reused and their training and
decomposition seconds are those recorded when they were made.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import CACHE, train_base  # noqa: E402
from splitter_engine.architectures import ArchSpec  # noqa: E402
from splitter_engine.composition import (BaseSource, ChosenModule, ComposeOptions, PatchOptions, compose,  # noqa: E402
                                         export_build, patch)
from splitter_engine.data import ImageDataset, load_builtin  # noqa: E402
from splitter_engine.data.subset import restrict_to_classes  # noqa: E402
from splitter_engine.evaluation import evaluate  # noqa: E402
from splitter_engine.extraction import extract_modules  # noqa: E402
from splitter_engine.methods import get_decomposer, make_config  # noqa: E402
from splitter_engine.methods.result import DecompositionResult  # noqa: E402
from splitter_engine.onnx_export import _export_proto, session  # noqa: E402
from splitter_engine.profile import model_size  # noqa: E402
from splitter_engine.weights import read_safetensors, state_dict_to_safetensors  # noqa: E402

LOW, HIGH = [str(i) for i in range(5)], [str(i) for i in range(5, 10)]
SETTINGS = {
    "quick": {"arch": "simcnn", "width": 0.125, "epochs": 10, "decompose": {"cycles": 8}},
    "full": {"arch": "simcnn", "width": 0.25, "epochs": 20, "decompose": {}},
}


def log(message: str) -> None:
    print(message, flush=True)


def subset(data: ImageDataset, classes: list[str], name: str) -> ImageDataset:
    """The classes' images relabelled 0..k-1, under a name of its own (train_base caches by data name)."""
    return dataclasses.replace(restrict_to_classes(data, classes), name=f"{data.name}-{name}")


def skewed(data: ImageDataset, seed: int = 3, alpha: float = 1.0) -> ImageDataset:
    """The training split resampled with Dirichlet(alpha) class proportions (alpha 1 as the paper's CIFAR
    models), the largest class kept whole: some classes end up with few images."""
    rng = np.random.default_rng(seed)
    train = data.splits["train"]
    share = rng.dirichlet([alpha] * data.num_classes)
    keep = []
    for c in range(data.num_classes):
        idx = train[data.labels[train] == c]
        n = max(2, int(round(share[c] / share.max() * len(idx))))
        keep.append(rng.choice(idx, min(n, len(idx)), replace=False))
    skew = ImageDataset(name=f"{data.name}-skewed-a{alpha}-s{seed}", class_names=data.class_names, images=data.images,
                        labels=data.labels, spec=data.spec, splits={**data.splits, "train": np.sort(np.concatenate(keep))})
    return skew


def decomposition(name: str, model, arch: ArchSpec, data: ImageDataset, overrides: dict,
                  reuse: bool = True) -> tuple[list, float]:
    """Modules of ``model`` (GradSplitter fast), the result cached beside the trained weights."""
    path = CACHE / f"{name}-gradsplitter-{json.dumps(overrides, sort_keys=True)}.safetensors"
    path = path.with_name("".join(c if c.isalnum() or c in "-._" else "_" for c in path.name))
    meta_path = path.with_suffix(".json")
    if reuse and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        result = DecompositionResult.from_state(meta, read_safetensors(path.read_bytes()).tensors)
    else:
        config = make_config("gradsplitter", "fast", overrides)
        CACHE.mkdir(parents=True, exist_ok=True)
        result = get_decomposer("gradsplitter").decompose(model, data, config)
        meta, tensors = result.to_state()
        path.write_bytes(state_dict_to_safetensors(tensors))
        meta_path.write_text(json.dumps(meta))
    return extract_modules(model, arch, result, data), float(result.metrics.get("seconds", 0.0))


def chosen_of(modules, base_key: str, classes: list[str]) -> list[ChosenModule]:
    by_name = {m.class_name: m for m in modules}
    return [ChosenModule(spec=by_name[c].spec, state_dict=by_name[c].state_dict, base_key=base_key,
                         sha256=f"{base_key}:{c}") for c in classes]


def latency(data_bytes: bytes, shape, runs: int = 200) -> dict:
    sess = session(data_bytes)
    one = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    many = np.random.default_rng(1).standard_normal((64, *shape)).astype(np.float32)
    for _ in range(20):
        sess.run(["logits"], {"input": one})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(["logits"], {"input": one})
        times.append(time.perf_counter() - t)
    sess.run(["logits"], {"input": many})
    t = time.perf_counter()
    batches = max(5, runs // 20)
    for _ in range(batches):
        sess.run(["logits"], {"input": many})
    seconds = time.perf_counter() - t
    return {"latency_ms_b1": round(statistics.median(times) * 1000, 3),
            "throughput_img_s_b64": round(batches * 64 / seconds, 1)}


def timed_build(chosen, options: ComposeOptions, data, bases) -> dict:
    t = time.perf_counter()
    built = compose(chosen, options, data, bases)
    out = export_build(built, data, [{"role": "module", "sha256": c.sha256} for c in chosen], {})
    seconds = time.perf_counter() - t
    m = out.metrics
    return {"classes": len(chosen), "strategy": options.strategy, "calibration": options.calibration,
            "refit": options.refit, "seconds": round(seconds, 3), "compose_seconds": m["compose_seconds"],
            "export_seconds": m["export_total_seconds"], "accuracy": m.get("accuracy"),
            "base_accuracy_on_classes": m.get("base_accuracy_on_classes"), "params": m["params"], "flops": m["flops"],
            "parity_max_abs_diff": m["parity_max_abs_diff"], "_onnx": out.onnx.data}


def hub_builds(data: ImageDataset, model, arch: ArchSpec, modules, classes: list[str]) -> dict:
    """Cold 3-class build and the cached answer through the real services, in a throw-away hub."""
    tmp = tempfile.mkdtemp(prefix="bench-hub-")
    os.environ.update({"HUB_DATA_DIR": tmp, "DJANGO_SETTINGS_MODULE": "hub.settings",
                       "HUB_TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend"})
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from modules_registry.models import Build, Job
    from modules_registry.services import builds as build_service
    from modules_registry.services import registration
    from splitter_engine.data.packed import pack

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
    dataset = registration.register_dataset(
        owner=user, job=None, name=data.name, description="", source="builtin", visibility="public",
        class_names=data.class_names, input_spec=data.spec.to_dict(), class_counts={}, split_seed=0,
        packed_arrays=pack(data), archive=None)
    size = model_size(model, data.spec)
    row = registration.register_model(
        owner=user, job=None, weights=state_dict_to_safetensors(model.state_dict()),
        media_type="application/safetensors", params_count=size.params, flops=size.flops,
        params={"name": "base", "architecture": arch.name, "arch_kwargs": arch.kwargs,
                "class_names": data.class_names, "input_spec": data.spec.to_dict(), "dataset": dataset.pk})
    now = timezone.now()
    job = Job.objects.create(kind=Job.Kind.DECOMPOSE, owner=user, status=Job.Status.SUCCEEDED, started_at=now,
                             finished_at=now)
    decomposition = registration.register_decomposition(
        owner=user, job=job, model=row, dataset=dataset, result_weights=b"-",
        result_meta={"metrics": {"composed_accuracy": 0.0, "base_accuracy": 0.0, "mean_retention": 0.5}, "history": []},
        params={"method": "gradsplitter", "preset": "fast", "config": {}, "seed": 0},
        modules=[{**m.record(), "weights": state_dict_to_safetensors(m.state_dict)} for m in modules])
    ids = [decomposition.modules.get(class_name=c).pk for c in classes]
    t = time.perf_counter()
    first = build_service.start_build(owner=user, modules=ids, strategy="ensemble")
    cold = time.perf_counter() - t
    job = Job.objects.get(pk=first.job.pk)
    if job.status != "succeeded":
        raise RuntimeError(f"hub build failed: {job.error}")
    cached = []
    for _ in range(5):
        t = time.perf_counter()
        again = build_service.start_build(owner=user, modules=ids, strategy="ensemble")
        cached.append(time.perf_counter() - t)
        assert again.cached
    build = Build.objects.get(pk=job.result["build"])
    return {"cold_3_class_seconds": round(cold, 3), "cached_ms": round(statistics.median(cached) * 1000, 2),
            "cached_ms_max": round(max(cached) * 1000, 2), "parity_max_abs_diff": build.parity_max_abs_diff,
            "onnx_sha256": build.onnx_id}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="narrow models (under 10 minutes on 2 cores)")
    parser.add_argument("--fresh", action="store_true", help="train and decompose again instead of reusing var/bench/")
    return parser.parse_args(argv)


@dataclasses.dataclass
class Bench:
    """What every stage shares: the data, the architecture and budget, and whether var/bench/ may be reused."""
    data: ImageDataset
    arch: ArchSpec
    epochs: int
    decompose_overrides: dict
    reuse_cache: bool  # False with --fresh: train and decompose again


@dataclasses.dataclass
class Base:
    """The base model, its training figures, its modules and its ONNX export time (the builds' yardstick)."""
    model: torch.nn.Module
    info: dict
    modules: list
    size: object
    sources: dict
    export_seconds: float = 0.0


def bench_base(bench: Bench, out: dict) -> Base:
    """Train (or reuse) and decompose the base model; time one ONNX export of it and its latency."""
    data, arch, epochs = bench.data, bench.arch, bench.epochs
    log(f"training the base model ({arch.name} width {arch.kwargs['width']}, {epochs} epochs)")
    model, info = train_base(arch, data, epochs, reuse=bench.reuse_cache)
    modules, decompose_s = decomposition("base", model, arch, data, bench.decompose_overrides, bench.reuse_cache)
    size = model_size(model, data.spec)
    base = Base(model, info, modules, size, {"base": BaseSource("base", model, data.spec, data.class_names)})
    out["base"] = {"accuracy": info["test_accuracy"], "params": size.params, "flops": size.flops,
                   "train_seconds": round(info["seconds_per_epoch"] * epochs, 1),
                   "decompose_seconds": round(decompose_s, 1),
                   "module_flops_fraction_mean": round(float(np.mean([m.flops_fraction for m in modules])), 4)}

    t = time.perf_counter()
    _export_proto(model, data.spec)  # the first export in a process also pays the exporter's start-up
    first_export_s = time.perf_counter() - t
    t = time.perf_counter()
    proto = _export_proto(model, data.spec)
    base.export_seconds = time.perf_counter() - t
    out["base"].update({"onnx_export_seconds": round(base.export_seconds, 3),
                        "first_onnx_export_seconds": round(first_export_s, 3)})
    out["base"].update(latency(proto.SerializeToString(), data.spec.shape))
    log(f"base: accuracy {info['test_accuracy']:.4f}, one ONNX export {base.export_seconds:.2f} s")
    return base


def bench_builds(bench: Bench, base: Base) -> list[dict]:
    """Builds of 2, 5 and 10 classes, both strategies, and a fused build of all classes with refitted heads."""
    data = bench.data
    builds = []
    for k in (2, 5, 10):
        classes = data.class_names[:k] if k == 10 else [str(c) for c in np.random.default_rng(k).choice(10, k, replace=False)]
        for strategy in ("ensemble", "fused"):
            result = timed_build(chosen_of(base.modules, "base", classes), ComposeOptions(strategy), data, base.sources)
            onnx_bytes = result.pop("_onnx")
            result["ratio_to_base_export"] = round(result["seconds"] / base.export_seconds, 2)
            if k == 10:
                result.update(latency(onnx_bytes, data.spec.shape))
            builds.append(result)
            log(f"{k:>2} classes {strategy:>8}: {result['seconds']:.2f} s ({result['ratio_to_base_export']}x export), "
                f"accuracy {result['accuracy']:.4f} vs base {result['base_accuracy_on_classes']}")
    refit = timed_build(chosen_of(base.modules, "base", data.class_names), ComposeOptions("fused", refit=True), data,
                        base.sources)
    refit.pop("_onnx")
    builds.append(refit)
    return builds


def bench_hub(bench: Bench, base: Base) -> dict:
    log("hub: cold 3-class build and cached answer")
    hub = hub_builds(bench.data, base.model, bench.arch, base.modules, ["1", "4", "7"])
    hub["cold_ratio_to_base_export"] = round(hub["cold_3_class_seconds"] / base.export_seconds, 2)
    log(f"hub: cold {hub['cold_3_class_seconds']} s, cached {hub['cached_ms']} ms")
    return hub


def bench_reuse(bench: Bench, base: Base) -> dict:
    """Modules of two models trained on disjoint halves of the classes, composed into one classifier."""
    data, arch, epochs = bench.data, bench.arch, bench.epochs
    log("reuse: two models on disjoint halves of the classes")
    halves, half_time = [], 0.0
    for name, classes in (("low", LOW), ("high", HIGH)):
        half_data = subset(data, classes, name)
        half_arch = ArchSpec(arch.name, len(classes), 3, arch.kwargs)
        half_model, info = train_base(half_arch, half_data, epochs, reuse=bench.reuse_cache)
        modules, dec_s = decomposition(f"half-{name}", half_model, half_arch, half_data, bench.decompose_overrides,
                                       bench.reuse_cache)
        half_time += info["seconds_per_epoch"] * epochs + dec_s
        halves += chosen_of(modules, name, classes)
    figures = {"scratch_accuracy": base.info["test_accuracy"],
               "scratch_train_seconds": round(base.info["seconds_per_epoch"] * epochs, 1),
               "half_models_train_and_decompose_seconds": round(half_time, 1)}
    for calibration in ("none", "linear", "temperature"):
        t = time.perf_counter()
        built = compose(halves, ComposeOptions("ensemble", calibration=calibration), data)
        figures[calibration] = {"accuracy": built.metrics["accuracy"], "compose_seconds": round(time.perf_counter() - t, 2)}
        log(f"reuse ensemble, calibration {calibration}: accuracy {built.metrics['accuracy']:.4f}")
    return figures


def bench_patching(bench: Bench, base: Base) -> dict:
    """A weak model trained on a skewed subset: its three weakest classes replaced by the base model's modules."""
    data, arch = bench.data, bench.arch
    log("patching: weak model trained on a skewed subset")
    weak_data = skewed(data)
    # as many steps as the base model had: the skewed set is smaller, so more epochs
    weak_epochs = bench.epochs * max(1, round(len(data.splits["train"]) / len(weak_data.splits["train"])))
    weak, _ = train_base(ArchSpec(arch.name, 10, 3, arch.kwargs), weak_data, weak_epochs, reuse=bench.reuse_cache)
    weak_report = evaluate(weak, data, "test")
    worst = sorted(weak_report.per_class, key=lambda c: c.f1)[:3]
    patches = []
    weak_source = BaseSource("weak", weak, data.spec, data.class_names)
    for c in worst:
        strong = chosen_of(base.modules, "base", [c.name])[0]
        patched = patch(weak_source, strong, PatchOptions("replace", calibration="linear"), data)
        m = patched.metrics
        patches.append({"class": c.name, "train_images": int((weak_data.labels[weak_data.splits["train"]] == int(c.name)).sum()),
                        "before": m["before"], "after": m["after"], "f1_gain": m["f1_gain"]})
        log(f"patch class {c.name}: F1 {m['before']['f1']:.3f} -> {m['after']['f1']:.3f}, "
            f"accuracy {m['before']['accuracy']:.4f} -> {m['after']['accuracy']:.4f}")
    return {"weak_accuracy": round(weak_report.accuracy, 5), "weak_epochs": weak_epochs,
            "weak_train_images": int(len(weak_data.splits["train"])), "patches": patches,
            "mean_f1_gain": round(float(np.mean([p["f1_gain"] for p in patches])), 5)}


def targets(out: dict, base: Base) -> dict:
    """The figures the builder aims at, each true or false (or the ratio it is judged by)."""
    builds, patches = out["builds"], out["patching"]["patches"]
    ensemble10 = next(b for b in builds if b["classes"] == 10 and b["strategy"] == "ensemble")
    fused10 = next(b for b in builds if b["classes"] == 10 and b["strategy"] == "fused" and not b["refit"])
    fused_k = [b for b in builds if b["strategy"] == "fused" and not b["refit"]]
    return {
        "fused_flops_le_base": all(b["flops"] <= base.size.flops for b in fused_k),
        "fused_accuracy_within_1pt": all(b["accuracy"] >= b["base_accuracy_on_classes"] - 0.01 for b in fused_k),
        "ensemble_all_accuracy_within_1pt": ensemble10["accuracy"] >= base.info["test_accuracy"] - 0.01,
        "ensemble_latency_ratio": round(ensemble10["latency_ms_b1"] / out["base"]["latency_ms_b1"], 2),
        "ensemble_latency_le_1_5x": ensemble10["latency_ms_b1"] <= 1.5 * out["base"]["latency_ms_b1"],
        "fused_latency_ratio": round(fused10["latency_ms_b1"] / out["base"]["latency_ms_b1"], 2),
        "patch_raises_f1": all(p["f1_gain"] > 0 for p in patches),
        "cached_lt_100ms": out["hub"]["cached_ms_max"] < 100,
        "cold_3_class_le_3x_export": out["hub"]["cold_ratio_to_base_export"] <= 3,
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    setting = SETTINGS["quick" if args.quick else "full"]
    started = time.perf_counter()
    data = load_builtin("digits-32")
    arch = ArchSpec(setting["arch"], 10, 3, {"width": setting["width"]})
    bench = Bench(data, arch, setting["epochs"], setting["decompose"], reuse_cache=not args.fresh)
    out: dict = {"bench": "build", "quick": args.quick, "fresh": args.fresh, "dataset": "digits-32", "arch": {**arch.to_dict()},
                 "torch_threads": torch.get_num_threads()}
    base = bench_base(bench, out)
    out["builds"] = bench_builds(bench, base)
    out["hub"] = bench_hub(bench, base)
    out["reuse"] = bench_reuse(bench, base)
    out["patching"] = bench_patching(bench, base)
    out["targets"] = targets(out, base)
    out["seconds"] = round(time.perf_counter() - started, 1)
    log(f"done in {out['seconds']} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
