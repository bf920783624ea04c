"""The one in-memory form every reader produces and every engine step consumes."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch loads only when tensors are asked for: the web process reads data sets without it
    import torch

from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec

SPLIT_NAMES = ("train", "val", "test")


def stratified_splits(labels: np.ndarray, seed: int, fractions=(0.7, 0.15, 0.15)) -> dict[str, np.ndarray]:
    """Deterministic per-class split of indices into train/val/test (same seed, same split)."""
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("split fractions must add up to 1")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fractions[1]))
        n_test = int(round(len(idx) * fractions[2]))
        n_train = len(idx) - n_val - n_test
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train:n_train + n_val])
        parts["test"].append(idx[n_train + n_val:])
    return {name: np.sort(np.concatenate(chunks)).astype(np.int64) for name, chunks in parts.items()}


@dataclass
class ImageDataset:
    """uint8 images N x C x H x W, int64 labels, class names in label order, splits of indices."""

    name: str
    class_names: list[str]
    images: np.ndarray
    labels: np.ndarray
    spec: InputSpec
    splits: dict[str, np.ndarray]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self, split: str | None = None) -> list[int]:
        labels = self.labels if split is None else self.labels[self.splits[split]]
        return np.bincount(labels, minlength=self.num_classes).astype(int).tolist()

    def normalised_as(self, spec: InputSpec) -> "ImageDataset":
        """The same images, normalised the way a model declares (its own mean and std): the model's spec
        decides how its inputs are normalised, never the data set's."""
        if spec.shape != self.spec.shape:
            raise EngineError(f"the model takes {spec.channels}x{spec.height}x{spec.width} inputs but data set "
                              f"{self.name!r} has {self.spec.channels}x{self.spec.height}x{self.spec.width} images")
        return self if spec == self.spec else replace(self, spec=spec)

    def normalise(self, images: np.ndarray) -> torch.Tensor:
        """uint8 N x C x H x W -> float32 tensor, scaled to [0,1] and normalised by the spec."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
        mean = torch.tensor(self.spec.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.spec.std).view(1, -1, 1, 1)
        return (x - mean) / std

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised float32 images and int64 labels of one split."""
        import torch

        idx = self.splits[split]
        return self.normalise(self.images[idx]), torch.from_numpy(self.labels[idx].astype(np.int64))
