"""Predictions: images through a build's ONNX file in onnxruntime (CPU), in the web process.

Sessions are cached per build in a bounded LRU (HUB_PREDICT_SESSIONS per process): a build's file never changes
(its sha256 is part of the key), so a session made once serves every later request. Images come as PNG/JPEG files
(each checked before decoding: bytes, then pixels from the header; modules_registry/image_inputs.py) or as one .npz
holding ``x``, a uint8 batch (N x H x W, N x H x W x C or N x C x H x W), whose header is read before its data.
At most HUB_TRY_CONCURRENCY predictions run at once per process (the same slots as Try it).
"""
from __future__ import annotations

import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from modules_registry import blobs
from modules_registry.errors import ErrorCode, HubError
from modules_registry.image_inputs import MAX_PIXELS, ImageInputError, max_bytes, open_checked, to_input

_SESSIONS: OrderedDict[tuple[int, str], object] = OrderedDict()
_SESSIONS_LOCK = threading.Lock()
RUNNING = threading.BoundedSemaphore(int(getattr(settings, "HUB_TRY_CONCURRENCY", 2)))


def max_images() -> int:
    return int(getattr(settings, "HUB_PREDICT_MAX_IMAGES", 256))


@dataclass(frozen=True)
class Prediction:
    name: str
    ranked: list[tuple[str, float]]


def session_for(build):
    """The build's onnxruntime session, from the cache or made now (then the least recently used one goes)."""
    import onnxruntime as ort

    key = (build.pk, build.onnx.sha256)
    with _SESSIONS_LOCK:
        if key in _SESSIONS:
            _SESSIONS.move_to_end(key)
            return _SESSIONS[key]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one request per slot; the web process's workers share the cores
    session = ort.InferenceSession(blobs.read_bytes(build.onnx), options, providers=["CPUExecutionProvider"])
    with _SESSIONS_LOCK:
        _SESSIONS[key] = session
        _SESSIONS.move_to_end(key)
        while len(_SESSIONS) > int(getattr(settings, "HUB_PREDICT_SESSIONS", 8)):
            _SESSIONS.popitem(last=False)
    return session


def cached_sessions() -> list[int]:
    with _SESSIONS_LOCK:
        return [build_id for build_id, _ in _SESSIONS]


def _bad(message: str) -> HubError:
    return HubError(message, code=ErrorCode.INVALID_FILE, field="images")


def _npz_batch(uploaded) -> np.ndarray:
    """``x`` of an .npz as N x C x H x W uint8; its shape and dtype are read from the header before any data."""
    uploaded.seek(0)
    try:
        with zipfile.ZipFile(uploaded) as zf:
            info = next((i for i in zf.infolist() if i.filename == "x.npy"), None)
            if info is None:
                raise _bad("the .npz holds no array 'x'; save the images as np.savez(path, x=images)")
            with zf.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(stream)
                if dtype != np.uint8 or fortran or len(shape) not in (3, 4) or (
                        len(shape) == 4 and shape[1] not in (1, 3) and shape[3] not in (1, 3)):
                    raise _bad(f"array 'x' must be uint8 images N x H x W, N x H x W x C or N x C x H x W; got "
                               f"{dtype} of shape {tuple(shape)}")
                count, pixels = int(shape[0]), int(np.prod(shape[1:], dtype=np.int64))
                if count < 1 or count > max_images():
                    raise _bad(f"the batch holds {count} images; send 1 to {max_images()}")
                if pixels > 3 * MAX_PIXELS or count * pixels > max_bytes() * 8:
                    raise _bad(f"the batch of {count} images of shape {tuple(shape[1:])} is too large; send smaller "
                               "images or fewer at once")
                data = stream.read(count * pixels + 1)
    except HubError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _bad(f"this file is not an .npz we can read ({exc.__class__.__name__}); save it with np.savez") from exc
    if len(data) != count * pixels:
        raise _bad("array 'x' is truncated; save it again")
    x = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    if x.ndim == 3:
        return x[:, None]
    return x if x.shape[1] in (1, 3) else x.transpose(0, 3, 1, 2)


def inputs_of(files: list, spec: dict) -> tuple[list[str], np.ndarray]:
    """Names and the float32 N x C x H x W batch of the uploaded files (PNG/JPEG images, or one .npz batch)."""
    if not files:
        raise HubError("send one or more images (multipart field 'images'): PNG or JPEG files, or one .npz of uint8 "
                       "images", field="images")
    npz = [f for f in files if str(getattr(f, "name", "")).lower().endswith(".npz")]
    if npz and len(files) > 1:
        raise HubError("send either image files or one .npz batch, not both", field="images")
    if len(files) > max_images():
        raise _bad(f"{len(files)} images in one request; send at most {max_images()}")
    try:
        if npz:
            batch = _npz_batch(npz[0])
            mode = {1: "L", 3: "RGB"}[batch.shape[1]]
            pictures = [Image.fromarray(image[0] if mode == "L" else image.transpose(1, 2, 0), mode) for image in batch]
            names = [f"{npz[0].name}[{i}]" for i in range(len(batch))]
        else:
            pictures = [open_checked(f) for f in files]
            names = [str(getattr(f, "name", f"image {i}")) for i, f in enumerate(files)]
        return names, np.stack([to_input(picture, spec) for picture in pictures])
    except ImageInputError as exc:
        raise _bad(str(exc)) from exc


DEFAULT_TOP_K = 5


def top_k_for(build, top_k) -> int:
    """``top_k`` when the build has that many classes; ``None``: 5, or all the build's classes when it has fewer."""
    classes = len(build.class_names)
    if top_k is None:
        return min(DEFAULT_TOP_K, classes)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= classes:
        raise HubError(f"top_k must be an integer from 1 to {classes} (the build's classes)", field="top_k")
    return top_k


def predict(build, files: list, top_k: int | None = None) -> list[Prediction]:
    """The ``top_k`` classes of each image with their softmax scores, most likely first."""
    top_k = top_k_for(build, top_k)
    names, x = inputs_of(files, build.input_spec)
    if not RUNNING.acquire(blocking=False):
        raise HubError("the server is busy classifying other images; retry in a moment", code=ErrorCode.THROTTLED,
                       details={"retry_after_seconds": 1})
    try:
        logits = session_for(build).run(["logits"], {"input": x})[0].astype(np.float64)
    finally:
        RUNNING.release()
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores /= scores.sum(axis=1, keepdims=True)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    return [Prediction(name, [(build.class_names[j], float(scores[i, j])) for j in order[i]])
            for i, name in enumerate(names)]
