"""scikit-learn's bundled 8x8 digits (1,797 real images, offline) in two input shapes."""
from __future__ import annotations

import numpy as np

from splitter_engine.data.assemble import channel_stats
from splitter_engine.data.dataset import ImageDataset, stratified_splits
from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec

BUILTIN_DATASETS = {
    "digits-32": "scikit-learn digits upsampled (bilinear) to 32x32, grey replicated to 3 channels",
    "digits-16": "scikit-learn digits padded to 16x16, 1 channel",
}
SPLIT_SEED = 0


def _digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images / 16.0 * 255.0).astype(np.uint8)  # values 0..16 -> 0..255
    return images[:, None, :, :], bunch.target.astype(np.int64)


def load_builtin(name: str) -> ImageDataset:
    if name not in BUILTIN_DATASETS:
        raise EngineError(f"unknown built-in data set {name!r}; choose one of {sorted(BUILTIN_DATASETS)}")
    images, labels = _digits_uint8()
    if name == "digits-32":
        import torch  # here, not at import: the web process lists built-in data sets without torch
        import torch.nn.functional as F

        up = F.interpolate(torch.from_numpy(images).float(), size=(32, 32), mode="bilinear", align_corners=False)
        images = up.round().clamp_(0, 255).to(torch.uint8).repeat(1, 3, 1, 1).numpy()
    else:
        images = np.pad(images, ((0, 0), (0, 0), (4, 4), (4, 4)))
    splits = stratified_splits(labels, seed=SPLIT_SEED)
    mean, std = channel_stats(images, splits["train"])
    c, h, w = images.shape[1:]
    return ImageDataset(name=name, class_names=[str(i) for i in range(10)], images=images, labels=labels,
                        spec=InputSpec(c, h, w, mean, std), splits=splits)
