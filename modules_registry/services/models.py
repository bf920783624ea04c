"""Base models: upload, train, evaluate. Each starts a job; the worker writes the rows."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import PurePath

from modules_registry import uploads
from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel, Dataset, Job
from modules_registry.services import quotas
from modules_registry.services.jobs import check_job_memory, dataset_images, start_job
from modules_registry.services.validation import (check_dataset_usable, check_name_free, clean_class_names,
                                                  clean_input_spec, clean_name, clean_visibility, derived_visibility,
                                                  engine_config_error)
from splitter_engine.onnx_upload import inspect_onnx
from splitter_engine.pickle_scan import check_torch_checkpoint
from splitter_engine.runtime import EngineError
from splitter_engine.safetensors_header import check_safetensors_header

WEIGHT_SUFFIXES = {".safetensors": "safetensors", ".pt": "pt", ".pth": "pt", ".onnx": "onnx"}


def clean_architecture(name: str, kwargs) -> tuple[str, dict]:
    """Any registered name (the paper's networks or a torchvision classifier) with kwargs it takes."""
    # The registry holds the constructors (torch): loaded by the first request that names an architecture.
    from splitter_engine.architectures import check_arch_kwargs, list_architectures

    known = {entry["name"] for entry in list_architectures(everything=True)}
    if name not in known:
        problem = f"unknown architecture {name!r}" if name else "no architecture given"
        raise HubError(f"{problem}; PyTorch weights are loaded into the architecture they were trained with, one "
                       f"of {', '.join(sorted(known))} (an .onnx export needs none: it is stored for download "
                       "only)", code=ErrorCode.UNKNOWN_ARCHITECTURE, field="architecture")
    try:
        return name, check_arch_kwargs(name, {} if kwargs is None else kwargs)
    except EngineError as exc:
        raise HubError(str(exc), code=ErrorCode.INVALID_ARCH_KWARGS, field="arch_kwargs") from exc


def _weights_format(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise HubError("upload weights as .safetensors (preferred), a PyTorch state_dict (.pt/.pth), "
                       "or an .onnx file", code=ErrorCode.UNSUPPORTED_FILE, field="weights")
    return WEIGHT_SUFFIXES[suffix]


def _check_weights_file(fmt: str, uploaded) -> dict | None:
    """Checks that are safe in the web process (no unpickling); the worker does the rest. A safetensors file's
    tensor shapes are returned (from its header)."""
    shapes = None
    with _local_path(uploaded) as path:
        try:
            if fmt == "safetensors":
                shapes = check_safetensors_header(path)
            elif fmt == "onnx":
                inspect_onnx(path)
            elif fmt == "pt":
                check_torch_checkpoint(path)  # reads the pickle's opcodes; never unpickles
        except EngineError as exc:
            raise HubError(str(exc), code=ErrorCode.INVALID_FILE, field="weights") from exc
    uploaded.seek(0)
    return shapes


def _check_weights_fit(architecture: str, arch_kwargs: dict, classes: int, input_spec: dict, shapes: dict) -> None:
    """The header's shapes against the architecture built on the meta device: a wrong class count or width is a
    400 now, not a job that fails later."""
    from splitter_engine.architectures import ArchSpec
    from splitter_engine.weights import check_header_fits

    try:
        check_header_fits(ArchSpec(architecture, classes, int(input_spec["channels"]), arch_kwargs), shapes)
    except EngineError as exc:
        mismatch = str(exc).startswith("class-count mismatch")
        raise HubError(str(exc), code=ErrorCode.CLASS_MISMATCH if mismatch else ErrorCode.INVALID_FILE,
                       field="weights") from exc


@contextlib.contextmanager
def _local_path(uploaded):
    """A path to the upload's bytes: its temporary file, or a copy of an in-memory upload."""
    if hasattr(uploaded, "temporary_file_path"):
        yield uploaded.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile() as copy:
        uploaded.seek(0)
        for chunk in uploaded.chunks():
            copy.write(chunk)
        copy.flush()
        yield copy.name


def upload_model(*, owner, weights, name: str, class_names, input_spec, architecture: str = "",
                 arch_kwargs=None, dataset: Dataset | None = None, visibility: str = "public",
                 description: str = "") -> Job:
    name = clean_name(name, what="model")
    check_name_free(BaseModel, owner, name, what="model")
    fmt = _weights_format(getattr(weights, "name", ""))
    class_names = clean_class_names(class_names)
    input_spec = clean_input_spec(input_spec)
    if fmt != "onnx":
        architecture, arch_kwargs = clean_architecture(architecture, arch_kwargs)
    if dataset is not None:
        _check_dataset_matches(dataset, class_names, input_spec)
    shapes = _check_weights_file(fmt, weights)
    if shapes is not None:
        _check_weights_fit(architecture, arch_kwargs, len(class_names), input_spec, shapes)
    quotas.check_storage(owner, weights.size)  # before copying it to the staging area; again with the job
    staged = uploads.stage(weights)
    with uploads.discarded_on_error(staged):
        return start_job(kind=Job.Kind.IMPORT_MODEL, owner=owner, device="cpu", incoming_bytes=weights.size, params={
            "staged": staged, "format": fmt, "name": name, "description": description,
            "architecture": architecture if fmt != "onnx" else "", "arch_kwargs": arch_kwargs or {},
            "class_names": class_names, "input_spec": input_spec, "dataset": dataset.pk if dataset else None,
            "visibility": clean_visibility(visibility), "filename": getattr(weights, "name", "")})


def _check_dataset_matches(dataset: Dataset, class_names: list[str], input_spec: dict) -> None:
    if len(class_names) != dataset.num_classes:
        raise HubError(f"the model declares {len(class_names)} classes but data set {dataset.name!r} has "
                       f"{dataset.num_classes}", code=ErrorCode.CLASS_MISMATCH, field="class_names")
    _check_input_shape(dataset, input_spec)


def _check_input_shape(dataset: Dataset, input_spec: dict) -> None:
    spec = dataset.input_spec
    if (input_spec["channels"], input_spec["height"], input_spec["width"]) != (
            spec["channels"], spec["height"], spec["width"]):
        raise HubError("the model's input shape differs from the data set's "
                       f"({spec['channels']}x{spec['height']}x{spec['width']})", code=ErrorCode.INPUT_MISMATCH,
                       field="input_spec")


def start_training(*, owner, dataset: Dataset, name: str, architecture: str, arch_kwargs=None,
                   config: dict | None = None, device: str = "auto", visibility: str = "public",
                   description: str = "") -> Job:
    from splitter_engine.train_config import TrainConfig

    name = clean_name(name, what="model")
    check_name_free(BaseModel, owner, name, what="model")
    architecture, arch_kwargs = clean_architecture(architecture, arch_kwargs)
    config = dict(config or {})
    try:
        train_config = TrainConfig.from_dict(config)
    except (TypeError, ValueError) as exc:  # the engine's messages start with "training config:"
        raise engine_config_error(exc, field="config") from exc
    if train_config.classes:
        unknown = [c for c in train_config.classes if c not in dataset.class_names]
        if unknown:
            raise HubError(f"classes {unknown} are not in data set {dataset.name!r}", field="config",
                           details={"setting": "classes"})
    _check_training_memory(dataset, architecture, arch_kwargs, train_config)
    return start_job(kind=Job.Kind.TRAIN, owner=owner, device=device, params={
        "dataset": dataset.pk, "name": name, "description": description, "architecture": architecture,
        "arch_kwargs": arch_kwargs, "config": train_config.to_dict(),
        "visibility": derived_visibility(visibility, dataset)})  # a model trained on private data is private


def _check_training_memory(dataset: Dataset, architecture: str, arch_kwargs: dict, config) -> None:
    """Refuse a training run whose network, batch and data set cannot fit in a job's memory (a rough estimate from
    the network built on the meta device; ``splitter_engine.resources``)."""
    from splitter_engine.architectures import ArchSpec
    from splitter_engine.resources import footprint, training_memory

    spec = dataset.input_spec
    shape = (int(spec["channels"]), int(spec["height"]), int(spec["width"]))
    classes = len(config.classes) or dataset.num_classes
    fp = footprint(ArchSpec(architecture, classes, shape[0], arch_kwargs), shape)
    estimate = training_memory(fp, batch_size=config.batch_size, eval_batch_size=256,
                               images=dataset_images(dataset), image_values=shape[0] * shape[1] * shape[2])
    check_job_memory(estimate, what=f"training {architecture} ({fp.params:,} parameters) with batch_size "
                                    f"{config.batch_size}", field="arch_kwargs",
                     advice="choose a smaller width or architecture, or a smaller batch_size")


def start_evaluation(*, owner, model: BaseModel, dataset: Dataset | None = None, split: str = "test",
                     device: str = "auto") -> Job:
    if not model.runnable:
        raise HubError("ONNX entries are stored for download only and cannot be evaluated here",
                       code=ErrorCode.NOT_SUPPORTED, field="model")
    dataset, default = dataset or model.dataset, dataset is None
    if dataset is None:
        raise HubError("this model has no training data set on record; choose a data set to evaluate on",
                       field="dataset")
    check_dataset_usable(dataset, owner, default=default)
    if split not in ("train", "val", "test"):
        raise HubError("split must be train, val or test", field="split")
    missing = [c for c in model.class_names if c not in dataset.class_names]
    if missing:
        raise HubError(f"data set {dataset.name!r} has no images of classes {missing}; choose a data set "
                       "with the model's classes", code=ErrorCode.CLASS_MISMATCH, field="dataset")
    _check_input_shape(dataset, model.input_spec)
    return start_job(kind=Job.Kind.EVALUATE, owner=owner, device=device,
                     params={"model": model.pk, "dataset": dataset.pk, "split": split})
