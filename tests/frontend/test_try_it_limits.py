"""#19: "Try it" was open to anonymous users, unthrottled, and decoded a 95 KB PNG of 5,700 x 5,700 pixels (above the
hub's own pixel limit): 12 concurrent requests added 1.56 GB to the server. Now it needs a login, checks the pixel
count from the header before decoding, caps the file size, is throttled, and runs a few at a time."""
import io
import threading

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageFile

import factories as f
from frontend import inference

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def png(size=(16, 16), value: int = 255, mode: str = "L") -> SimpleUploadedFile:
    out = io.BytesIO()
    image = Image.new(mode, size, value) if mode == "1" else Image.fromarray(np.full(size[::-1], value, np.uint8))
    image.save(out, format="PNG", optimize=True)
    return SimpleUploadedFile("image.png", out.getvalue(), content_type="image/png")


@pytest.fixture
def build(user, hub):
    return f.make_build(user, hub["modules"][:3])


def try_it(client, build, image):
    return client.post(reverse("frontend:build_try", args=[build.pk]), {"image": image})


def test_try_it_needs_a_login(client, build):
    response = try_it(client, build, png())
    assert response.status_code == 302 and reverse("login") in response["Location"]
    html = client.get(reverse("frontend:build_detail", args=[build.pk])).content.decode()
    assert "Log in</a> to try it" in html and 'name="image"' not in html


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(alice_client, build, monkeypatch):
    big = png((5700, 5700), 1, mode="1")  # a small file (about 5 KB) of 32.5 million pixels
    assert len(big.read()) < 100_000
    big.seek(0)
    decoded = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or original(self))
    response = try_it(alice_client, build, big)
    assert response.status_code == 400
    html = response.content.decode()
    assert "5700 x 5700 pixels" in html and "16,777,216" in html
    assert decoded == []  # refused from the header: nothing was decompressed


def test_a_file_over_the_size_limit_is_refused(alice_client, build, settings):
    settings.HUB_TRY_MAX_BYTES = 1000
    response = try_it(alice_client, build, SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * 2000))
    assert response.status_code == 400 and "larger than the limit of 1,000 bytes" in response.content.decode()


def test_try_it_is_throttled_per_user(alice_client, build, settings):
    settings.HUB_THROTTLE_TRY = "2/min"
    assert [try_it(alice_client, build, png()).status_code for _ in range(3)] == [200, 200, 429]
    assert "Too many tries" in try_it(alice_client, build, png()).content.decode()


def test_only_a_few_images_are_classified_at_once(alice_client, build, monkeypatch):
    monkeypatch.setattr(inference, "RUNNING", threading.BoundedSemaphore(1))
    inference.RUNNING.acquire()  # one classification is running
    try:
        response = try_it(alice_client, build, png())
    finally:
        inference.RUNNING.release()
    assert response.status_code == 503 and "busy" in response.content.decode()
    assert try_it(alice_client, build, png()).status_code == 200
