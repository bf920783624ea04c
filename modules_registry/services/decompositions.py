"""Decompositions: split a base model into per-class modules, as a job."""
from __future__ import annotations

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel, Dataset, Job, Visibility
from modules_registry.services.jobs import start_job
from modules_registry.services.validation import clean_seed
from splitter_engine.runtime import EngineError


def start_decomposition(*, owner, model: BaseModel, method: str = "gradsplitter", preset: str = "fast",
                        overrides: dict | None = None, seed: int = 0, device: str = "auto",
                        dataset: Dataset | None = None) -> Job:
    from splitter_engine.methods import list_decomposers, make_config

    if not model.decomposable:
        raise HubError(f"model {model.name!r} cannot be decomposed: {model.not_decomposable_reason}",
                       code=ErrorCode.NOT_SUPPORTED, field="model")
    methods = list_decomposers()
    if method not in methods:
        raise HubError(f"method must be one of {', '.join(methods)}", field="method")
    dataset = dataset or model.dataset
    if dataset is None:
        raise HubError("decomposition needs labelled data: choose a data set with the model's classes",
                       field="dataset")
    if dataset.class_names != model.class_names:
        raise HubError(f"data set {dataset.name!r} has classes {dataset.class_names}, the model has "
                       f"{model.class_names}; choose the data set the model was trained on",
                       code=ErrorCode.CLASS_MISMATCH, field="dataset")
    if not isinstance(overrides or {}, dict):
        raise HubError("overrides must be an object of config fields", field="overrides")
    seed = clean_seed(seed)
    try:
        make_config(method, preset)
    except EngineError as exc:
        raise HubError(str(exc), field="preset") from exc
    try:
        config = make_config(method, preset, {**(overrides or {}), "seed": seed})
    except (EngineError, TypeError, ValueError) as exc:
        raise HubError(f"decomposition config: {exc}", field="overrides") from exc
    visibility = Visibility.PRIVATE if model.visibility == Visibility.PRIVATE else Visibility.PUBLIC
    return start_job(kind=Job.Kind.DECOMPOSE, owner=owner, device=device, params={
        "model": model.pk, "dataset": dataset.pk, "method": method, "preset": preset,
        "config": config.to_dict(), "seed": seed, "visibility": visibility})
