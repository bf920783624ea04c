"""The one bridge between the registry and the engine: rows in, engine call, artefacts out.

Each job kind has one handler. A handler loads its inputs from rows and blobs, runs the engine with
the job's RunContext, and hands plain results (bytes, dicts) to a registry service that writes every
row in one transaction, so a failed or cancelled job writes nothing.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from django_tasks import TaskContext, task

from modules_registry import blobs, uploads
from modules_registry.job_runtime import JobInputError, running
from modules_registry.models import BaseModel, Dataset, Job
from modules_registry.services import registration
from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import ImageDataset, load_builtin
from splitter_engine.data.packed import pack, unpack
from splitter_engine.data.read import detect_format, read_dataset
from splitter_engine.evaluation import evaluate
from splitter_engine.onnx_upload import inspect_onnx
from splitter_engine.profile import model_size
from splitter_engine.runtime import RunContext
from splitter_engine.specs import InputSpec
from splitter_engine.training import TrainConfig, train_model, training_classes
from splitter_engine.weights import (build_with_weights, read_safetensors, read_torch_state_dict,
                                     state_dict_to_safetensors)

# Uploaded archives up to this size are kept beside the decoded arrays, for download as uploaded.
ARCHIVE_KEEP_BYTES = 512 * 1024 * 1024


def load_dataset(row: Dataset) -> ImageDataset:
    with blobs.open_blob(row.arrays) as handle:
        return unpack(handle.read())


@contextlib.contextmanager
def staged_upload(job: Job, suffix: str = "") -> Iterator[Path]:
    """The job's staged upload as a local file; the staged copy is removed however the job ends."""
    name = job.params["staged"]
    try:
        with uploads.open_staged(name) as source, tempfile.NamedTemporaryFile(suffix=suffix) as local:
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
    archive = None
    if params.get("builtin"):
        ctx.report(0.05, "reading", f"loading built-in {params['builtin']}")
        dataset = load_builtin(params["builtin"])
        source = Dataset.Source.BUILTIN
    else:
        ctx.report(0.05, "reading", f"reading {params.get('filename') or 'the upload'}")
        with staged_upload(job) as path:
            fmt = params.get("format") or "auto"
            dataset = read_dataset(path, fmt, name=params["name"], image_size=params.get("image_size"),
                                   channels=params.get("channels"), seed=params.get("seed", 0), ctx=ctx)
            ctx.check_cancelled()
            kind = detect_format(path) if fmt == "auto" else fmt
            source = SOURCE_OF_FORMAT.get(kind, Dataset.Source.CIFAR)
            archive = path.read_bytes() if path.stat().st_size <= ARCHIVE_KEEP_BYTES else None
    ctx.check_cancelled()
    ctx.report(0.8, "storing", f"{len(dataset.labels)} images in {dataset.num_classes} classes")
    row = registration.register_dataset(
        owner=job.owner, job=job, name=params["name"], description=params.get("description", ""),
        source=source, visibility=params.get("visibility", "public"),
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
    size = model_size(model, InputSpec.from_dict(params["input_spec"]))
    row = registration.register_model(
        owner=job.owner, job=job, params=params, weights=state_dict_to_safetensors(model.state_dict()),
        media_type="application/safetensors", params_count=size.params, flops=size.flops)
    return {"model": row.pk}


def load_model(row: BaseModel):
    """The row's network with its weights, in eval mode."""
    spec = ArchSpec(name=row.architecture, num_classes=row.num_classes, in_channels=row.input_spec["channels"],
                    kwargs=row.arch_kwargs)
    with blobs.open_blob(row.weights) as handle:
        tensors = read_safetensors(handle.read()).tensors
    return build_with_weights(spec, tensors)


def _train(job: Job, ctx: RunContext) -> dict:
    params = job.params
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    data = load_dataset(dataset_row)
    config = TrainConfig.from_dict(params["config"])
    _, class_names = training_classes(data, config)
    spec = ArchSpec(name=params["architecture"], num_classes=len(class_names), in_channels=data.spec.channels,
                    kwargs=params.get("arch_kwargs") or {})
    model = build_model(spec)
    result = train_model(model, data, config, ctx)
    model.load_state_dict(result.state_dict)
    ctx.check_cancelled()
    report = evaluate(model, data, "test", ctx, class_names=result.class_names)
    size = model_size(model, data.spec)
    row = registration.register_trained_model(
        owner=job.owner, job=job, params={**params, "class_names": result.class_names,
                                          "input_spec": data.spec.to_dict()},
        weights=state_dict_to_safetensors(result.state_dict), params_count=size.params, flops=size.flops,
        train_config=config.to_dict(), train_history=result.to_dict()["history"], dataset=dataset_row,
        evaluation=report.to_dict())
    return {"model": row.pk, "test_accuracy": report.accuracy, "seconds": round(result.seconds, 2)}


def _evaluate(job: Job, ctx: RunContext) -> dict:
    params = job.params
    model_row = BaseModel.objects.get(pk=params["model"])
    dataset_row = Dataset.objects.get(pk=params["dataset"])
    model = load_model(model_row).to(ctx.torch_device)
    report = evaluate(model, load_dataset(dataset_row), params.get("split", "test"), ctx,
                      class_names=model_row.class_names, spec=InputSpec.from_dict(model_row.input_spec))
    row = registration.register_evaluation(owner=job.owner, job=job, model=model_row, dataset=dataset_row,
                                           split=params.get("split", "test"), report=report.to_dict())
    return {"evaluation": row.pk, "accuracy": report.accuracy}


HANDLERS = {
    Job.Kind.IMPORT_DATASET: _import_dataset,
    Job.Kind.IMPORT_MODEL: _import_model,
    Job.Kind.TRAIN: _train,
    Job.Kind.EVALUATE: _evaluate,
}


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int) -> None:
    worker_ids = getattr(context.task_result, "worker_ids", None) or [""]
    with running(job_id, worker_id=worker_ids[-1]) as claimed:
        if claimed is None:
            return
        job, ctx = claimed
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise JobInputError(f"job kind {job.kind!r} is not supported by this worker")
        result = handler(job, ctx)
        Job.objects.filter(pk=job.pk).update(result=result or {})
