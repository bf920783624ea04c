"""Bring uint8 image arrays to a declared channel count and size."""
from __future__ import annotations

from typing import Optional

import numpy as np

from splitter_engine.data.limits import DatasetReadError

_CHUNK = 2048
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as Pillow's RGB -> L


def parse_size(image_size) -> Optional[tuple[int, int]]:
    """``None``, ``32``, ``"32"``, ``"32x24"``, ``[32]`` or ``(32, 24)`` -> (height, width) or None."""
    if image_size is None:
        return None
    parts = image_size.lower().replace("×", "x").split("x") if isinstance(image_size, str) else image_size
    if isinstance(parts, int):
        parts = [parts]
    try:
        values = [int(p) for p in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) not in (1, 2):
        raise DatasetReadError(f"image size must look like 32, 32x24 or (32, 24); got {image_size!r}")
    h, w = values if len(values) == 2 else values * 2
    if h < 1 or w < 1:
        raise DatasetReadError(f"image size must be positive, got {h}x{w}")
    return h, w


def check_channels(channels: Optional[int]) -> None:
    if channels not in (None, 1, 3):
        raise DatasetReadError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")


def conform_images(images: np.ndarray, channels: Optional[int], size: Optional[tuple[int, int]]) -> np.ndarray:
    """N x C x H x W uint8 -> the requested channels (grey <-> RGB) and size (bilinear, antialiased)."""
    check_channels(channels)
    if channels is not None and channels != images.shape[1]:
        if channels == 3:
            images = np.repeat(images, 3, axis=1)
        else:
            grey = np.tensordot(images.astype(np.float32), _LUMA.astype(np.float32), axes=([1], [0]))
            images = np.round(grey)[:, None].clip(0, 255).astype(np.uint8)
    if size is None or tuple(images.shape[2:]) == tuple(size):
        return images
    import torch  # here, not at import: the web process parses sizes without torch
    import torch.nn.functional as F

    out = np.empty(images.shape[:2] + tuple(size), dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + _CHUNK])).float()
        resized = F.interpolate(chunk, size=size, mode="bilinear", align_corners=False, antialias=True)
        out[start:start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out
