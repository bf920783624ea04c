"""Writes the rows that a finished job produced, all in one transaction."""
from __future__ import annotations

import json

from django.db import transaction

from modules_registry import blobs
from modules_registry.models import BaseModel, Dataset, Decomposition, Evaluation, Module, Visibility
from modules_registry.models import Build, BuildItem


@transaction.atomic
def register_dataset(*, owner, job, name: str, description: str, source: str, visibility: str,
                     class_names: list[str], input_spec: dict, class_counts: dict, split_seed: int,
                     packed_arrays: bytes, archive: bytes | None) -> Dataset:
    arrays = blobs.store(packed_arrays, media_type="application/x-npz")
    archive_blob = blobs.store(archive) if archive is not None else None
    return Dataset.objects.create(
        owner=owner, job=job, name=name, description=description, source=source, visibility=visibility,
        class_names=class_names, input_spec=input_spec, class_counts=class_counts, split_seed=split_seed,
        archive=archive_blob, arrays=arrays)


@transaction.atomic
def register_model(*, owner, job, params: dict, weights: bytes, media_type: str, params_count: int | None,
                   flops: int | None, train_config: dict | None = None, train_history: list | None = None,
                   dataset_id: int | None = None, channel_analysis_error: str = "") -> BaseModel:
    """A base model from an import or a training job; ``params`` is the job's validated request.

    ``channel_analysis_error``: why the engine's channel analysis refused the network (empty: decomposable)."""
    blob = blobs.store(weights, media_type=media_type)
    fmt = BaseModel.Format.ONNX if media_type == "application/onnx" else BaseModel.Format.SAFETENSORS
    return BaseModel.objects.create(
        owner=owner, job=job, name=params["name"], description=params.get("description", ""), format=fmt,
        architecture=params.get("architecture", ""), arch_kwargs=params.get("arch_kwargs") or {},
        class_names=params["class_names"], input_spec=params["input_spec"], weights=blob,
        dataset_id=dataset_id if dataset_id is not None else params.get("dataset"),
        visibility=params.get("visibility", "public"), train_config=train_config, train_history=train_history,
        params=params_count, flops=flops, channel_analysis_error=channel_analysis_error)


def _evaluation_row(*, owner, job, model: BaseModel, dataset: Dataset, split: str, report: dict) -> Evaluation:
    private = Visibility.PRIVATE in (model.visibility, dataset.visibility)  # as private as what it measures
    return Evaluation.objects.create(owner=owner, job=job, model=model, dataset=dataset, split=split,
                                     accuracy=report["accuracy"], metrics=report,
                                     visibility=Visibility.PRIVATE if private else model.visibility)


@transaction.atomic
def register_trained_model(*, owner, job, params: dict, weights: bytes, params_count: int, flops: int,
                           train_config: dict, train_history: list, dataset: Dataset, evaluation: dict,
                           channel_analysis_error: str = "") -> BaseModel:
    model = register_model(owner=owner, job=job, params=params, weights=weights,
                           media_type="application/safetensors", params_count=params_count, flops=flops,
                           train_config=train_config, train_history=train_history, dataset_id=dataset.pk,
                           channel_analysis_error=channel_analysis_error)
    _evaluation_row(owner=owner, job=job, model=model, dataset=dataset, split="test", report=evaluation)
    return model


@transaction.atomic
def register_evaluation(*, owner, job, model: BaseModel, dataset: Dataset, split: str, report: dict) -> Evaluation:
    return _evaluation_row(owner=owner, job=job, model=model, dataset=dataset, split=split, report=report)


@transaction.atomic
def register_decomposition(*, owner, job, model: BaseModel, dataset: Dataset, params: dict, result_meta: dict,
                           result_weights: bytes, modules: list[dict]) -> Decomposition:
    """The decomposition and its N modules, all or nothing."""
    metrics = result_meta.get("metrics", {})
    decomposition = Decomposition.objects.create(
        owner=owner, job=job, base_model=model, dataset=dataset, method=params["method"],
        preset=params.get("preset", ""), config=params["config"], seed=params["seed"], device=job.device,
        history=result_meta.get("history", []), selected_epoch=result_meta.get("selected_epoch"),
        composed_accuracy=metrics["composed_accuracy"], base_accuracy=metrics["base_accuracy"],
        mean_kernel_retention=metrics["mean_retention"], metrics=metrics,
        result=blobs.store(result_weights, media_type="application/safetensors"),
        result_spec={k: v for k, v in result_meta.items() if k not in ("history", "metrics")},
        visibility=params.get("visibility", "public"))
    for module in modules:
        Module.objects.create(
            owner=owner, job=job, decomposition=decomposition, base_model=model, visibility=decomposition.visibility,
            class_index=module["class_index"], class_name=module["class_name"], scoring=module["scoring"],
            spec=blobs.store(json.dumps(module["spec"], indent=1).encode(), media_type="application/json"),
            weights=blobs.store(module["weights"], media_type="application/safetensors"),
            kept_kernels=module["kept_kernels"], total_kernels=module["total_kernels"], params=module["params"],
            flops=module["flops"], params_fraction=module["params_fraction"],
            flops_fraction=module["flops_fraction"], precision=module["precision"], recall=module["recall"],
            f1=module["f1"])
    return decomposition


@transaction.atomic
def register_build(*, owner, job, params: dict, onnx_bytes: bytes, metrics: dict, parity_max_abs_diff: float,
                   input_spec: dict, items: list[tuple[int, int, str]], base_model_ids: list[int]) -> Build:
    """A composed or patched classifier with lineage to every module and base model, all or nothing.

    ``items``: (module id, output position, class name) of every module used. ``params`` is the job's
    validated request; a Build with the same cache key (a concurrent twin
    request) is returned instead of a second row.
    """
    existing = Build.objects.filter(cache_key=params["cache_key"]).first()
    if existing is not None:
        return existing
    options = params.get("options", {})
    build = Build.objects.create(
        owner=owner, job=job, name=params.get("name", ""), description=params.get("description", ""),
        visibility=params.get("visibility", "public"), kind=params["kind"], strategy=options.get("strategy", ""),
        calibration=options.get("calibration", "none"), cache_key=params["cache_key"],
        class_names=params["class_names"], input_spec=input_spec, options=options,
        onnx=blobs.store(onnx_bytes, media_type="application/onnx"), metrics=metrics,
        parity_max_abs_diff=parity_max_abs_diff)
    for module_id, position, class_name in items:
        BuildItem.objects.create(build=build, module_id=module_id, position=position, class_name=class_name)
    build.base_models.set(base_model_ids)
    return build
