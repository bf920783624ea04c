"""The hub's one application error: a stable code from ``ErrorCode``, a message that says what to fix, and
optionally the request field that caused it.

Services (and the worker, for a job's input) raise ``HubError``; they never choose an HTTP status. The API's
exception handler (``modules_registry/api/exceptions.py``) maps each code to its status in one table, and the
pages show the message beside the form field. The engine keeps its own ``splitter_engine.runtime.EngineError``;
services translate it into a ``HubError`` with the code that fits.

One code per meaning. ``docs/api.md`` lists every code with its status (a test checks it), and the codes that
were merged into one.
"""
from __future__ import annotations

from django.db import models


class ErrorCode(models.TextChoices):
    """Every ``code`` an error answer can carry; the label says what it means."""

    # 400: the request is wrong; the message (and details.field / details.fields) says what to change.
    INVALID = "invalid", "a value is not valid (details.fields names each bad field, or details.field the one)"
    MALFORMED_REQUEST = "malformed_request", "the body cannot be parsed (bad JSON, broken multipart)"
    UNKNOWN_ARCHITECTURE = "unknown_architecture", "no architecture of that name to load PyTorch weights into"
    INVALID_ARCH_KWARGS = "invalid_arch_kwargs", "arch_kwargs names an unknown argument or gives the wrong type"
    UNSUPPORTED_FILE = "unsupported_file", "the uploaded file is not of a kind the hub reads"
    INVALID_FILE = "invalid_file", "the uploaded file is of a kind the hub reads, but broken or not as required"
    CLASS_MISMATCH = "class_mismatch", "the classes of two entries that must agree do not (names or number)"
    INPUT_MISMATCH = "input_mismatch", ("the inputs of two entries that must agree do not (image shape, or "
                                        "normalisation without adapt_inputs)")
    NOT_SUPPORTED = "not_supported", ("the entry cannot do what was asked (an ONNX entry evaluated or patched, a "
                                      "model that is not decomposable decomposed); the message says why")
    NO_CLASSES = "no_classes", "a build needs at least two classes"
    DUPLICATE_CLASSES = "duplicate_classes", "a class (or a module) is chosen more than once"
    NO_DATASET = "no_dataset", "no data set has every chosen class; choose one that does"
    DEVICE_UNAVAILABLE = "device_unavailable", ("no worker of this hub serves the requested device "
                                                "(details.gpu_devices: CUDA devices per GPU worker)")
    JOB_TOO_LARGE = "job_too_large", ("the job's estimated memory is over HUB_JOB_MEMORY_BYTES "
                                      "(details.estimated_bytes, details.limit_bytes); the message says what to lower")
    # 401 / 403
    NOT_AUTHENTICATED = "not_authenticated", "log in or send a token"
    AUTHENTICATION_FAILED = "authentication_failed", "the token is unknown, revoked or expired"
    PERMISSION_DENIED = "permission_denied", "you may not do this (e.g. a missing CSRF token, another user's job)"
    INSUFFICIENT_SCOPE = "insufficient_scope", "a read token tried to write; create a write token"
    # 404 and other protocol answers
    NOT_FOUND = "not_found", "no such entry, or it is private to someone else"
    METHOD_NOT_ALLOWED = "method_not_allowed", "the endpoint does not take this HTTP method"
    NOT_ACCEPTABLE = "not_acceptable", "no answer in the media type the Accept header asks for"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", "the body's Content-Type is not one the endpoint reads"
    # 409: the request is right but the state of the hub refuses it
    DUPLICATE_NAME = "duplicate_name", "you already have an entry of that kind with that name"
    JOB_ENDED = "job_ended", "the job has already ended; nothing to cancel"
    IMMUTABLE = "immutable", "stored artefacts never change"
    # sizes, ranges, rates
    UPLOAD_TOO_LARGE = "upload_too_large", "the upload is over HUB_MAX_UPLOAD_BYTES (details.limit_bytes)"
    REQUEST_TOO_LARGE = "request_too_large", ("the request's fields are over DATA_UPLOAD_MAX_MEMORY_SIZE "
                                              "(details.limit_bytes), or it sends too many fields or files")
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable", "the byte range lies outside the file (details.size)"
    THROTTLED = "throttled", "too many requests; retry after details.retry_after_seconds"
    QUOTA_JOBS = "quota_jobs", ("you have HUB_QUOTA_JOBS jobs queued or running (details.limit, details.active); "
                                "send it again once one has ended")
    QUOTA_STORAGE = "quota_storage", ("it would take your stored bytes over HUB_QUOTA_BYTES (details.limit_bytes, "
                                      "details.used_bytes, details.incoming_bytes)")
    # the server's side
    ERROR = "error", "an unexpected API error"
    BLOB_CORRUPTED = "blob_corrupted", "a stored file failed its sha256 check; an administrator has been told"
    DATABASE_UNAVAILABLE = "database_unavailable", "the database cannot be reached (restarting?); retry in a moment"


# Codes that were merged into one because they meant the same thing: old code -> the code that replaces it.
MERGED_CODES: dict[str, ErrorCode] = {
    "not_decomposable": ErrorCode.NOT_SUPPORTED,
    "not_patchable": ErrorCode.NOT_SUPPORTED,
    "class_count_mismatch": ErrorCode.CLASS_MISMATCH,
    "incompatible_inputs": ErrorCode.INPUT_MISMATCH,
    "forbidden": ErrorCode.PERMISSION_DENIED,
}


class HubError(ValueError):
    """A request the hub refuses: ``code`` is stable, the message says what to fix, ``field`` (if any) names
    the input that caused it and ``details`` holds extra facts for scripts (e.g. a size limit)."""

    def __init__(self, message: str, *, code: ErrorCode | str = ErrorCode.INVALID, field: str | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)  # an unknown code is a bug: ValueError here, not a surprise for clients
        self.field = field
        self.details = dict(details or {})
