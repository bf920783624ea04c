"""Data set uploads through the service and a real worker: good archives become Datasets, bad ones fail
with a message and leave no row, no blob and no staged file."""
import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from PIL import Image

from modules_registry.errors import HubError
from modules_registry.models import Blob, Dataset, Job
from modules_registry.services.datasets import upload_dataset
from modules_registry.uploads import SizeLimitedUploadHandler, UploadTooLarge


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((10, 10, 3), colour, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def colour_zip(extra: dict[str, bytes] | None = None) -> bytes:
    entries = {f"{name}/{i}.png": png(colour) for name, colour in (("red", 200), ("blue", 40))
               for i in range(8)}
    return zip_bytes({**entries, **(extra or {})})


def nothing_left(media) -> bool:
    staged = list((media / "uploads").glob("*")) if (media / "uploads").exists() else []
    return Dataset.objects.count() == 0 and Blob.objects.count() == 0 and staged == []


@pytest.mark.django_db(transaction=True)
def test_image_zip_upload_becomes_a_dataset(user, drain_jobs, isolated_media):
    job = upload_dataset(owner=user, archive=SimpleUploadedFile("colours.zip", colour_zip()), name="colours",
                         image_size=(8, 8))
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    dataset = Dataset.objects.get(pk=job.result["dataset"])
    assert dataset.class_names == ["blue", "red"] and dataset.source == "zip"
    assert dataset.input_spec["height"] == 8 and sum(map(sum, dataset.class_counts.values())) == 16
    assert dataset.archive is not None
    assert list((isolated_media / "uploads").glob("*")) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("extra, message", [
    ({"../evil/0.png": png(1)}, ".."),
    ({"/abs/0.png": png(1)}, "absolute"),
    ({"red/notes.txt": b"hello"}, "notes.txt"),
])
def test_bad_zip_is_refused_at_upload_and_keeps_nothing(user, isolated_media, extra, message):
    """Member names and the class layout come from the central directory: checked before anything is staged."""
    with pytest.raises(HubError, match=message.replace(".", r"\.")) as refused:
        upload_dataset(owner=user, archive=SimpleUploadedFile("bad.zip", colour_zip(extra)), name="bad")
    assert refused.value.code == "invalid_file"
    assert nothing_left(isolated_media) and not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_npz_with_object_arrays_is_refused_at_upload_and_keeps_nothing(user, isolated_media):
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([object(), object()], dtype=object), y=np.array([0, 1]))
    with pytest.raises(HubError, match="holds Python objects, which are never unpickled"):
        upload_dataset(owner=user, archive=SimpleUploadedFile("objects.npz", buffer.getvalue()), name="o")
    assert nothing_left(isolated_media) and not Job.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_no_archive_is_refused_at_upload(user):
    with pytest.raises(HubError, match="not a format the hub reads"):
        upload_dataset(owner=user, archive=SimpleUploadedFile("x.bin", b"just some bytes" * 100), name="x")


class CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.consumed = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def multipart(payload_size: int) -> tuple[bytes, str]:
    boundary = "hubboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"big.npz\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * payload_size + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_oversized_upload_is_refused_while_streaming(settings):
    settings.HUB_MAX_UPLOAD_BYTES = 256 * 1024
    body, content_type = multipart(20 * 1024 * 1024)
    stream = CountingStream(body)
    # No Content-Length check possible here (as with chunked uploads): the cap must trip mid-stream.
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    handler = SizeLimitedUploadHandler()
    handler.handle_raw_input = lambda *a, **k: (setattr(handler, "limit", settings.HUB_MAX_UPLOAD_BYTES),
                                                setattr(handler, "received", 0), None)[-1]
    with pytest.raises(UploadTooLarge, match="HUB_MAX_UPLOAD_BYTES"):
        MultiPartParser(meta, stream, [handler]).parse()
    assert stream.consumed < 2 * 1024 * 1024, "the body was read far past the limit"


def test_declared_oversized_upload_is_refused_before_reading(settings):
    settings.HUB_MAX_UPLOAD_BYTES = 1024
    body, content_type = multipart(10_000)
    stream = CountingStream(body)
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    with pytest.raises(UploadTooLarge):
        MultiPartParser(meta, stream, [SizeLimitedUploadHandler()]).parse()
    assert stream.consumed == 0
