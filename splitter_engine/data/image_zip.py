"""Image-folder ``.zip``: one folder per class (optionally under one top folder), PNG or JPEG files.

Class names are the folder names in sorted order (as torchvision's ImageFolder). Every image is decoded
with Pillow in memory, converted to grey or RGB and resized (bilinear) to the declared size; nothing is
written to disk.
"""
from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

from splitter_engine.data.assemble import assemble_dataset
from splitter_engine.data.dataset import ImageDataset
from splitter_engine.data.limits import DatasetReadError, ReadLimits
from splitter_engine.data.safe_archive import ByteBudget, check_member_name, checked_zip_members, open_zip, read_zip_member
from splitter_engine.data.transform import check_channels
from splitter_engine.runtime import RunContext

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_PROGRESS_EVERY = 256


@dataclass(frozen=True)
class _Layout:
    class_names: list[str]
    files: list[tuple[zipfile.ZipInfo, int]]  # (member, label), in archive order


def _is_junk(parts: list[str]) -> bool:
    """Operating-system clutter that zip tools add, never data."""
    return parts[0] == "__MACOSX" or parts[-1] in _JUNK_NAMES or parts[-1].startswith("._")


def _layout(infos: list[zipfile.ZipInfo], what: str) -> _Layout:
    entries = []
    for info in infos:
        parts = check_member_name(info.filename, what)
        if parts and not _is_junk(parts):
            entries.append((info, parts))
    files = [(i, p) for i, p in entries if not i.is_dir()]
    dirs = [p for i, p in entries if i.is_dir()]
    if not files:
        raise DatasetReadError(f"{what} holds no files; put one folder per class with PNG or JPEG images inside")
    firsts = {p[0] for _, p in files} | {p[0] for p in dirs}
    if len(firsts) == 1 and all(len(p) >= 3 for _, p in files):  # one top folder around the class folders
        files = [(i, p[1:]) for i, p in files]
        dirs = [p[1:] for p in dirs if len(p) > 1]
    for info, parts in files:
        if len(parts) == 1:
            raise DatasetReadError(
                f"{what}: {info.filename!r} is not inside a class folder; the layout is <class>/<image>.png")
        if len(parts) > 2:
            raise DatasetReadError(
                f"{what}: {info.filename!r} is nested too deep; the layout is <class>/<image>.png "
                f"(optionally under one top folder)")
        if not parts[1].lower().endswith(IMAGE_SUFFIXES):
            raise DatasetReadError(
                f"{what}: {info.filename!r} is not a PNG or JPEG image; remove non-image files from the archive")
    with_files = {p[0] for _, p in files}
    declared = {p[0] for p in dirs if len(p) == 1}
    empty = sorted(declared - with_files)
    if empty:
        raise DatasetReadError(
            f"{what}: class folder(s) {empty[:10]} contain no images; add images or remove the folder(s)")
    class_names = sorted(with_files)
    index = {name: i for i, name in enumerate(class_names)}
    return _Layout(class_names, [(info, index[parts[0]]) for info, parts in files])


def _to_array(img: Image.Image, channels: int) -> Image.Image:
    if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit PNG: keep the top 8 bits, not a clipped copy
        arr = (np.asarray(img, dtype=np.int64) >> 8).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    return img.convert("L" if channels == 1 else "RGB")


def decode_image(data: bytes, name: str, size: Optional[tuple[int, int]], channels: int,
                 limits: ReadLimits) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 C x H x W at ``size`` (or native size when None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette/transparency notes; the pixel limit is ours
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as img:
                width, height = img.size
                if width * height > limits.max_image_pixels:
                    raise DatasetReadError(
                        f"{name} is {width}x{height} pixels, more than the limit of {limits.max_image_pixels:,}; "
                        f"shrink the image")
                if size is not None and img.format == "JPEG":
                    img.draft("L" if channels == 1 else "RGB", (size[1], size[0]))  # decode at reduced scale
                img = _to_array(img, channels)
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.uint8)
    except DatasetReadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetReadError(f"{name} is not a readable PNG or JPEG image ({exc}); replace or remove it") from exc
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def check_image_zip_headers(source, limits: ReadLimits = ReadLimits()) -> None:
    """What the central directory tells, cheap enough to check an upload before its import job is queued: member
    names (no absolute paths, no '..'), links, encryption, methods, declared sizes and ratios, and the class
    folder layout. ``read_image_zip`` checks the same again, and what really inflates."""
    what = "the image-folder .zip upload"
    with open_zip(source, what) as zf:
        _layout(checked_zip_members(zf, limits, what), what)


def read_image_zip(source, *, name: str, image_size: Optional[tuple[int, int]] = None, channels: int = 3,
                   seed: int = 0, limits: ReadLimits = ReadLimits(),
                   ctx: Optional[RunContext] = None) -> ImageDataset:
    """Read an image-folder zip. ``image_size`` (H, W) defaults to the first image's size."""
    check_channels(channels)
    ctx = ctx or RunContext()
    what = f"archive {name!r}"
    with open_zip(source, what) as zf:
        layout = _layout(checked_zip_members(zf, limits, what), what)
        budget = ByteBudget(limits, what)
        n = len(layout.files)
        if n > limits.max_images:
            raise DatasetReadError(f"{what} has {n:,} images, more than the limit of {limits.max_images:,}")
        images: Optional[np.ndarray] = None
        labels = np.empty(n, dtype=np.int64)
        for k, (info, label) in enumerate(layout.files):
            if k % _PROGRESS_EVERY == 0:
                ctx.check_cancelled()
                ctx.report(k / n, "decode", f"decoded {k:,} of {n:,} images")
            arr = decode_image(read_zip_member(zf, info, budget), info.filename, image_size, channels, limits)
            if images is None:
                image_size = tuple(arr.shape[1:])
                limits.check_dataset_size(n, channels, *image_size)
                images = np.empty((n, channels) + image_size, dtype=np.uint8)
            images[k] = arr
            labels[k] = label
    ctx.report(1.0, "decode", f"decoded {n:,} images")
    return assemble_dataset(name, layout.class_names, images, labels, seed)
