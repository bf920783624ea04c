"""A whole lineage of three digit classes made through the real jobs in seconds, for the tests that run many jobs
through real workers (three classes keep each decomposition and build of a queue to seconds)."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile

from modules_registry import blobs
from modules_registry.models import BaseModel, Dataset, Job, Module
from modules_registry.services.datasets import upload_dataset
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_training

# A decomposition of seconds: one search cycle of one epoch, a short head refit.
TINY_SEARCH = {"cycles": 1, "cycle_mask_epochs": 1, "cycle_head_epochs": 1, "warmup_head_epochs": 1,
               "refit_head_epochs": 1}


def digits_npz(classes: int = 3) -> bytes:
    """scikit-learn's 8x8 digits of the first ``classes`` classes as an .npz upload (x uint8, y)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = digits.target < classes
    buffer = io.BytesIO()
    np.savez(buffer, x=(digits.images[keep] * 15.9).astype(np.uint8), y=digits.target[keep])
    return buffer.getvalue()


@dataclass
class Lineage:
    dataset: Dataset
    model: BaseModel
    weights: bytes
    modules: list[Module]


def make_tiny_lineage(user, drain_jobs) -> Lineage:
    """A 3-class digits data set (16 x 16), a narrow ResCNN trained on it and its modules."""
    upload_dataset(owner=user, archive=SimpleUploadedFile("digits3.npz", digits_npz()), name="digits3",
                   image_size=[16, 16])
    drain_jobs()
    dataset = Dataset.objects.get(owner=user, name="digits3")
    trained = start_training(owner=user, dataset=dataset, name="base", architecture="rescnn",
                             arch_kwargs={"width": 0.125}, config={"epochs": 2, "lr": 3e-3}, device="cpu")
    drain_jobs()
    model = BaseModel.objects.get(pk=Job.objects.get(pk=trained.pk).result["model"])
    decomposed = start_decomposition(owner=user, model=model, overrides=TINY_SEARCH, device="cpu")
    drain_jobs()
    decomposed.refresh_from_db()
    assert decomposed.status == "succeeded", decomposed.error
    modules = list(Module.objects.filter(decomposition_id=decomposed.result["decomposition"]).order_by("class_index"))
    return Lineage(dataset, model, blobs.read_bytes(model.weights), modules)
