"""Small data set archives built by the tests themselves (no downloads), and tampering helpers."""
from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASS_COLOURS = {"cat": (200, 30, 30), "dog": (30, 200, 30), "emu": (30, 30, 200)}


def image_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def solid(colour, height: int = 12, width: int = 10) -> np.ndarray:
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (height, width, 3)).copy()


def write_zip(path: Path, entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    """Names ending in '/' become directory entries."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def colour_zip_entries(per_class: int = 6, top: str = "", jpeg_every: int = 3) -> dict[str, bytes]:
    """Solid-colour images, one colour per class; every ``jpeg_every``-th image is a JPEG."""
    entries = {}
    for name, colour in CLASS_COLOURS.items():
        for i in range(per_class):
            fmt = "JPEG" if jpeg_every and i % jpeg_every == jpeg_every - 1 else "PNG"
            entries[f"{top}{name}/img_{i}.{'jpg' if fmt == 'JPEG' else 'png'}"] = image_bytes(solid(colour), fmt)
    return entries


def cifar_records(images: np.ndarray, labels: np.ndarray, coarse: np.ndarray | None = None) -> bytes:
    """CIFAR binary records: [coarse,] label, then 1024 R, 1024 G, 1024 B bytes (row-major)."""
    heads = [labels.astype(np.uint8)[:, None]]
    if coarse is not None:
        heads.insert(0, coarse.astype(np.uint8)[:, None])
    return np.concatenate(heads + [images.reshape(len(images), -1)], axis=1).tobytes()


def random_cifar(rng: np.random.Generator, num_classes: int, per_class: int):
    labels = np.repeat(np.arange(num_classes), per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    return images, labels


def write_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def write_tar_special(path: Path, info: tarfile.TarInfo, extra: dict[str, bytes] | None = None) -> Path:
    """A tar.gz holding one special member (link, device, ...) after ordinary ones."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in (extra or {}).items():
            ordinary = tarfile.TarInfo(name)
            ordinary.size = len(data)
            tf.addfile(ordinary, io.BytesIO(data))
        tf.addfile(info)
    return path


def cifar10_members(images, labels, test_images=None, test_labels=None, batches: int = 2,
                    top: str = "cifar-10-batches-bin/") -> dict[str, bytes]:
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    members = {f"{top}batches.meta.txt": ("\n".join(names) + "\n\n").encode(), f"{top}readme.html": b"<html/>"}
    for b, part in enumerate(np.array_split(np.arange(len(labels)), batches), start=1):
        members[f"{top}data_batch_{b}.bin"] = cifar_records(images[part], labels[part])
    if test_images is not None:
        members[f"{top}test_batch.bin"] = cifar_records(test_images, test_labels)
    return members


def forge_zip_sizes(data: bytes, file_size: int) -> bytes:
    """Rewrite every declared uncompressed size (local and central headers) to ``file_size``: a lying zip."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (pos := out.find(signature, start)) >= 0:
            out[pos + offset:pos + offset + 4] = struct.pack("<I", file_size)
            start = pos + 4
    return bytes(out)
