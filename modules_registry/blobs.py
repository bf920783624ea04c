"""Content-addressed blob store: bytes are written once under their sha256 and verified on read.

Writing streams into a temporary file while hashing, then moves it into place atomically, and only
then inserts the Blob row. A writer that dies mid-way leaves at most a temporary file (cleaned by
``remove_stale_temp_files``), never a row pointing at a missing or partial file.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction

from modules_registry.models import Blob
from modules_registry.processes import TAG, gone, process_tag

CHUNK = 1024 * 1024
TEMP_DIR_NAME = "blobs/tmp"


class BlobCorrupted(Exception):
    """The stored bytes no longer hash to the blob's address."""


class BlobTooLarge(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"file is larger than the limit of {limit:,} bytes")
        self.limit = limit


def _local_root() -> Path | None:
    storage = default_storage
    if isinstance(getattr(storage, "_wrapped", storage), FileSystemStorage) or isinstance(storage, FileSystemStorage):
        return Path(storage.location)
    return None


def temp_dir() -> Path:
    """Where writers keep their temporary files (each named after its process's tag, ``modules_registry.processes``,
    so that a starting process removes those of dead ones at once)."""
    return _temp_dir()


def temp_prefix() -> str:
    return f"{process_tag()}-"


def _temp_dir() -> Path:
    root = _local_root()
    path = (root / TEMP_DIR_NAME) if root is not None else Path(tempfile.gettempdir()) / "hub-blob-tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _chunks_of(source: BinaryIO | bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK):
            yield chunk
    else:
        yield from source


def store(source: BinaryIO | bytes | Iterable[bytes], *, media_type: str = "application/octet-stream",
          max_bytes: int | None = None) -> Blob:
    """Store bytes from a file object, a bytes value or an iterable of chunks; returns the Blob row.

    Storing bytes that are already there returns the existing row (deduplication).
    """
    digest = hashlib.sha256()
    size = 0
    fd, temp_name = tempfile.mkstemp(prefix=temp_prefix(), dir=_temp_dir())
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _chunks_of(source):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        blob = Blob(sha256=digest.hexdigest(), size=size, media_type=media_type)
        _place(temp_path, blob)
        return _insert_row(blob)
    finally:
        temp_path.unlink(missing_ok=True)


def store_path(path: str | os.PathLike, *, media_type: str = "application/octet-stream") -> Blob:
    with open(path, "rb") as handle:
        return store(handle, media_type=media_type)


def _place(temp_path: Path, blob: Blob) -> None:
    root = _local_root()
    if root is None:
        # Object stores publish an object only once its upload completed, so a plain save is atomic.
        if not default_storage.exists(blob.storage_name):
            with open(temp_path, "rb") as handle:
                default_storage.save(blob.storage_name, File(handle))
        return
    final = root / blob.storage_name
    if final.exists() and final.stat().st_size == blob.size:
        return  # same bytes already there: never overwrite
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_path, final)  # atomic on one file system
    os.chmod(final, 0o444)
    _fsync_dir(final.parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _insert_row(blob: Blob) -> Blob:
    existing = Blob.objects.filter(sha256=blob.sha256).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            blob.save(force_insert=True)
        return blob
    except IntegrityError:
        return Blob.objects.get(sha256=blob.sha256)


class VerifyingReader(io.RawIOBase):
    """Reads a blob and raises BlobCorrupted at the end if the bytes do not hash to its address."""

    def __init__(self, blob: Blob):
        self.blob = blob
        self._handle = default_storage.open(blob.storage_name, "rb")
        self._digest = hashlib.sha256()
        self._size = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._handle.read(len(buffer))
        if not data:
            self._verify()
            return 0
        self._digest.update(data)
        self._size += len(data)
        buffer[: len(data)] = data
        return len(data)

    def _verify(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._size != self.blob.size or self._digest.hexdigest() != self.blob.sha256:
            raise BlobCorrupted(f"blob {self.blob.sha256} is corrupted: stored bytes do not match its sha256")

    def close(self) -> None:
        self._handle.close()
        super().close()


def open_blob(blob: Blob) -> BinaryIO:
    """A buffered reader over the blob; reading to the end verifies the hash."""
    return io.BufferedReader(VerifyingReader(blob), buffer_size=CHUNK)


def read_bytes(blob: Blob) -> bytes:
    with open_blob(blob) as handle:
        return handle.read()


def verify(blob: Blob) -> None:
    with open_blob(blob) as handle:
        while handle.read(CHUNK):
            pass


@contextlib.contextmanager
def local_copy(blob: Blob, suffix: str = "") -> Iterator[Path]:
    """A verified local file with the blob's bytes, for libraries that need a path."""
    fd, name = tempfile.mkstemp(suffix=suffix, prefix=temp_prefix(), dir=_temp_dir())
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open_blob(blob) as handle:
            while chunk := handle.read(CHUNK):
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def remove_stale_temp_files(older_than_seconds: float = 3600.0, directory: Path | None = None) -> int:
    """Delete temporary files that writers which died left behind: at once those of a process of this machine that
    no longer runs (their names carry its tag), and any file not written to for ``older_than_seconds`` (a writer
    on another machine sharing the directory). Only files whose names start with a process tag are touched."""
    removed = 0
    cutoff = time.time() - older_than_seconds
    for path in (directory or _temp_dir()).iterdir():
        if not TAG.match(path.name):  # not a file the hub named: the directory may be shared (e.g. /tmp)
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and (gone(path.name) or path.stat().st_mtime < cutoff):
                path.unlink()
                removed += 1
    return removed
