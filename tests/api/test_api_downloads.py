"""Streamed downloads: ETag = sha256, Content-Disposition, ranges (206/416), conditional GET (304)."""
import hashlib

import pytest
from factories import chain


@pytest.fixture
def build(user):
    return chain(user, tag="dl").build


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_full_download_streams_with_etag_and_filename(build, anon):
    response = anon.get(f"/api/builds/{build.pk}/onnx/", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200 and response.streaming
    data = body(response)
    assert hashlib.sha256(data).hexdigest() == build.onnx.sha256
    assert response["ETag"] == f'"{build.onnx.sha256}"'
    assert response["Content-Length"] == str(build.onnx.size)
    assert response["Content-Disposition"] == 'attachment; filename="build-dl.onnx"'
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.django_db
@pytest.mark.parametrize("header,first,last", [("bytes=0-99", 0, 99), ("bytes=100-", 100, None),
                                               ("bytes=-10", -10, None), ("bytes=5-999999999", 5, None)])
def test_ranges_answer_206(build, anon, header, first, last):
    whole = body(anon.get(f"/api/builds/{build.pk}/onnx/"))
    response = anon.get(f"/api/builds/{build.pk}/onnx/", HTTP_RANGE=header)
    assert response.status_code == 206
    expected = whole[first:] if last is None else whole[first:last + 1]
    assert body(response) == expected
    start = first % len(whole)
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(whole)}"


@pytest.mark.django_db
def test_unsatisfiable_range_is_416_and_bad_ranges_get_the_whole_file(build, anon):
    url = f"/api/builds/{build.pk}/onnx/"
    response = anon.get(url, HTTP_RANGE=f"bytes={build.onnx.size}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{build.onnx.size}"
    assert response.json()["code"] == "range_not_satisfiable"
    for header in ("bytes=0-1,5-6", "pages=1-2", "bytes=abc", "bytes=9-2"):
        response = anon.get(url, HTTP_RANGE=header)
        assert response.status_code in (200, 416), header
    assert anon.get(url, HTTP_RANGE="bytes=0-1,5-6").status_code == 200
    # If-Range with another validator: the whole file, not a range of something else.
    assert anon.get(url, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"other"').status_code == 200


@pytest.mark.django_db
def test_conditional_get_and_head(build, anon):
    url = f"/api/builds/{build.pk}/onnx/"
    response = anon.get(url, HTTP_IF_NONE_MATCH=f'"{build.onnx.sha256}"')
    assert response.status_code == 304 and response["ETag"] == f'"{build.onnx.sha256}"'
    assert anon.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    head = anon.head(url)
    assert head.status_code == 200 and head["Content-Length"] == str(build.onnx.size)


@pytest.mark.django_db
def test_every_file_kind_downloads(user, anon):
    c = chain(user, tag="kinds")
    for url, blob in [(f"/api/models/{c.model.pk}/weights/", c.model.weights),
                      (f"/api/modules/{c.modules[0].pk}/spec/", c.modules[0].spec),
                      (f"/api/modules/{c.modules[0].pk}/weights/", c.modules[0].weights),
                      (f"/api/decompositions/{c.decomposition.pk}/result/", c.decomposition.result),
                      (f"/api/datasets/{c.dataset.pk}/arrays/", c.dataset.arrays)]:
        response = anon.get(url)
        assert response.status_code == 200, url
        assert hashlib.sha256(body(response)).hexdigest() == blob.sha256
    assert anon.get(f"/api/models/{c.model.pk}/weights/")["Content-Disposition"].endswith('model-kinds.safetensors"')
