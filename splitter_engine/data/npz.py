"""``.npz`` arrays: ``x`` uint8 (N x H x W x C, N x C x H x W or N x H x W), ``y`` integer labels,
optional ``class_names`` (strings) and optional ``x_test``/``y_test`` that then define the test split.

The archive passes the same zip checks as any upload, and every array is loaded with
``allow_pickle=False``: object arrays are refused, never unpickled.
"""
from __future__ import annotations

import io
import zipfile
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
                    raise _object_array_error(what, key) from exc
                raise DatasetReadError(f"{what}: array {key!r} is not a valid .npy array ({exc})") from exc
            except (OSError, EOFError) as exc:
                raise DatasetReadError(f"{what}: array {key!r} is truncated or corrupt ({exc})") from exc
    _check_required(arrays, members, what)
    return arrays


def _check_required(arrays: dict, members: dict, what: str) -> None:
    for key in ("x", "y"):
        if key not in arrays:
            raise DatasetReadError(
                f"{what} has no array {key!r} (found {sorted(k[:-4] for k in members)}); save with "
                f"np.savez(path, x=images, y=labels)")


def _object_array_error(what: str, key: str) -> DatasetReadError:
    return DatasetReadError(f"{what}: array {key!r} holds Python objects, which are never unpickled; save it as a "
                            f"plain numeric (or, for class_names, string) array")


def _check_images(dtype: np.dtype, shape: tuple, key: str) -> None:
    if dtype != np.uint8:
        raise DatasetReadError(
            f"array {key!r} has dtype {dtype}; images must be uint8 in 0..255 "
            f"(e.g. (x * 255).round().astype(np.uint8) for floats in 0..1)")
    if not (len(shape) == 3 or (len(shape) == 4 and (shape[-1] in (1, 3) or shape[1] in (1, 3)))):
        raise DatasetReadError(
            f"array {key!r} has shape {shape}; expected N x H x W, N x H x W x C or N x C x H x W with C = 1 or 3")


def _check_labels(dtype: np.dtype, shape: tuple, key: str) -> None:
    if dtype.kind not in "iu":
        raise DatasetReadError(f"array {key!r} has dtype {dtype}; labels must be integers (class indices)")


def _check_class_names(dtype: np.dtype, shape: tuple, key: str = "class_names") -> None:
    if dtype.kind not in "US" or len(shape) != 1:
        raise DatasetReadError(
            f"array 'class_names' has dtype {dtype} and shape {shape}; give a 1-D array of strings")


_HEADER_CHECKS = {"x": _check_images, "x_test": _check_images, "y": _check_labels, "y_test": _check_labels,
                  "class_names": _check_class_names}
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _array_header(zf, info, key: str, what: str) -> tuple[np.dtype, tuple] | None:
    """dtype and shape from a member's .npy header, without reading its data; None for header versions
    only the full reader knows."""
    with zf.open(info) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            reader = _HEADER_READERS.get(version)
            if reader is None:
                return None
            shape, _, dtype = reader(handle)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetReadError(f"{what}: array {key!r} is not a valid .npy array ({exc})") from exc
    if dtype.hasobject:
        raise _object_array_error(what, key)
    return dtype, tuple(shape)


def check_npz_arrays(source, limits: ReadLimits = ReadLimits()) -> None:
    """What can be told from the arrays' headers alone (names, dtypes, shapes), cheap enough to check an
    upload before its import job is queued; ``read_npz`` checks the same again, and the data."""
    what = "the .npz upload"
    with open_zip(source, what) as zf:
        members = {info.filename: info for info in checked_zip_members(zf, limits, what)}
        headers = {key: _array_header(zf, members[f"{key}.npy"], key, what) for key in KEYS if f"{key}.npy" in members}
    _check_required(headers, members, what)
    for key, header in headers.items():
        if header is not None:
            _HEADER_CHECKS[key](*header, key)


def to_nchw(x: np.ndarray, key: str) -> np.ndarray:
    """N x H x W, N x H x W x C or N x C x H x W (C in {1, 3}) -> N x C x H x W."""
    _check_images(x.dtype, x.shape, key)
    if x.ndim == 3:
        return x[:, None]
    return x.transpose(0, 3, 1, 2) if x.shape[-1] in (1, 3) else x


def to_labels(y: np.ndarray, key: str, count: int) -> np.ndarray:
    _check_labels(y.dtype, y.shape, key)
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
    _check_class_names(names.dtype, names.shape)
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
