"""Try a build: one uploaded image through the build's ONNX file in onnxruntime (CPU), on the server.

An upload is checked before anything is decoded: its size in bytes (HUB_TRY_MAX_BYTES), then its pixel count from
the image header (MAX_PIXELS, the hub's limit for any one image): a small PNG can declare 32 million pixels and
decode to a gigabyte. At most HUB_TRY_CONCURRENCY images are classified at once per server process; the view
also needs a login and is throttled per user (HUB_THROTTLE_TRY).
"""
from __future__ import annotations

import threading
import warnings

import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from modules_registry import blobs
from splitter_engine.data.limits import ReadLimits

MAX_PIXELS = ReadLimits().max_image_pixels  # 4096 x 4096, as for the images of an uploaded data set
RUNNING = threading.BoundedSemaphore(int(getattr(settings, "HUB_TRY_CONCURRENCY", 2)))


class TryItError(ValueError):
    """The image cannot be used; the message says why."""


class Busy(Exception):
    """Every slot is classifying an image; try again in a moment."""


def max_bytes() -> int:
    return int(getattr(settings, "HUB_TRY_MAX_BYTES", 10 * 1024**2))


def open_checked(uploaded) -> Image.Image:
    """The image, opened (its header read, nothing decoded) and checked: file size and pixel count."""
    if hasattr(uploaded, "seek"):
        uploaded.seek(0)
    size = getattr(uploaded, "size", None)
    if size is not None and size > max_bytes():
        raise TryItError(f"the file is larger than the limit of {max_bytes():,} bytes; send a smaller image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # ours is the check below
            image = Image.open(uploaded)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            SyntaxError, ValueError) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise TryItError(f"the image has more than {MAX_PIXELS:,} pixels; send a smaller image") from exc
        raise TryItError(f"this file is not an image we can read ({exc.__class__.__name__})") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TryItError(f"the image is {width} x {height} pixels, more than the limit of {MAX_PIXELS:,}; send a "
                         "smaller image")
    return image


def image_to_input(uploaded, spec: dict) -> np.ndarray:
    """An uploaded image -> float32 1 x C x H x W, scaled to [0, 1] and normalised like the build's input."""
    image = open_checked(uploaded)
    channels, height, width = int(spec["channels"]), int(spec["height"]), int(spec["width"])
    image.draft("L" if channels == 1 else "RGB", (width, height))  # JPEG: decode at a reduced size where it can
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise TryItError(f"this file is not an image we can read ({exc.__class__.__name__})") from exc
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[None, :, :] if channels == 1 else array.transpose(2, 0, 1)
    mean = np.asarray(spec.get("mean") or [0.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.get("std") or [1.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    return ((array - mean) / std)[None].astype(np.float32)


def predict(build, uploaded) -> list[tuple[str, float]]:
    """(class name, probability) for every class of the build, most likely first; Busy when every slot is taken."""
    import onnxruntime as ort

    if not RUNNING.acquire(blocking=False):
        raise Busy()
    try:
        x = image_to_input(uploaded, build.input_spec)
        session = ort.InferenceSession(blobs.read_bytes(build.onnx), providers=["CPUExecutionProvider"])
        logits = session.run(["logits"], {"input": x})[0][0].astype(np.float64)
    finally:
        RUNNING.release()
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    ranked = sorted(zip(build.class_names, probabilities.tolist()), key=lambda item: -item[1])
    return [(name, float(p)) for name, p in ranked]
