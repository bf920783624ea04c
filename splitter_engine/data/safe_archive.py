"""Checks shared by the archive readers: member names, links, sizes and ratios, and bounded streaming reads.

Headers are checked before anything is inflated; the streaming read then counts what really comes out,
so an archive whose headers lie is stopped as soon as it produces more than it declared.
"""
from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from splitter_engine.data.limits import DatasetReadError, ReadLimits, UnsafeArchiveError

_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1024 * 1024
# bzip2 and LZMA members inflate a whole compressed read at once, unbounded; deflate honours a max length.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def check_member_name(name: str, archive: str) -> list[str]:
    """The path components of a member name, refusing absolute paths and ``..``."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"{archive} has a member with an empty or invalid name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise UnsafeArchiveError(
            f"{archive} has a member with an absolute path ({name!r}); make the archive with relative paths only")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{archive} has a member that points outside the archive ({name!r}); remove '..' from its paths")
    return parts


@dataclass
class ByteBudget:
    """Uncompressed bytes actually produced so far, against the limit."""

    limits: ReadLimits
    what: str
    used: int = field(default=0)

    def spend(self, n: int) -> None:
        self.used += n
        self.limits.check_total(self.what, self.used)


def open_zip(source, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise DatasetReadError(f"{what} is not a readable zip archive ({exc}); upload an unmodified .zip") from exc


def checked_zip_members(zf: zipfile.ZipFile, limits: ReadLimits, what: str) -> list[zipfile.ZipInfo]:
    """All members after header checks: count, names, links, encryption, methods, sizes, ratios."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise UnsafeArchiveError(f"{what} has {len(infos):,} entries, more than the limit of {limits.max_entries:,}")
    total = compressed = 0
    for info in infos:
        check_member_name(info.filename, what)
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"{what} contains a symbolic link ({info.filename!r}); archive real files only")
        if info.flag_bits & 0x1:
            raise DatasetReadError(f"{what} member {info.filename!r} is encrypted; upload an archive without a password")
        if info.compress_type not in _ZIP_METHODS:
            raise DatasetReadError(
                f"{what} member {info.filename!r} uses compression method {info.compress_type}; "
                f"re-create the zip with standard deflate (or no) compression")
        limits.check_ratio(f"{what} member {info.filename!r}", info.file_size, info.compress_size)
        total += info.file_size
        compressed += info.compress_size
    limits.check_total(what, total)
    limits.check_ratio(what, total, compressed)
    return infos


def read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ByteBudget) -> bytes:
    """The member's bytes, read in chunks; stops at the first byte beyond its declared size or the budget."""
    chunks: list[bytes] = []
    produced = 0
    try:
        with zf.open(info) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                produced += len(chunk)
                if produced > info.file_size:
                    raise UnsafeArchiveError(
                        f"{budget.what} member {info.filename!r} inflates beyond its declared size; the archive "
                        f"headers are wrong or forged")
                budget.spend(len(chunk))
                chunks.append(chunk)
    except DatasetReadError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise DatasetReadError(
            f"{budget.what} member {info.filename!r} is corrupt or truncated ({exc}); re-create the archive") from exc
    return b"".join(chunks)

