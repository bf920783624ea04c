"""A data set restricted to some of its classes, relabelled 0..k-1 in the order given."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from splitter_engine.data.dataset import ImageDataset
from splitter_engine.runtime import EngineError


def restrict_to_classes(data: ImageDataset, class_names: Sequence[str]) -> ImageDataset:
    if list(class_names) == list(data.class_names):
        return data
    missing = [c for c in class_names if c not in data.class_names]
    if missing:
        raise EngineError(f"data set {data.name!r} has no class {', '.join(map(repr, missing))}")
    lut = np.full(data.num_classes, -1, dtype=np.int64)
    for new, name in enumerate(class_names):
        lut[data.class_names.index(name)] = new
    keep = np.flatnonzero(lut[data.labels] >= 0)
    position = np.full(len(data.labels), -1, dtype=np.int64)
    position[keep] = np.arange(len(keep))
    splits = {name: position[idx[lut[data.labels[idx]] >= 0]] for name, idx in data.splits.items()}
    return ImageDataset(name=data.name, class_names=list(class_names), images=data.images[keep],
                        labels=lut[data.labels[keep]], spec=data.spec, splits=splits)
