"""Turn decoded arrays into an ``ImageDataset``: checked labels, seeded splits, train-split statistics."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from splitter_engine.data.dataset import ImageDataset, stratified_splits
from splitter_engine.data.limits import DatasetReadError
from splitter_engine.specs import InputSpec

SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
_STATS_CHUNK = 4096


def channel_stats(images: np.ndarray, indices: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of pixels scaled to [0, 1], over ``images[indices]``.

    Accumulated in chunks so a CIFAR-sized train split never needs a float64 copy of itself.
    """
    channels = images.shape[1]
    total = np.zeros(channels, dtype=np.float64)
    total_sq = np.zeros(channels, dtype=np.float64)
    count = 0
    for start in range(0, len(indices), _STATS_CHUNK):
        chunk = images[indices[start:start + _STATS_CHUNK]].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    if count == 0:
        raise DatasetReadError("the train split is empty; the data set needs more images per class")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    return tuple(float(round(m, 6)) for m in mean), tuple(float(round(max(s, 1e-3), 6)) for s in std)


def check_labels(labels: np.ndarray, class_names: Sequence[str], where: str) -> None:
    """Every label is a valid class index and every class has at least one image."""
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise DatasetReadError(
            f"{where}: labels must lie in 0..{len(class_names) - 1} (one per class name), "
            f"found {int(labels.min())}..{int(labels.max())}")
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DatasetReadError(f"{where}: class(es) {empty[:10]} have no images; add images or drop those classes")
    if len(set(class_names)) != len(class_names):
        raise DatasetReadError(f"{where}: class names must be unique, got {list(class_names)[:20]}")


def assemble_dataset(name: str, class_names: Sequence[str], images: np.ndarray, labels: np.ndarray, seed: int,
                     test_mask: Optional[np.ndarray] = None) -> ImageDataset:
    """Seeded stratified train/val/test splits; a ``test_mask`` (e.g. CIFAR's own test batch) fixes the test split.

    With a fixed test split the remaining images are split 85/15 into train and val.
    """
    class_names = [str(c) for c in class_names]
    labels = np.asarray(labels, dtype=np.int64)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 4 or len(images) != len(labels):
        raise DatasetReadError(f"{name}: need N images and N labels, got {images.shape} and {labels.shape}")
    if len(class_names) < 2:
        raise DatasetReadError(f"{name}: a classifier needs at least 2 classes, found {len(class_names)}")
    check_labels(labels, class_names, name)
    if test_mask is None:
        splits = stratified_splits(labels, seed=seed, fractions=SPLIT_FRACTIONS)
    else:
        test_idx = np.flatnonzero(test_mask)
        rest_idx = np.flatnonzero(~test_mask)
        if len(rest_idx) == 0:
            raise DatasetReadError(f"{name}: only test images were found; include the training images too")
        rest = stratified_splits(labels[rest_idx], seed=seed, fractions=(0.85, 0.15, 0.0))
        splits = {"train": rest_idx[rest["train"]], "val": rest_idx[rest["val"]], "test": test_idx.astype(np.int64)}
    mean, std = channel_stats(images, splits["train"])
    c, h, w = images.shape[1:]
    return ImageDataset(name=name, class_names=class_names, images=images, labels=labels,
                        spec=InputSpec(c, h, w, mean, std), splits=splits)
