"""Who may call what: anyone reads (selectors hide private entries); writes need a write token or a session."""
from __future__ import annotations

from rest_framework import exceptions, permissions

from accounts.models import APIToken
from modules_registry.errors import ErrorCode


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = "this token has the read scope; create a write token to upload, train, decompose or build"
    default_code = ErrorCode.INSUFFICIENT_SCOPE


class ReadAnyWriteWithScope(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or getattr(view, "reads_only", False):
            return True  # reads_only: a POST that writes nothing (an estimate) is a read
        if not (request.user and request.user.is_authenticated):
            return False  # 401 with WWW-Authenticate
        if isinstance(request.auth, APIToken) and not request.auth.can_write:
            raise InsufficientScope()
        return True  # a session: SessionAuthentication has already enforced CSRF
