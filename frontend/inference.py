"""Try a build: one uploaded image through the build's ONNX file in onnxruntime (CPU), on the server.

An upload is checked before anything is decoded (modules_registry/image_inputs.py: bytes, then pixels from the
header). At most HUB_TRY_CONCURRENCY images are classified at once per server process; the view
also needs a login and is throttled per user (HUB_THROTTLE_TRY).
"""
from __future__ import annotations

import numpy as np

from modules_registry import blobs
from modules_registry.image_inputs import (MAX_PIXELS, ImageInputError, image_to_input, max_bytes,  # noqa: F401
                                           open_checked)
from modules_registry.services.predictions import RUNNING  # one set of slots for Try it and the predict API

TryItError = ImageInputError  # the checks and preprocessing are shared with the predict API


class Busy(Exception):
    """Every slot is classifying an image; try again in a moment."""


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
