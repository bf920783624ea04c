"""The one bridge between the registry and the engine: rows in, engine call, artefacts out.

Each job kind has one handler. A handler loads its inputs from rows and blobs, runs the engine with
the job's RunContext, and hands plain results (bytes, dicts) to a registry service that writes every
row in one transaction, so a failed or cancelled job writes nothing.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from django_tasks import TaskContext, task

from modules_registry import blobs, uploads
from modules_registry.job_runtime import JobInputError, running
from modules_registry.loaders import base_source, chosen_module, dataset_for_model, load_dataset, load_model
from modules_registry.models import BaseModel, Dataset, Job, Module
from modules_registry.services import registration
from modules_registry.services.datasets import add_builtin_dataset
from splitter_engine import composition
from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.channels import decomposability
from splitter_engine.data import ImageDataset
from splitter_engine.data.packed import pack
from splitter_engine.data.read import detect_format, read_dataset
from splitter_engine.data.subset import restrict_to_classes
from splitter_engine.evaluation import evaluate
from splitter_engine.extraction import WEAK_MODULE_MARGIN, extract_modules, weak_modules
from splitter_engine.methods import get_decomposer
from splitter_engine.onnx_upload import inspect_onnx
from splitter_engine.profile import model_size
from splitter_engine.runtime import RunContext
from splitter_engine.specs import InputSpec
from splitter_engine.training import TrainConfig, train_model, training_classes
from splitter_engine.weights import build_with_weights, read_safetensors, read_torch_state_dict, state_dict_to_safetensors

# Uploaded archives up to this size are kept beside the decoded arrays, for download as uploaded.
ARCHIVE_KEEP_BYTES = 512 * 1024 * 1024


@contextlib.contextmanager
def staged_upload(job: Job, suffix: str = "") -> Iterator[Path]:
    """The job's staged upload as a local file; the staged copy is removed however the job ends."""
    name = job.params["staged"]
    try:
        with uploads.open_staged(name) as source, tempfile.NamedTemporaryFile(
                suffix=suffix, prefix=blobs.temp_prefix(), dir=blobs.temp_dir()) as local:
            shutil.copyfileobj(source, local, blobs.CHUNK)
            local.flush()
            yield Path(local.name)
    except FileNotFoundError:
        raise JobInputError("the uploaded file is no longer staged; upload it again") from None
    finally:
        uploads.discard(name)


SOURCE_OF_FORMAT = {"image-zip": Dataset.Source.IMAGE_ZIP, "npz": Dataset.Source.NPZ}


def _import_dataset(job: Job, ctx: RunContext) -> dict:
    params = job.params
    if params.get("builtin"):
        ctx.report(0.1, "reading", f"loading built-in {params['builtin']}")
        row = add_builtin_dataset(owner=job.owner, builtin=params["builtin"], name=params["name"],
                                  visibility=params.get("visibility", "public"), job=job)
        return {"dataset": row.pk}
    ctx.report(0.05, "reading", f"reading {params.get('filename') or 'the upload'}")
    with staged_upload(job) as path:
        fmt = params.get("format") or "auto"
        dataset = read_dataset(path, fmt, name=params["name"], image_size=params.get("image_size"),
                               channels=params.get("channels"), seed=params.get("seed", 0),
                               ctx=ctx.stage(0.05, 0.8))
        ctx.check_cancelled()
        kind = detect_format(path) if fmt == "auto" else fmt
        archive = path.read_bytes() if path.stat().st_size <= ARCHIVE_KEEP_BYTES else None
    ctx.report(0.8, "storing", f"{len(dataset.labels)} images in {dataset.num_classes} classes")
    row = registration.register_dataset(
        owner=job.owner, job=job, name=params["name"], description=params.get("description", ""),
        source=SOURCE_OF_FORMAT.get(kind, Dataset.Source.CIFAR), visibility=params.get("visibility", "public"),
        class_names=dataset.class_names, input_spec=dataset.spec.to_dict(),
        class_counts={split: dataset.class_counts(split) for split in dataset.splits},
        split_seed=params.get("seed", 0), packed_arrays=pack(dataset), archive=archive)
    return {"dataset": row.pk}


def _import_model(job: Job, ctx: RunContext) -> dict:
    params = job.params
    fmt = params["format"]
    ctx.report(0.1, "reading", f"reading {params.get('filename') or 'the upload'}")
    with staged_upload(job, suffix="." + fmt) as path:
        if fmt == "onnx":
            summary = inspect_onnx(path)
            onnx_bytes = path.read_bytes()
            row = registration.register_model(
                owner=job.owner, job=job, params=params, weights=onnx_bytes, media_type="application/onnx",
                params_count=summary.parameter_count, flops=None)
            return {"model": row.pk}
        tensors = read_torch_state_dict(path) if fmt == "pt" else read_safetensors(path).tensors
    ctx.check_cancelled()
    spec = ArchSpec(name=params["architecture"], num_classes=len(params["class_names"]),
                    in_channels=params["input_spec"]["channels"], kwargs=params.get("arch_kwargs") or {})
    ctx.report(0.5, "checking", f"loading the weights strictly into {spec.name}")
    model = build_with_weights(spec, tensors)
    input_spec = InputSpec.from_dict(params["input_spec"])
    size = model_size(model, input_spec)
    ctx.report(0.7, "checking", "analysing the channel groups (can it be decomposed?)")
    checked = decomposability(model, input_spec.shape)
    row = registration.register_model(
        owner=job.owner, job=job, params=params, weights=state_dict_to_safetensors(model.state_dict()),
        media_type="application/safetensors", params_count=size.params, flops=size.flops,
        channel_analysis_error=checked.reason)
    return {"model": row.pk}


def _train(job: Job, ctx: RunContext) -> dict:
    params = job.params
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    data = load_dataset(dataset_row)
    config = TrainConfig.from_dict(params["config"])
    _, class_names = training_classes(data, config)
    spec = ArchSpec(name=params["architecture"], num_classes=len(class_names), in_channels=data.spec.channels,
                    kwargs=params.get("arch_kwargs") or {})
    model = build_model(spec)
    result = train_model(model, data, config, ctx.stage(0.0, 0.95))
    model.load_state_dict(result.state_dict)
    ctx.check_cancelled()
    report = evaluate(model, data, "test", ctx.stage(0.95, 1.0), class_names=result.class_names)
    size = model_size(model, data.spec)
    checked = decomposability(model, data.spec.shape)
    row = registration.register_trained_model(
        owner=job.owner, job=job, params={**params, "class_names": result.class_names,
                                          "input_spec": data.spec.to_dict()},
        weights=state_dict_to_safetensors(result.state_dict), params_count=size.params, flops=size.flops,
        channel_analysis_error=checked.reason,
        train_config=config.to_dict(), train_history=result.to_dict()["history"], dataset=dataset_row,
        evaluation=report.to_dict())
    return {"model": row.pk, "test_accuracy": report.accuracy, "seconds": round(result.seconds, 2)}


def _evaluate(job: Job, ctx: RunContext) -> dict:
    params = job.params
    model_row = BaseModel.objects.get(pk=params["model"])
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    model = load_model(model_row).to(ctx.torch_device)
    data, note = dataset_for_model(dataset_row, model_row)
    if note:
        ctx.report(0.0, "data", note)
    report = evaluate(model, data, params.get("split", "test"), ctx, class_names=model_row.class_names)
    row = registration.register_evaluation(owner=job.owner, job=job, model=model_row, dataset=dataset_row,
                                           split=params.get("split", "test"), report=report.to_dict())
    return {"evaluation": row.pk, "accuracy": report.accuracy}


def _decompose(job: Job, ctx: RunContext) -> dict:
    params = job.params
    model_row = BaseModel.objects.get(pk=params["model"])
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    data, note = dataset_for_model(dataset_row, model_row)
    if note:
        ctx.report(0.0, "data", note)
    data = restrict_to_classes(data, model_row.class_names)
    model = load_model(model_row)
    arch = ArchSpec(name=model_row.architecture, num_classes=model_row.num_classes,
                    in_channels=model_row.input_spec["channels"], kwargs=model_row.arch_kwargs)
    decomposer = get_decomposer(params["method"])
    config = type(decomposer.make_config(params["preset"])).from_dict(params["config"])
    result = decomposer.decompose(model, data, config, ctx.stage(0.0, 0.9))
    ctx.check_cancelled()
    modules = extract_modules(model, arch, result, data, ctx.stage(0.9, 1.0))
    result.metrics.update({"input_spec": data.spec.to_dict(), **({"input_note": note} if note else {}),
                           "base_class_f1": [m.base_f1 for m in modules], "weak_modules": weak_modules(modules),
                           "weak_module_margin": WEAK_MODULE_MARGIN})
    meta, tensors = result.to_state()
    row = registration.register_decomposition(
        owner=job.owner, job=job, model=model_row, dataset=dataset_row, params=params, result_meta=meta,
        result_weights=state_dict_to_safetensors(tensors),
        modules=[{**m.record(), "weights": state_dict_to_safetensors(m.state_dict)} for m in modules])
    return {"decomposition": row.pk, "modules": list(row.modules.values_list("pk", flat=True)),
            "composed_accuracy": row.composed_accuracy, "mean_kernel_retention": row.mean_kernel_retention}


def _lineage(modules: list[Module], bases: list[BaseModel], dataset: Dataset) -> list[dict]:
    """What the ONNX file's metadata says it was made from (content hashes, then row ids)."""
    return [*({"role": "module", "id": m.pk, "class_name": m.class_name, "sha256": m.weights_id,
               "spec_sha256": m.spec_id, "base_model_sha256": m.base_model.weights_id} for m in modules),
            *({"role": "base_model", "id": b.pk, "name": b.name, "sha256": b.weights_id} for b in bases),
            {"role": "dataset", "id": dataset.pk, "name": dataset.name, "sha256": dataset.arrays_id}]


def _finish_build(job: Job, composed, data: ImageDataset, modules: list[Module], bases: list[BaseModel],
                  dataset_row: Dataset, items: list[tuple[int, int, str]], ctx: RunContext, started: float,
                  sources: list) -> dict:
    params = job.params
    extra = {"kind": params["kind"], **params["options"], "cache_key": params["cache_key"]}
    output = composition.export_build(composed, data, _lineage(modules, bases, dataset_row), extra, ctx, sources)
    metrics = {**output.metrics, "build_seconds": round(time.perf_counter() - started, 3), "onnx_sha256": output.onnx.sha256}
    row = registration.register_build(
        owner=job.owner, job=job, params=params, onnx_bytes=output.onnx.data, metrics=metrics,
        parity_max_abs_diff=output.onnx.parity_max_abs_diff, input_spec=composed.spec.to_dict(), items=items,
        base_model_ids=[b.pk for b in bases])
    return {"build": row.pk, "onnx_sha256": row.onnx_id, "accuracy": metrics.get("accuracy"),
            "parity_max_abs_diff": row.parity_max_abs_diff}


def _build(job: Job, ctx: RunContext) -> dict:
    started = time.perf_counter()
    params = job.params
    rows = {m.pk: m for m in Module.objects.select_related("base_model").filter(pk__in=params["modules"])}
    modules = [rows[pk] for pk in params["modules"]]
    bases = list({m.base_model_id: m.base_model for m in modules}.values())
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    data = load_dataset(dataset_row)
    ctx.report(0.02, "loading", f"{len(modules)} modules from {len(bases)} base model(s)")
    sources = {b.weights_id: base_source(b) for b in bases}
    composed = composition.compose([chosen_module(m) for m in modules], composition.ComposeOptions(**params["options"]),
                                   data, sources, ctx)
    items = [(m.pk, position, m.class_name) for position, m in enumerate(modules)]
    return _finish_build(job, composed, data, modules, bases, dataset_row, items, ctx, started, list(sources.values()))


def _patch(job: Job, ctx: RunContext) -> dict:
    started = time.perf_counter()
    params = job.params
    weak = BaseModel.objects.get(pk=params["model"])
    strong = Module.objects.select_related("base_model").get(pk=params["module"])
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    data = load_dataset(dataset_row)
    ctx.report(0.02, "loading", f"weak model {weak.name!r} and the module for {strong.class_name!r}")
    weak_source = base_source(weak)
    composed = composition.patch(weak_source, chosen_module(strong), composition.PatchOptions(**params["options"]),
                                 data, ctx)
    items = [(strong.pk, composed.class_names.index(strong.class_name), strong.class_name)]
    return _finish_build(job, composed, data, [strong], [weak, strong.base_model], dataset_row, items, ctx, started,
                         [weak_source])


def _reproduce(job: Job, ctx: RunContext) -> dict:
    from modules_registry.experiments.runner import run_experiments

    return run_experiments(job, ctx)


HANDLERS = {
    Job.Kind.IMPORT_DATASET: _import_dataset,
    Job.Kind.IMPORT_MODEL: _import_model,
    Job.Kind.TRAIN: _train,
    Job.Kind.EVALUATE: _evaluate,
    Job.Kind.DECOMPOSE: _decompose,
    Job.Kind.BUILD: _build,
    Job.Kind.PATCH: _patch,
    Job.Kind.REPRODUCE: _reproduce,
}


def run_here(job_id: int, worker_id: str = "", parent_id: int | None = None) -> None:
    """Run a job in this process (a worker's task, a step of an experiment, ``reproduce --here``)."""
    with running(job_id, worker_id=worker_id, parent_id=parent_id) as claimed:
        if claimed is None:
            return
        job, ctx = claimed
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise JobInputError(f"job kind {job.kind!r} is not supported by this worker")
        result = handler(job, ctx)
        Job.objects.filter(pk=job.pk).update(result=result or {})


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int) -> None:
    worker_ids = getattr(context.task_result, "worker_ids", None) or [""]
    run_here(job_id, worker_id=worker_ids[-1])
