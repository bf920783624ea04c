"""Labelled samples of a build's classes, taken from a data set by class name."""
from __future__ import annotations

import numpy as np
import torch

from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import normalise_batch
from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec


def check_covers(data: ImageDataset, class_names: list[str], spec: InputSpec) -> None:
    missing = [c for c in class_names if c not in data.class_names]
    if missing:
        raise EngineError(f"data set {data.name!r} has no class(es) {missing}; choose a data set with every chosen class")
    if data.spec.shape != spec.shape:
        raise EngineError(f"data set {data.name!r} has {data.spec.shape} images but the build takes {spec.shape}")


def labelled(data: ImageDataset, split: str, class_names: list[str], spec: InputSpec,
             per_class: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``split`` whose class is in ``class_names``, normalised with ``spec``, labelled by position
    in ``class_names``; at most ``per_class`` per class (a seeded pick)."""
    check_covers(data, class_names, spec)
    idx = data.splits[split]
    rng = np.random.default_rng(seed)
    picked, labels = [], []
    for position, name in enumerate(class_names):
        of_class = idx[data.labels[idx] == data.class_names.index(name)]
        if per_class is not None and len(of_class) > per_class:
            of_class = np.sort(rng.choice(of_class, per_class, replace=False))
        picked.append(of_class)
        labels.append(np.full(len(of_class), position, dtype=np.int64))
    chosen = np.concatenate(picked)
    if not len(chosen):
        raise EngineError(f"split {split!r} of data set {data.name!r} has no image of the chosen classes")
    x = normalise_batch(torch.from_numpy(np.ascontiguousarray(data.images[chosen])), spec, torch.device("cpu"))
    return x, torch.from_numpy(np.concatenate(labels))

