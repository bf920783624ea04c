"""Every error in one shape: {"code": stable string, "message": for humans, "details": object}."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from modules_registry.blobs import BlobCorrupted
from modules_registry.models import ImmutableRowError
from modules_registry.services.jobs import ServiceError
from modules_registry.uploads import UploadTooLarge

log = logging.getLogger(__name__)

# DRF's exception classes → our stable codes.
CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def _from_api_exception(exc: exceptions.APIException) -> tuple[str, str, dict]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = next(iter(detail.items()), ("", ""))
        message = f"{first[0]}: {_first_text(first[1])}" if first[0] else "the request is not valid"
        return "invalid", message, {"fields": detail}
    code = getattr(exc, "default_code", None) if type(exc) not in CODES else CODES[type(exc)]
    if code is None:
        code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
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


def exception_handler(exc, context):
    headers = {}
    if isinstance(exc, ServiceError):
        details = {"field": exc.field} if exc.field else {}
        return Response(error_body(exc.code, str(exc), details), status=exc.status)
    if isinstance(exc, UploadTooLarge):
        return Response(error_body("upload_too_large", str(exc), {"limit_bytes": exc.limit}),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ImmutableRowError):
        return Response(error_body("immutable", "; ".join(exc.messages)), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, BlobCorrupted):
        log.error("refused to serve a corrupted blob: %s", exc)
        return Response(error_body("blob_corrupted", "the stored file failed its sha256 check; an administrator "
                                   "has been told"), status=status.HTTP_503_SERVICE_UNAVAILABLE)
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
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)
