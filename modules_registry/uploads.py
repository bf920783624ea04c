"""Uploads: a size cap enforced while the request streams in, and a staging area for the worker.

An upload is staged in the default storage (shared by web and workers, local or object storage)
until its import job has read it; the job removes it whether it succeeds or fails.
"""
from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler

from modules_registry.errors import ErrorCode, HubError

STAGING_PREFIX = "uploads"


class UploadTooLarge(HubError):
    def __init__(self, limit: int):
        super().__init__(f"the upload is larger than the limit of {limit:,} bytes "
                         f"(HUB_MAX_UPLOAD_BYTES); send a smaller file", code=ErrorCode.UPLOAD_TOO_LARGE,
                         details={"limit_bytes": limit})
        self.limit = limit


class SizeLimitedUploadHandler(FileUploadHandler):
    """Refuses a request body over HUB_MAX_UPLOAD_BYTES: at once from Content-Length, else mid-stream."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.HUB_MAX_UPLOAD_BYTES
        self.received = 0
        if content_length and content_length > self.limit:
            raise UploadTooLarge(self.limit)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None


def _safe_filename(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", (name or "upload").rsplit("/", 1)[-1])[-80:]
    return base.lstrip(".") or "upload"


def stage(uploaded_file) -> str:
    """Copy an uploaded file into the staging area; returns its storage name."""
    name = f"{STAGING_PREFIX}/{uuid.uuid4().hex}-{_safe_filename(uploaded_file.name)}"
    uploaded_file.seek(0)
    return default_storage.save(name, uploaded_file)


def open_staged(name: str):
    if not name.startswith(f"{STAGING_PREFIX}/"):
        raise ValueError("not a staged upload")
    return default_storage.open(name, "rb")


def discard(name: str) -> None:
    if name and name.startswith(f"{STAGING_PREFIX}/") and default_storage.exists(name):
        default_storage.delete(name)
