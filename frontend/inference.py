"""Try a build: one uploaded image through the build's ONNX file in onnxruntime (CPU), on the server."""
from __future__ import annotations

import numpy as np
from PIL import Image, UnidentifiedImageError

from modules_registry import blobs

MAX_PIXELS = 4096 * 4096


class TryItError(ValueError):
    """The image cannot be used; the message says why."""


def image_to_input(uploaded, spec: dict) -> np.ndarray:
    """An uploaded image -> float32 1 x C x H x W, scaled to [0, 1] and normalised like the build's input."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(uploaded)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise TryItError(f"this file is not an image we can read ({exc.__class__.__name__})") from exc
    channels, height, width = int(spec["channels"]), int(spec["height"]), int(spec["width"])
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[None, :, :] if channels == 1 else array.transpose(2, 0, 1)
    mean = np.asarray(spec.get("mean") or [0.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.get("std") or [1.0] * channels, dtype=np.float32).reshape(-1, 1, 1)
    return ((array - mean) / std)[None].astype(np.float32)


def predict(build, uploaded) -> list[tuple[str, float]]:
    """(class name, probability) for every class of the build, most likely first."""
    import onnxruntime as ort

    x = image_to_input(uploaded, build.input_spec)
    session = ort.InferenceSession(blobs.read_bytes(build.onnx), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": x})[0][0].astype(np.float64)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    ranked = sorted(zip(build.class_names, probabilities.tolist()), key=lambda item: -item[1])
    return [(name, float(p)) for name, p in ranked]
