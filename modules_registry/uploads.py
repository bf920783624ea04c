"""Uploads: a size cap enforced while the request streams in, and a staging area for the worker.

A request's upload streams into a temporary file under FILE_UPLOAD_TEMP_DIR named after the web process's tag
(``modules_registry.processes``); a process killed mid-upload leaves it, and the next process to start on that
machine (web or worker) removes it (``remove_stale_upload_files``).

An upload is then staged in the default storage (shared by web and workers, local or object storage) until its
import job has read it. A staged upload lives as long as its job is queued or running: the job removes it however
it ends, cancelling a queued job removes it, and a job whose worker died has it removed when the job is marked
failed. One that no queued or running job names (a request that failed after staging) is an orphan, removed by a
worker's sweep once older than HUB_STAGED_UPLOAD_ORPHAN_SECONDS (default one hour).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler
from django.utils import timezone

from modules_registry.errors import ErrorCode, HubError
from modules_registry.processes import process_tag

log = logging.getLogger(__name__)

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


@contextlib.contextmanager
def discarded_on_error(name: str):
    """Remove the staged upload ``name`` if the block that creates its job fails: no job will ever read it. (A
    transaction rolled back later leaves an orphan, which ``remove_orphaned_staged`` removes.)"""
    try:
        yield
    except BaseException:
        discard(name)
        raise


def discard(name: str) -> None:
    if name and name.startswith(f"{STAGING_PREFIX}/") and default_storage.exists(name):
        default_storage.delete(name)


# --- Temporary files of requests, and orphaned staged uploads ----------------------------------------------------


def upload_temp_dir() -> Path:
    path = Path(getattr(settings, "FILE_UPLOAD_TEMP_DIR", None) or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


class TaggedTemporaryUploadedFile(TemporaryUploadedFile):
    """Django's temporary upload file, named after this process's tag so that it can be told an orphan at once."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        _, ext = os.path.splitext(name or "")
        file = tempfile.NamedTemporaryFile(suffix=".upload" + ext[:20], prefix=f"{process_tag()}-",
                                           dir=upload_temp_dir())
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class TaggedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams every upload to a TaggedTemporaryUploadedFile (never into memory)."""

    def new_file(self, *args, **kwargs):
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = TaggedTemporaryUploadedFile(self.file_name, self.content_type, 0, self.charset,
                                                self.content_type_extra)


def remove_stale_upload_files(older_than_seconds: float = 3600.0) -> int:
    """Remove the temporary files of requests whose process died (at once, on this machine) or that nothing wrote
    to for ``older_than_seconds``; called when a web process or a worker starts."""
    from modules_registry.blobs import remove_stale_temp_files

    return remove_stale_temp_files(older_than_seconds, directory=upload_temp_dir())


def remove_orphaned_staged(older_than_seconds: float | None = None) -> int:
    """Remove staged uploads that no queued or running job names and that are older than
    HUB_STAGED_UPLOAD_ORPHAN_SECONDS (a margin for a request between staging its upload and committing its job)."""
    from modules_registry.models import Job

    if older_than_seconds is None:
        older_than_seconds = float(getattr(settings, "HUB_STAGED_UPLOAD_ORPHAN_SECONDS", 3600))
    try:
        _, files = default_storage.listdir(STAGING_PREFIX)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    live = {params.get("staged") for params in Job.objects.filter(
        status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).values_list("params", flat=True)
        if isinstance(params, dict)}
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    removed = 0
    for filename in files:
        name = f"{STAGING_PREFIX}/{filename}"
        if name in live:
            continue
        with contextlib.suppress(FileNotFoundError, OSError):
            if default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                removed += 1
                log.info("removed orphaned staged upload %s", name)
    return removed


def remove_files_of_dead_processes() -> None:
    """At a web process's start: the temporary files of requests and blob writers that died (never fails)."""
    from modules_registry.blobs import remove_stale_temp_files

    try:
        removed = remove_stale_upload_files() + remove_stale_temp_files()
    except Exception:  # noqa: BLE001 - a sweep must never keep the server from starting
        log.exception("could not sweep temporary files")
        return
    if removed:
        log.info("removed %s temporary file(s) that dead processes left", removed)
