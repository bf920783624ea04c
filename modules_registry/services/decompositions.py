"""Decompositions: split a base model into per-class modules, as a job."""
from __future__ import annotations

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel, Dataset, Job, Visibility
from modules_registry.services.jobs import check_job_memory, dataset_images, start_job
from modules_registry.services.validation import (check_dataset_usable, clean_seed, derived_visibility,
                                                  engine_config_error)
from splitter_engine.runtime import EngineError


def default_preset(method: str) -> str:
    """The preset a request that names none gets: the method's own default (``make_config``'s)."""
    import inspect

    from splitter_engine.methods import get_decomposer

    return inspect.signature(get_decomposer(method).make_config).parameters["preset"].default


def start_decomposition(*, owner, model: BaseModel, method: str = "gradsplitter", preset: str = "",
                        overrides: dict | None = None, seed: int = 0, device: str = "auto",
                        dataset: Dataset | None = None) -> Job:
    """``preset`` blank: the method's default preset (GradSplitter and CNNSplitter: fast; concern: sliced)."""
    from splitter_engine.methods import list_decomposers, make_config

    if not model.decomposable:
        raise HubError(f"model {model.name!r} cannot be decomposed: {model.not_decomposable_reason}",
                       code=ErrorCode.NOT_SUPPORTED, field="model")
    methods = list_decomposers()
    if method not in methods:
        raise HubError(f"method must be one of {', '.join(methods)}", field="method")
    dataset, default = dataset or model.dataset, dataset is None
    if dataset is None:
        raise HubError("decomposition needs labelled data: choose a data set with the model's classes",
                       field="dataset")
    check_dataset_usable(dataset, owner, default=default)
    missing = [c for c in model.class_names if c not in dataset.class_names]
    if missing:  # a model of a class subset is decomposed on those classes' images
        raise HubError(f"data set {dataset.name!r} has classes {dataset.class_names}, the model has "
                       f"{model.class_names} ({missing} missing); choose the data set the model was trained on",
                       code=ErrorCode.CLASS_MISMATCH, field="dataset")
    if not isinstance(overrides or {}, dict):
        raise HubError("overrides must be an object of config fields", field="overrides")
    seed = clean_seed(seed)
    preset = preset or default_preset(method)
    try:
        make_config(method, preset)
    except EngineError as exc:
        raise HubError(str(exc), field="preset") from exc
    try:
        config = make_config(method, preset, {**(overrides or {}), "seed": seed})
    except (EngineError, TypeError, ValueError) as exc:
        raise engine_config_error(exc, field="overrides", prefix="decomposition config: ") from exc
    _check_memory(model, dataset, method, config)
    _check_before_queueing(method, model, dataset, config)
    visibility = derived_visibility(Visibility.PUBLIC, model, dataset)  # as private as its inputs
    return start_job(kind=Job.Kind.DECOMPOSE, owner=owner, device=device, params={
        "model": model.pk, "dataset": dataset.pk, "method": method, "preset": preset,
        "config": config.to_dict(), "seed": seed, "visibility": visibility})


def _check_before_queueing(method: str, model: BaseModel, dataset: Dataset, config) -> None:
    """A method that can refuse a model for its data before the run (``check``: concern identification needs
    a confident positive of every class) is asked now, so that the request gets a 400 and nothing is queued."""
    from splitter_engine.data.subset import restrict_to_classes
    from splitter_engine.methods import get_decomposer

    check = getattr(get_decomposer(method), "check", None)
    if check is None:
        return
    from modules_registry.loaders import dataset_for_model, load_model

    data, _ = dataset_for_model(dataset, model)
    try:
        check(load_model(model), restrict_to_classes(data, model.class_names), config)
    except EngineError as exc:
        raise HubError(f"model {model.name!r} cannot be decomposed by {method}: {exc}",
                       code=ErrorCode.NOT_SUPPORTED, field="model") from exc


def _check_memory(model: BaseModel, dataset: Dataset, method: str, config) -> None:
    """Refuse a decomposition that cannot fit in a job's memory: a rough estimate (``splitter_engine.resources``)
    from the network built on the meta device, the config's batch sizes and the data set's size. Methods name their
    batch ``batch_size`` (or ``batch_images``) and may run ``modules_per_pass`` modules at once (0: all)."""
    from splitter_engine.architectures import ArchSpec
    from splitter_engine.resources import decomposition_memory, footprint

    spec = model.input_spec
    shape = (int(spec["channels"]), int(spec["height"]), int(spec["width"]))
    fp = footprint(ArchSpec(model.architecture, model.num_classes, shape[0], model.arch_kwargs or {}), shape)
    batch = int(getattr(config, "batch_size", 0) or getattr(config, "batch_images", 0) or 256)
    estimate = decomposition_memory(
        fp, classes=model.num_classes, batch_size=batch, modules_per_pass=int(getattr(config, "modules_per_pass", 1)),
        eval_batch_size=int(getattr(config, "eval_batch_size", 256)), images=dataset_images(dataset),
        image_values=shape[0] * shape[1] * shape[2])
    check_job_memory(estimate, what=f"{method} on {model.name!r} with a batch of {batch}", field="overrides",
                     advice="lower batch_size (or modules_per_pass), or decompose on a smaller data set")
