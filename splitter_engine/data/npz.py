"""``.npz`` arrays: ``x`` uint8 (N x H x W x C, N x C x H x W or N x H x W), ``y`` integer labels,
optional ``class_names`` (strings) and optional ``x_test``/``y_test`` that then define the test split.

The archive passes the same zip checks as any upload, and every array is loaded with
``allow_pickle=False``: object arrays are refused, never unpickled.
"""
from __future__ import annotations

import io
from typing import Optional

import numpy as np

from splitter_engine.data.assemble import assemble_dataset
from splitter_engine.data.dataset import ImageDataset
from splitter_engine.data.limits import DatasetReadError, ReadLimits
from splitter_engine.data.safe_archive import ByteBudget, checked_zip_members, open_zip, read_zip_member
from splitter_engine.data.transform import check_channels, conform_images
from splitter_engine.runtime import RunContext

KEYS = ("x", "y", "class_names", "x_test", "y_test")


def _load_arrays(source, limits: ReadLimits, what: str) -> dict[str, np.ndarray]:
    with open_zip(source, what) as zf:
        members = {info.filename: info for info in checked_zip_members(zf, limits, what)}
        budget = ByteBudget(limits, what)
        arrays = {}
        for key in KEYS:
            info = members.get(f"{key}.npy")
            if info is None:
                continue
            data = read_zip_member(zf, info, budget)
            try:
                arrays[key] = np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise DatasetReadError(
                        f"{what}: array {key!r} holds Python objects, which are never unpickled; save it as a "
                        f"plain numeric (or, for class_names, string) array") from exc
                raise DatasetReadError(f"{what}: array {key!r} is not a valid .npy array ({exc})") from exc
            except (OSError, EOFError) as exc:
                raise DatasetReadError(f"{what}: array {key!r} is truncated or corrupt ({exc})") from exc
    for key in ("x", "y"):
        if key not in arrays:
            raise DatasetReadError(
                f"{what} has no array {key!r} (found {sorted(k[:-4] for k in members)}); save with "
                f"np.savez(path, x=images, y=labels)")
    return arrays


def to_nchw(x: np.ndarray, key: str) -> np.ndarray:
    """N x H x W, N x H x W x C or N x C x H x W (C in {1, 3}) -> N x C x H x W."""
    if x.dtype != np.uint8:
        raise DatasetReadError(
            f"array {key!r} has dtype {x.dtype}; images must be uint8 in 0..255 "
            f"(e.g. (x * 255).round().astype(np.uint8) for floats in 0..1)")
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3):
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    raise DatasetReadError(
        f"array {key!r} has shape {x.shape}; expected N x H x W, N x H x W x C or N x C x H x W with C = 1 or 3")


def to_labels(y: np.ndarray, key: str, count: int) -> np.ndarray:
    if y.dtype.kind not in "iu":
        raise DatasetReadError(f"array {key!r} has dtype {y.dtype}; labels must be integers (class indices)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != count:
        raise DatasetReadError(
            f"array {key!r} has shape {y.shape} but there are {count} images; give exactly one label per image")
    if len(y) and y.min() < 0:
        raise DatasetReadError(f"array {key!r} has negative labels; labels are class indices 0..N-1")
    return y.astype(np.int64)


def _class_names(arrays: dict[str, np.ndarray], labels: np.ndarray) -> list[str]:
    names = arrays.get("class_names")
    if names is None:
        return [str(i) for i in range(int(labels.max()) + 1)]
    if names.dtype.kind not in "US" or names.ndim != 1:
        raise DatasetReadError(
            f"array 'class_names' has dtype {names.dtype} and shape {names.shape}; give a 1-D array of strings")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.tolist()]


def read_npz(source, *, name: str, image_size: Optional[tuple[int, int]] = None, channels: Optional[int] = None,
             seed: int = 0, limits: ReadLimits = ReadLimits(), ctx: Optional[RunContext] = None) -> ImageDataset:
    check_channels(channels)
    ctx = ctx or RunContext()
    what = f"archive {name!r}"
    ctx.report(0.0, "read", "reading arrays")
    arrays = _load_arrays(source, limits, what)
    parts = [("x", "y")]
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DatasetReadError(f"{what} has only one of x_test and y_test; give both or neither")
    if "x_test" in arrays:
        parts.append(("x_test", "y_test"))
    images, labels, is_test = [], [], []
    for xk, yk in parts:
        x = to_nchw(arrays[xk], xk)
        if len(x) == 0:
            raise DatasetReadError(f"array {xk!r} holds no images")
        images.append(x)
        labels.append(to_labels(arrays[yk], yk, len(x)))
        is_test.append(np.full(len(x), xk == "x_test"))
    if len({im.shape[1:] for im in images}) != 1:
        raise DatasetReadError(f"x and x_test have different image shapes: {images[0].shape[1:]} vs {images[1].shape[1:]}")
    count = sum(len(x) for x in images)
    c, h, w = images[0].shape[1:]
    limits.check_dataset_size(count, channels or c, *(image_size or (h, w)))
    all_labels = np.concatenate(labels)
    class_names = _class_names(arrays, all_labels)
    x = conform_images(np.concatenate(images), channels, image_size)
    test_mask = np.concatenate(is_test)
    ctx.report(1.0, "read", f"read {count:,} images")
    return assemble_dataset(name, class_names, x, all_labels, seed, test_mask if test_mask.any() else None)
