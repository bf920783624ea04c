"""What the resource views share: list/detail querysets and serializers, 202 answers, download actions."""
from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.response import Response

from modules_registry import selectors
from modules_registry.api.downloads import blob_response
from modules_registry.api.serializers.resources import JobOut


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class FormatIsAFilter(DefaultContentNegotiation):
    """The resources answer JSON only, so ``?format=`` is not DRF's renderer override here (which answered 404 for
    ``?format=onnx``) but an ordinary query parameter: the models' file format filter. The schema view keeps the
    override (``/api/schema/?format=json``)."""

    settings = _NoFormatOverride


class ArtifactViewSet(viewsets.ReadOnlyModelViewSet):
    """A read-only resource; ``list_query``/``detail_query`` are visibility-aware query functions of the user.

    An action with ``reads_only=True`` (POST, but it writes nothing, e.g. an estimate) is allowed with a read
    token, or none, like a GET."""

    content_negotiation_class = FormatIsAFilter
    reads_only = False
    list_query = None
    detail_query = None
    list_serializer = None
    detail_serializer = None
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        query = self.list_query if self.action == "list" or self.detail_query is None else self.detail_query
        return query(self.request.user)

    def get_serializer_class(self):
        if self.action == "list" or self.detail_serializer is None:
            return self.list_serializer
        return self.detail_serializer


def accepted(job, request) -> Response:
    """202: the command was queued as ``job``; poll its url."""
    data = JobOut(job, context={"request": request}).data
    return Response(data, status=202, headers={"Location": str(data["url"])})


def command_input(view, serializer_class):
    serializer = serializer_class(data=view.request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class IgnoreAccept(BaseContentNegotiation):
    """Downloads answer bytes whatever the Accept header says; their errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def safe_filename(stem: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:100] or "download"
    return f"{stem}{suffix}"


def download(request, row, blob, stem: str, suffix: str):
    return blob_response(request, blob, safe_filename(stem, suffix), public=selectors.is_visible(row, None))


download_schema = extend_schema(
    parameters=[
        OpenApiParameter("Range", str, OpenApiParameter.HEADER, required=False,
                         description="one byte range, e.g. `bytes=0-1023`; answered with 206"),
        OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False,
                         description='the ETag you hold ("<sha256>"); answered with 304 if unchanged'),
    ],
    responses={
        (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the whole file; ETag is its sha256"),
        (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the requested range"),
        304: OpenApiResponse(description="not modified"),
    },
)

DOWNLOAD_ACTION = {"methods": ["get"], "detail": True, "content_negotiation_class": IgnoreAccept,
                   "filter_backends": [], "pagination_class": None}
