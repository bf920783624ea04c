"""Limits that every reader enforces on untrusted uploads, and the errors it raises."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from splitter_engine.runtime import EngineError

GiB = 1024**3
MiB = 1024**2


class DatasetReadError(EngineError):
    """The upload is not a data set this reader understands; the message says what to fix."""


class UnsafeArchiveError(DatasetReadError):
    """The archive tries something a data set never needs: path traversal, links, a decompression bomb."""


@dataclass(frozen=True)
class ReadLimits:
    """Upper bounds checked from archive headers first and again while decompressing."""

    max_entries: int = 200_000              # files in one archive
    max_total_bytes: int = 2 * GiB          # uncompressed archive content, summed
    max_compression_ratio: float = 200.0    # uncompressed / compressed, per entry and overall
    ratio_check_min_bytes: int = 1 * MiB    # small entries may compress very well legitimately
    max_image_pixels: int = 4096 * 4096     # one source image, width x height
    max_images: int = 2_000_000
    max_dataset_bytes: int = 2 * GiB        # decoded uint8 array N x C x H x W
    max_side: int = 1024                    # requested or native image height/width

    def to_dict(self) -> dict:
        return asdict(self)

    def check_ratio(self, what: str, uncompressed: int, compressed: int) -> None:
        if uncompressed < self.ratio_check_min_bytes:
            return
        ratio = uncompressed / max(compressed, 1)
        if ratio > self.max_compression_ratio:
            raise UnsafeArchiveError(
                f"{what} expands {ratio:.0f}x ({uncompressed:,} bytes from {compressed:,}); more than "
                f"{self.max_compression_ratio:.0f}x looks like a decompression bomb. Upload the data without "
                f"padding or filler content")

    def check_total(self, what: str, total: int) -> None:
        if total > self.max_total_bytes:
            raise UnsafeArchiveError(
                f"{what} holds {total:,} uncompressed bytes, more than the limit of {self.max_total_bytes:,}; "
                f"upload a smaller data set")

    def check_dataset_size(self, count: int, channels: int, height: int, width: int) -> None:
        if count > self.max_images:
            raise DatasetReadError(f"the data set has {count:,} images, more than the limit of {self.max_images:,}")
        if max(height, width) > self.max_side:
            raise DatasetReadError(
                f"images of {height}x{width} are larger than the limit of {self.max_side} pixels per side; "
                f"declare a smaller image size")
        size = count * channels * height * width
        if size > self.max_dataset_bytes:
            raise DatasetReadError(
                f"{count:,} images of {channels}x{height}x{width} need {size:,} bytes, more than the limit of "
                f"{self.max_dataset_bytes:,}; declare a smaller image size or upload fewer images")
