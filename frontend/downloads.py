"""Downloads from the pages use the API's streamed, Range-capable blob response (ETag = sha256)."""
from __future__ import annotations

from modules_registry import selectors
from modules_registry.api.downloads import blob_response as _api_blob_response


def blob_response(request, row, blob, filename: str):
    """Stream ``blob`` (a file of ``row``) as an attachment; public rows may be cached by proxies."""
    return _api_blob_response(request, blob, filename, public=selectors.is_visible(row, None))
