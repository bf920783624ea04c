"""Images sent to a build (Try it, the predict API) -> the build's input: checked before anything is decoded.

An upload is checked first by its size in bytes (HUB_TRY_MAX_BYTES), then by its pixel count from the image header
(MAX_PIXELS, the hub's limit for any one image): a small PNG can declare 32 million pixels and decode to a gigabyte.
Preprocessing follows the build's input spec: channels (grey or RGB), size (bilinear resize), mean and std.
"""
from __future__ import annotations

import warnings

import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from splitter_engine.data.limits import ReadLimits

MAX_PIXELS = ReadLimits().max_image_pixels  # 4096 x 4096, as for the images of an uploaded data set


class ImageInputError(ValueError):
    """The image cannot be used; the message says why."""


def max_bytes() -> int:
    return int(getattr(settings, "HUB_TRY_MAX_BYTES", 10 * 1024**2))


def open_checked(uploaded) -> Image.Image:
    """The image, opened (its header read, nothing decoded) and checked: file size and pixel count."""
    if hasattr(uploaded, "seek"):
        uploaded.seek(0)
    size = getattr(uploaded, "size", None)
    if size is not None and size > max_bytes():
        raise ImageInputError(f"the file is larger than the limit of {max_bytes():,} bytes; send a smaller image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # ours is the check below
            image = Image.open(uploaded)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            SyntaxError, ValueError) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise ImageInputError(f"the image has more than {MAX_PIXELS:,} pixels; send a smaller image") from exc
        raise ImageInputError(f"this file is not an image we can read ({exc.__class__.__name__})") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageInputError(f"the image is {width} x {height} pixels, more than the limit of {MAX_PIXELS:,}; send a "
                              "smaller image")
    return image


def to_input(image: Image.Image, spec: dict) -> np.ndarray:
    """An opened image -> float32 C x H x W, scaled to [0, 1], resized and normalised like the build's input."""
    channels, height, width = int(spec["channels"]), int(spec["height"]), int(spec["width"])
    image.draft("L" if channels == 1 else "RGB", (width, height))  # JPEG: decode at a reduced size where it can
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"this file is not an image we can read ({exc.__class__.__name__})") from exc
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[None, :, :] if channels == 1 else array.transpose(2, 0, 1)
    mean = np.asarray(spec.get("mean") or [0.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.get("std") or [1.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    return ((array - mean) / std).astype(np.float32)


def image_to_input(uploaded, spec: dict) -> np.ndarray:
    """An uploaded image -> float32 1 x C x H x W, normalised like the build's input."""
    return to_input(open_checked(uploaded), spec)[None]
