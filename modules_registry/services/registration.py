"""Writes the rows that a finished job produced, all in one transaction."""
from __future__ import annotations

from django.db import transaction

from modules_registry import blobs
from modules_registry.models import Blob, Dataset


@transaction.atomic
def register_dataset(*, owner, job, name: str, description: str, source: str, visibility: str,
                     class_names: list[str], input_spec: dict, class_counts: dict, split_seed: int,
                     packed_arrays: bytes, archive_blob: Blob | None) -> Dataset:
    arrays = blobs.store(packed_arrays, media_type="application/x-npz")
    return Dataset.objects.create(
        owner=owner, job=job, name=name, description=description, source=source, visibility=visibility,
        class_names=class_names, input_spec=input_spec, class_counts=class_counts, split_seed=split_seed,
        archive=archive_blob, arrays=arrays)
