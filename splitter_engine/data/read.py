"""One entry point for every uploaded data set format."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from splitter_engine.data.cifar import read_cifar
from splitter_engine.data.dataset import ImageDataset
from splitter_engine.data.image_zip import check_image_zip_headers, read_image_zip
from splitter_engine.data.limits import DatasetReadError, ReadLimits
from splitter_engine.data.npz import check_npz_arrays, read_npz
from splitter_engine.data.safe_archive import open_zip
from splitter_engine.data.transform import parse_size
from splitter_engine.runtime import RunContext

FORMATS = ("image-zip", "cifar10", "cifar100", "npz")
FORMAT_HELP = ("an image-folder .zip (one folder per class), a CIFAR-10/100 binary .tar.gz, "
               "or an .npz with arrays x (uint8) and y (int)")


def _head(source, n: int = 512) -> bytes:
    if hasattr(source, "read"):
        here = source.tell()
        data = source.read(n)
        source.seek(here)
        return data
    with open(source, "rb") as f:
        return f.read(n)


def detect_format(source) -> str:
    """``image-zip``, ``npz`` or ``cifar`` from the first bytes (and, for zips, whether they hold ``.npy`` members)."""
    head = _head(source)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        with open_zip(source, "the upload") as zf:
            names = set(zf.namelist())
        if hasattr(source, "seek"):
            source.seek(0)
        return "npz" if any(n.endswith(".npy") for n in names) else "image-zip"
    is_tar = len(head) >= 262 and head[257:262] == b"ustar"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or is_tar:
        return "cifar"
    raise DatasetReadError(f"the upload is not a format the hub reads; upload {FORMAT_HELP}")


# Per format, the checks that read only headers: cheap enough to run on an upload before its job is queued.
_HEADER_CHECKS = {"npz": check_npz_arrays, "image-zip": check_image_zip_headers}


def check_upload(source, fmt: str = "auto") -> str:
    """The upload's format (as ``detect_format``), after every check its headers allow; the reader repeats
    them and checks the rest. ``fmt``: ``auto`` or the format the uploader named."""
    detected = detect_format(source)
    kind = detected if fmt == "auto" else fmt
    check = _HEADER_CHECKS.get(kind)
    if check is not None:
        check(source)
    if hasattr(source, "seek"):
        source.seek(0)
    return kind


def _default_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        name = Path(source).name
        for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".npz"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)] or "dataset"
        return name
    return "dataset"


def read_dataset(source, fmt: str = "auto", *, name: Optional[str] = None, image_size=None,
                 channels: Optional[int] = None, seed: int = 0, limits: ReadLimits = ReadLimits(),
                 ctx: Optional[RunContext] = None) -> ImageDataset:
    """Read an uploaded data set (a path or a seekable binary file) into an ``ImageDataset``.

    ``fmt``: ``auto`` or one of ``FORMATS``. ``image_size`` (``32``, ``(H, W)`` or ``"HxW"``) and ``channels``
    (1 or 3) resize/convert the images; by default CIFAR and npz keep their native size and channels, and
    an image zip is read as RGB at its first image's size. Splits are stratified and seeded by ``seed``;
    mean/std come from the train split. Every problem raises ``DatasetReadError`` (an ``EngineError``).
    """
    if fmt not in ("auto", "cifar") + FORMATS:
        raise DatasetReadError(f"unknown data set format {fmt!r}; use 'auto' or one of {list(FORMATS)}")
    try:
        kind = detect_format(source) if fmt == "auto" else fmt
    except FileNotFoundError as exc:
        raise DatasetReadError(f"the data set file is missing: {exc}") from exc
    size = parse_size(image_size)
    name = name or _default_name(source)
    common = dict(name=name, image_size=size, seed=seed, limits=limits, ctx=ctx)
    if kind == "image-zip":
        return read_image_zip(source, channels=channels or 3, **common)
    if kind == "npz":
        return read_npz(source, channels=channels, **common)
    return read_cifar(source, fmt="auto" if kind == "cifar" else kind, channels=channels, **common)
