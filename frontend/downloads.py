"""Streaming a blob to the browser: never read into memory, ETag = sha256, named attachment."""
from __future__ import annotations

from django.http import FileResponse, HttpResponseNotModified
from django.utils.http import content_disposition_header

from modules_registry import blobs


def blob_response(request, blob, filename: str):
    etag = f'"{blob.sha256}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    response = FileResponse(blobs.open_blob(blob), content_type=blob.media_type or "application/octet-stream")
    response["Content-Length"] = str(blob.size)
    response["ETag"] = etag
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-SHA256"] = blob.sha256
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response
