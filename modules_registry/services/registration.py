"""Writes the rows that a finished job produced, all in one transaction."""
from __future__ import annotations

from django.db import transaction

from modules_registry import blobs
from modules_registry.models import BaseModel, Dataset, Evaluation


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
                   dataset_id: int | None = None) -> BaseModel:
    """A base model from an import or a training job; ``params`` is the job's validated request."""
    blob = blobs.store(weights, media_type=media_type)
    fmt = BaseModel.Format.ONNX if media_type == "application/onnx" else BaseModel.Format.SAFETENSORS
    return BaseModel.objects.create(
        owner=owner, job=job, name=params["name"], description=params.get("description", ""), format=fmt,
        architecture=params.get("architecture", ""), arch_kwargs=params.get("arch_kwargs") or {},
        class_names=params["class_names"], input_spec=params["input_spec"], weights=blob,
        dataset_id=dataset_id if dataset_id is not None else params.get("dataset"),
        visibility=params.get("visibility", "public"), train_config=train_config, train_history=train_history,
        params=params_count, flops=flops)


def _evaluation_row(*, owner, job, model: BaseModel, dataset: Dataset, split: str, report: dict) -> Evaluation:
    return Evaluation.objects.create(owner=owner, job=job, model=model, dataset=dataset, split=split,
                                     accuracy=report["accuracy"], metrics=report, visibility=model.visibility)


@transaction.atomic
def register_trained_model(*, owner, job, params: dict, weights: bytes, params_count: int, flops: int,
                           train_config: dict, train_history: list, dataset: Dataset, evaluation: dict) -> BaseModel:
    model = register_model(owner=owner, job=job, params=params, weights=weights,
                           media_type="application/safetensors", params_count=params_count, flops=flops,
                           train_config=train_config, train_history=train_history, dataset_id=dataset.pk)
    _evaluation_row(owner=owner, job=job, model=model, dataset=dataset, split="test", report=evaluation)
    return model


@transaction.atomic
def register_evaluation(*, owner, job, model: BaseModel, dataset: Dataset, split: str, report: dict) -> Evaluation:
    return _evaluation_row(owner=owner, job=job, model=model, dataset=dataset, split=split, report=report)
