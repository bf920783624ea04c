"""Every error in one shape: {"code": stable string, "message": for humans, "details": object}."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from modules_registry.blobs import BlobCorrupted
from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import ImmutableRowError

log = logging.getLogger(__name__)

# The one table: each code's HTTP status. Services raise codes (HubError); only this table chooses statuses.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.MALFORMED_REQUEST: status.HTTP_400_BAD_REQUEST,
    ErrorCode.UNKNOWN_ARCHITECTURE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.INVALID_ARCH_KWARGS: status.HTTP_400_BAD_REQUEST,
    ErrorCode.UNSUPPORTED_FILE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.INVALID_FILE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.CLASS_MISMATCH: status.HTTP_400_BAD_REQUEST,
    ErrorCode.INPUT_MISMATCH: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_SUPPORTED: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NO_CLASSES: status.HTTP_400_BAD_REQUEST,
    ErrorCode.DUPLICATE_CLASSES: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NO_DATASET: status.HTTP_400_BAD_REQUEST,
    ErrorCode.JOB_TOO_LARGE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.DEVICE_UNAVAILABLE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_AUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.AUTHENTICATION_FAILED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: status.HTTP_403_FORBIDDEN,
    ErrorCode.INSUFFICIENT_SCOPE: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: status.HTTP_405_METHOD_NOT_ALLOWED,
    ErrorCode.NOT_ACCEPTABLE: status.HTTP_406_NOT_ACCEPTABLE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.DUPLICATE_NAME: status.HTTP_409_CONFLICT,
    ErrorCode.JOB_ENDED: status.HTTP_409_CONFLICT,
    ErrorCode.IMMUTABLE: status.HTTP_409_CONFLICT,
    ErrorCode.UPLOAD_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.REQUEST_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.RANGE_NOT_SATISFIABLE: status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
    ErrorCode.THROTTLED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.QUOTA_JOBS: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.QUOTA_STORAGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.ERROR: status.HTTP_500_INTERNAL_SERVER_ERROR,
    ErrorCode.BLOB_CORRUPTED: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.DATABASE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}

# DRF's exception classes → our codes.
CODES = {
    exceptions.ValidationError: ErrorCode.INVALID,
    exceptions.ParseError: ErrorCode.MALFORMED_REQUEST,
    exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def http_status(code: ErrorCode | str) -> int:
    """The HTTP status of an error code."""
    return HTTP_STATUS[ErrorCode(code)]


def error_response(code: ErrorCode, message: str, details: dict | None = None) -> Response:
    return Response(error_body(code, message, details), status=http_status(code))


def error_body(code: ErrorCode | str, message: str, details: dict | None = None) -> dict:
    return {"code": str(code), "message": message, "details": details or {}}


def _from_api_exception(exc: exceptions.APIException) -> tuple[str, str, dict]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = next(iter(detail.items()), ("", ""))
        message = f"{first[0]}: {_first_text(first[1])}" if first[0] else "the request is not valid"
        return ErrorCode.INVALID, message, {"fields": detail}
    code = getattr(exc, "default_code", None) if type(exc) not in CODES else CODES[type(exc)]
    if code is None:
        code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), ErrorCode.ERROR)
    details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after_seconds"] = int(exc.wait)
    return code, _first_text(exc.detail), details


def _first_text(detail) -> str:
    if isinstance(detail, (list, tuple)) and detail:
        return _first_text(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_text(next(iter(detail.values())))
    return str(detail)


def _too_large(exc) -> Response:
    """Django's own request limits (raised while the body is parsed), in the API's shape instead of its HTML page."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(ErrorCode.REQUEST_TOO_LARGE, f"the request's fields (everything but its files) are "
                              f"larger than the limit of {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE); send shorter "
                              "values, and files as files", {"limit_bytes": limit})
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return error_response(ErrorCode.REQUEST_TOO_LARGE, f"the request sends more than {limit:,} files "
                              "(DATA_UPLOAD_MAX_NUMBER_FILES)", {"limit_files": limit})
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return error_response(ErrorCode.REQUEST_TOO_LARGE, f"the request sends more than {limit:,} fields "
                          "(DATA_UPLOAD_MAX_NUMBER_FIELDS)", {"limit_fields": limit})


def exception_handler(exc, context):
    headers = {}
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return _too_large(exc)
    if isinstance(exc, HubError):
        details = {"field": exc.field} if exc.field else {}
        return error_response(exc.code, str(exc), {**details, **exc.details})
    if isinstance(exc, ImmutableRowError):
        return error_response(ErrorCode.IMMUTABLE, "; ".join(exc.messages))
    if isinstance(exc, BlobCorrupted):
        log.error("refused to serve a corrupted blob: %s", exc)
        return error_response(ErrorCode.BLOB_CORRUPTED, "the stored file failed its sha256 check; an administrator "
                              "has been told")
    if isinstance(exc, (OperationalError, InterfaceError)):  # a database restart; the next request reconnects
        log.warning("database unavailable: %s", exc)
        response = error_response(ErrorCode.DATABASE_UNAVAILABLE, "the database cannot be reached right now; retry "
                                  "in a few seconds", {"retry_after_seconds": 5})
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("not found, or not visible to you")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    code, message, details = _from_api_exception(exc)
    # Our codes take their status from the table; a code of another library's exception keeps its own status.
    answer = http_status(code) if code in ErrorCode.values else exc.status_code
    return Response(error_body(code, message, details), status=answer, headers=headers)
