"""POST /api/builds/{id}/predict/: images through a build's real ONNX file, ranked classes with softmax scores,
the same numbers as running the file locally in onnxruntime; bad images a clear 400; visibility as for the
download; throttled like Try it; sessions cached per build in a bounded LRU."""
import io

import numpy as np
import onnxruntime as ort
import pytest
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from modules_registry import blobs
from modules_registry.services import predictions

pytestmark = pytest.mark.django_db


def png(array: np.ndarray, fmt: str = "PNG", name: str = "image.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue())


def npz(**arrays) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return SimpleUploadedFile("batch.npz", buffer.getvalue())


@pytest.fixture
def chain_of(user):
    from factories import chain

    return chain(user, tag="predict")


@pytest.fixture
def build(user, chain_of):
    from factories import make_build

    return make_build(user, chain_of.modules, name="three", cache_key="p" * 64)  # a real ONNX, 3 classes


def local_scores(build, images_uint8: np.ndarray) -> np.ndarray:
    """The same images run locally: normalised by the build's spec, through its ONNX file, softmaxed."""
    spec = build.input_spec
    x = images_uint8.astype(np.float32)[:, None] / 255.0
    x = (x - np.float32(spec["mean"][0])) / np.float32(spec["std"][0])
    session = ort.InferenceSession(blobs.read_bytes(build.onnx), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": x.astype(np.float32)})[0].astype(np.float64)
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def grey_batch() -> np.ndarray:
    return np.stack([np.full((16, 16), value, np.uint8) for value in (0, 60, 200, 255)])


def test_images_are_ranked_with_the_scores_of_the_onnx_file(alice_read, build):
    images = grey_batch()
    files = [png(image, name=f"grey-{image[0, 0]}.png") for image in images]
    response = alice_read.post(f"/api/builds/{build.pk}/predict/", {"images": files, "top_k": 2}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["build"] == build.pk and body["classes"] == build.class_names and body["top_k"] == 2
    expected = local_scores(build, images)
    assert [p["name"] for p in body["predictions"]] == [f.name for f in files]
    for prediction, scores in zip(body["predictions"], expected):
        order = np.argsort(-scores, kind="stable")[:2]
        assert [r["class_name"] for r in prediction["ranked"]] == [build.class_names[j] for j in order]
        assert np.allclose([r["score"] for r in prediction["ranked"]], scores[order], atol=1e-6)
    # the tiny ONNX prefers its last class for bright images and its first for dark ones
    assert body["predictions"][0]["ranked"][0]["class_name"] == build.class_names[0]
    assert body["predictions"][-1]["ranked"][0]["class_name"] == build.class_names[-1]


def test_an_npz_batch_gives_the_same_answer_as_the_image_files(anon, build):
    images = grey_batch()
    as_files = anon.post(f"/api/builds/{build.pk}/predict/", {"images": [png(i) for i in images], "top_k": 3},
                         format="multipart").json()["predictions"]
    response = anon.post(f"/api/builds/{build.pk}/predict/", {"images": [npz(x=images)], "top_k": 3},
                         format="multipart")
    assert response.status_code == 200, response.content
    batch = response.json()["predictions"]
    assert [p["name"] for p in batch] == [f"batch.npz[{i}]" for i in range(4)]
    assert [[r["class_name"] for r in p["ranked"]] for p in batch] == \
           [[r["class_name"] for r in p["ranked"]] for p in as_files]
    assert np.allclose([[r["score"] for r in p["ranked"]] for p in batch],
                       [[r["score"] for r in p["ranked"]] for p in as_files], atol=1e-6)


def test_a_colour_jpeg_of_another_size_is_converted_and_resized_to_the_input_spec(alice_read, build):
    bright = np.full((40, 30, 3), 250, np.uint8)
    response = alice_read.post(f"/api/builds/{build.pk}/predict/",
                               {"images": [png(bright, "JPEG", "bright.jpg")]}, format="multipart")
    assert response.status_code == 200, response.content
    ranked = response.json()["predictions"][0]["ranked"]
    assert len(ranked) == 3 and ranked[0]["class_name"] == build.class_names[-1]  # top_k defaults to 5, capped


def huge_png() -> SimpleUploadedFile:
    """A small file whose header declares 5,000 x 5,000 pixels (a decompression bomb for a naive decoder)."""
    return png(np.zeros((5000, 5000), np.uint8), name="huge.png")


@pytest.mark.parametrize("make_body,field,message", [
    (lambda: {"images": [SimpleUploadedFile("notes.png", b"not an image")]}, "images", "not an image we can read"),
    (lambda: {"images": [huge_png()]}, "images", "more than the limit of 16,777,216"),
    (lambda: {"top_k": 2}, "images", "send one or more images"),
    (lambda: {"images": [png(grey_batch()[0])], "top_k": 4}, "top_k", "top_k must be an integer from 1 to 3"),
    (lambda: {"images": [npz(x=grey_batch().astype(np.float32))]}, "images", "must be uint8 images"),
    (lambda: {"images": [npz(y=np.arange(3))]}, "images", "holds no array 'x'"),
    (lambda: {"images": [npz(x=grey_batch()), png(grey_batch()[0])]}, "images", "not both"),
])
def test_bad_requests_are_a_400_that_says_what_to_fix(alice_read, build, make_body, field, message):
    response = alice_read.post(f"/api/builds/{build.pk}/predict/", make_body(), format="multipart")
    body = assert_error(response, 400)
    assert message in body["message"], body
    assert body["details"].get("field") == field or field in body["details"].get("fields", {}), body


def test_visibility_is_that_of_the_download(user, other_user, bob_write, anon, chain_of):
    from factories import make_build

    private = make_build(user, chain_of.modules[:2], visibility="private", name="secret", cache_key="s" * 64)
    image = np.full((16, 16), 255, np.uint8)
    for client in (bob_write, anon):
        assert_error(client.post(f"/api/builds/{private.pk}/predict/", {"images": [png(image)]}, format="multipart"),
                     404, "not_found")
        assert client.get(f"/api/builds/{private.pk}/onnx/").status_code == 404


def test_predictions_are_throttled_like_try_it(alice_read, build, settings):
    settings.HUB_THROTTLE_TRY = "2/min"
    image = np.full((16, 16), 255, np.uint8)
    url = f"/api/builds/{build.pk}/predict/"
    for _ in range(2):
        assert alice_read.post(url, {"images": [png(image)]}, format="multipart").status_code == 200
    assert_error(alice_read.post(url, {"images": [png(image)]}, format="multipart"), 429, "throttled")


def test_sessions_are_cached_per_build_in_a_bounded_lru(user, anon, build, chain_of, settings):
    from factories import make_build

    other = make_build(user, chain_of.modules[1:], name="other", cache_key="o" * 64)
    settings.HUB_PREDICT_SESSIONS = 1
    for target, expected in ((build, [build.pk]), (other, [other.pk]), (build, [build.pk])):
        image = [png(np.full((16, 16), 255, np.uint8))]
        assert anon.post(f"/api/builds/{target.pk}/predict/", {"images": image}, format="multipart").status_code == 200
        assert predictions.cached_sessions() == expected
    settings.HUB_PREDICT_SESSIONS = 2
    first = predictions.session_for(build)
    assert predictions.session_for(build) is first  # a hit, not a new session


def test_the_endpoint_is_in_the_schema(anon):
    schema = anon.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/builds/{id}/predict/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictOut")
    assert {"build", "classes", "top_k", "predictions"} <= set(schema["components"]["schemas"]["PredictOut"]["properties"])


def test_predictions_share_try_its_slots_and_answer_429_when_all_are_busy(anon, build):
    from frontend import inference

    assert inference.RUNNING is predictions.RUNNING
    taken = 0
    while predictions.RUNNING.acquire(blocking=False):  # every slot classifying someone else's image
        taken += 1
    try:
        body = assert_error(anon.post(f"/api/builds/{build.pk}/predict/", {"images": [png(grey_batch()[0])]},
                                      format="multipart"), 429, "throttled")
        assert "busy" in body["message"] and body["details"]["retry_after_seconds"] == 1
    finally:
        for _ in range(taken):
            predictions.RUNNING.release()
    assert taken >= 1
