"""Streamed downloads of blobs: ETag = sha256, Content-Disposition, single byte ranges (206), 304, 416.

Bytes are never read into memory: a full download streams through ``open_blob`` (which checks the
sha256 at the end), a range streams from a seek into the stored file.
"""
from __future__ import annotations

import re

from django.core.files.storage import default_storage
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from modules_registry import blobs
from modules_registry.api.exceptions import error_body, http_status
from modules_registry.errors import ErrorCode
from modules_registry.models import Blob

RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
MEDIA_TYPE = "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive for one satisfiable range; None to send everything; "unsatisfiable"."""
    match = RANGE.match((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None  # absent, malformed or several ranges: answer with the whole file (RFC 9110 §14.2)
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    first = int(first)
    last = size - 1 if last == "" else min(int(last), size - 1)
    if first >= size or first > last:
        return "unsatisfiable"
    return first, last


def _stream_full(blob: Blob):
    with blobs.open_blob(blob) as handle:
        while chunk := handle.read(blobs.CHUNK):
            yield chunk


def _stream_range(blob: Blob, first: int, last: int):
    with default_storage.open(blob.storage_name, "rb") as handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = handle.read(min(blobs.CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def blob_response(request, blob: Blob, filename: str, *, public: bool):
    etag = f'"{blob.sha256}"'
    common = {"ETag": etag, "Accept-Ranges": "bytes", "X-Content-SHA256": blob.sha256,
              "Cache-Control": "public, no-cache" if public else "private, no-cache"}
    if_none_match = request.headers.get("If-None-Match", "")
    if if_none_match.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]:
        response = HttpResponse(status=304)
        for key, value in common.items():
            response[key] = value
        return response

    wanted = None
    if_range = request.headers.get("If-Range")
    if request.headers.get("Range") and (if_range is None or if_range.strip() == etag):
        wanted = parse_range(request.headers["Range"], blob.size)
    if wanted == "unsatisfiable":
        response = JsonResponse(error_body(ErrorCode.RANGE_NOT_SATISFIABLE, f"the file has {blob.size} bytes",
                                           {"size": blob.size}), status=http_status(ErrorCode.RANGE_NOT_SATISFIABLE))
        response["Content-Range"] = f"bytes */{blob.size}"
        return response

    head = request.method == "HEAD"
    if wanted is None:
        status, length = 200, blob.size
        body = [] if head else _stream_full(blob)
    else:
        first, last = wanted
        status, length = 206, last - first + 1
        body = [] if head else _stream_range(blob, first, last)
    response = StreamingHttpResponse(body, status=status, content_type=MEDIA_TYPE)
    for key, value in common.items():
        response[key] = value
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    if status == 206:
        response["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{blob.size}"
    return response
