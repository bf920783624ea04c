"""CIFAR-10 / CIFAR-100 **binary** archives (``cifar-10-binary.tar.gz``, ``cifar-100-binary.tar.gz``).

Records are raw bytes (CIFAR-10: label + 3,072 pixel bytes; CIFAR-100: coarse label, fine label + 3,072),
so nothing is ever unpickled. The tar is read as a stream in memory: links, devices, absolute paths and
``..`` are refused, and sizes and the compression ratio are checked while reading.
"""
from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass
from posixpath import basename
from typing import BinaryIO, Optional

import numpy as np

from splitter_engine.data.assemble import assemble_dataset
from splitter_engine.data.dataset import ImageDataset
from splitter_engine.data.limits import DatasetReadError, ReadLimits, UnsafeArchiveError
from splitter_engine.data.safe_archive import ByteBudget, check_member_name
from splitter_engine.data.transform import check_channels, conform_images
from splitter_engine.runtime import RunContext

PIXELS = 3 * 32 * 32
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class CifarLayout:
    label_bytes: int        # bytes before the pixels in each record
    label_offset: int       # which of them is the label used
    train_files: tuple[str, ...]
    test_file: str
    names_file: str
    num_classes: int


CIFAR10 = CifarLayout(1, 0, tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin",
                      "batches.meta.txt", 10)
CIFAR100 = CifarLayout(2, 1, ("train.bin",), "test.bin", "fine_label_names.txt", 100)
LAYOUTS = {"cifar10": CIFAR10, "cifar100": CIFAR100}


class _CountingReader:
    """Counts compressed bytes pulled from the upload, for the ratio check."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data


def _read_member(tf: tarfile.TarFile, member: tarfile.TarInfo, budget: ByteBudget, raw: _CountingReader,
                 keep: bool) -> Optional[bytes]:
    stream = tf.extractfile(member)
    chunks: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        budget.spend(len(chunk))
        budget.limits.check_ratio(budget.what, budget.used, raw.count)
        if keep:
            chunks.append(chunk)
    return b"".join(chunks) if keep else None


def _scan_tar(source, limits: ReadLimits, what: str, wanted: set[str]) -> dict[str, bytes]:
    """The wanted members (by base name), after checking every member on the way."""
    owned = isinstance(source, (str, bytes)) or hasattr(source, "__fspath__")
    fileobj = open(source, "rb") if owned else source
    raw = _CountingReader(fileobj)
    budget = ByteBudget(limits, what)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=raw, mode="r|*") as tf:
            for count, member in enumerate(tf, start=1):
                if count > limits.max_entries:
                    raise UnsafeArchiveError(f"{what} has more than {limits.max_entries:,} entries")
                check_member_name(member.name, what)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(f"{what} contains a link ({member.name!r}); archive real files only")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise UnsafeArchiveError(f"{what} contains a special file ({member.name!r}); archive regular files only")
                limits.check_total(what, budget.used + member.size)
                key = basename(member.name.replace("\\", "/"))
                keep = key in wanted
                if keep and key in found:
                    raise DatasetReadError(f"{what} contains {key!r} twice; keep one copy")
                data = _read_member(tf, member, budget, raw, keep)
                if keep:
                    found[key] = data
    except DatasetReadError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as exc:
        raise DatasetReadError(
            f"{what} is not a readable (gzipped) tar archive or is truncated ({exc}); upload the unmodified "
            f"cifar-10-binary.tar.gz or cifar-100-binary.tar.gz") from exc
    finally:
        if owned:
            fileobj.close()
    return found


def parse_records(data: bytes, layout: CifarLayout, member: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw CIFAR records -> uint8 images N x 3 x 32 x 32 and int64 labels."""
    size = layout.label_bytes + PIXELS
    if len(data) == 0 or len(data) % size:
        raise DatasetReadError(
            f"{member} has {len(data):,} bytes, not a whole number of {size:,}-byte records; the file is "
            f"truncated or not a CIFAR binary batch")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    labels = records[:, layout.label_offset].astype(np.int64)
    if labels.max() >= layout.num_classes:
        raise DatasetReadError(f"{member} has label {int(labels.max())}, but there are only {layout.num_classes} classes")
    return records[:, layout.label_bytes:].reshape(-1, 3, 32, 32), labels


def _class_names(found: dict[str, bytes], layout: CifarLayout, what: str) -> list[str]:
    if layout.names_file not in found:
        raise DatasetReadError(f"{what} has no {layout.names_file}; the class names come from that file")
    try:
        text = found[layout.names_file].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetReadError(f"{layout.names_file} is not UTF-8 text") from exc
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != layout.num_classes:
        raise DatasetReadError(
            f"{layout.names_file} lists {len(names)} class names; a CIFAR-{layout.num_classes} archive needs "
            f"{layout.num_classes}")
    return names


def _detect(found: dict[str, bytes], fmt: str, what: str) -> CifarLayout:
    present = {key for key, layout in LAYOUTS.items()
               if any(f in found for f in layout.train_files + (layout.test_file,))}
    if fmt in LAYOUTS:
        if fmt not in present:
            expected = ", ".join(LAYOUTS[fmt].train_files + (LAYOUTS[fmt].test_file,))
            raise DatasetReadError(f"{what} holds no {fmt} batches (expected {expected})")
        return LAYOUTS[fmt]
    if len(present) != 1:
        raise DatasetReadError(
            f"{what} holds {'both CIFAR-10 and CIFAR-100' if present else 'no CIFAR'} batch files; expected "
            f"data_batch_*.bin + test_batch.bin (CIFAR-10) or train.bin + test.bin (CIFAR-100)")
    return LAYOUTS[present.pop()]


def read_cifar(source, *, name: str, fmt: str = "auto", image_size: Optional[tuple[int, int]] = None,
               channels: Optional[int] = None, seed: int = 0, limits: ReadLimits = ReadLimits(),
               ctx: Optional[RunContext] = None) -> ImageDataset:
    """Read a CIFAR binary archive; its own test batch, when present, is the test split."""
    check_channels(channels)
    ctx = ctx or RunContext()
    what = f"archive {name!r}"
    wanted = {f for layout in LAYOUTS.values() for f in layout.train_files + (layout.test_file, layout.names_file)}
    ctx.report(0.0, "read", "reading CIFAR archive")
    found = _scan_tar(source, limits, what, wanted)
    ctx.check_cancelled()
    layout = _detect(found, fmt, what)
    class_names = _class_names(found, layout, what)
    parts, is_test = [], []
    for member in layout.train_files + (layout.test_file,):
        if member in found:
            images, labels = parse_records(found.pop(member), layout, member)
            parts.append((images, labels))
            is_test.append(np.full(len(labels), member == layout.test_file))
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    test_mask = np.concatenate(is_test)
    limits.check_dataset_size(len(images), channels or 3, *(image_size or (32, 32)))
    images = conform_images(images, channels, image_size)
    ctx.report(1.0, "read", f"read {len(images):,} images")
    return assemble_dataset(name, class_names, images, labels, seed, test_mask if test_mask.any() else None)
