"""OpenAPI pieces drf-spectacular cannot infer: the token scheme and the shared error responses."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "modules_registry.api.authentication.BearerTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "hub_…",
                "description": "An API token from /accounts/tokens/ or `manage.py create_token` (read or write scope)."}


ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error has this shape; `code` is stable, `message` is for humans.",
    "properties": {
        "code": {"type": "string", "example": "not_found"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
    "required": ["code", "message", "details"],
}

READ_ERRORS = {
    "400": "Bad request: a query parameter is not valid",
    "401": "The token is unknown, expired or revoked",
    "403": "Not allowed",
    "404": "Not found, or not visible to you",
    "406": "Not acceptable",
    "429": "Throttled; retry after `details.retry_after_seconds`",
}
WRITE_ERRORS = {
    **READ_ERRORS,
    "400": "Bad request: `details` says which field and why",
    "401": "Authentication needed: a write token or a browser session",
    "403": "Not allowed (e.g. a read-only token, or CSRF failed)",
    "409": "Conflict (e.g. a name you already use, a job that already ended)",
    "413": "The upload is larger than the hub's limit",
    "415": "Unsupported media type",
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: document the error shape on every operation (what fuzzers check against)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = READ_ERRORS if method in ("get", "head", "options") else WRITE_ERRORS
            if method in ("get", "head") and operation.get("security") and {} not in operation["security"]:
                operation["security"].append({})  # anonymous callers read public entries
            if "206" in operation["responses"]:
                errors = {**errors, "416": "The range is outside the file"}
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}})
    return result
