"""Builder, patch page, build detail with download and try-it."""
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

import factories as f
from modules_registry.models import Job

pytestmark = pytest.mark.django_db


def _png(value: int, size=(16, 16)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.fromarray(np.full(size, value, dtype=np.uint8)).save(out, format="PNG")
    return SimpleUploadedFile("digit.png", out.getvalue(), content_type="image/png")


def test_builder_lists_modules_grouped_by_model(alice_client, hub):
    html = alice_client.get(reverse("frontend:build_new")).content.decode()
    assert "digits-simcnn · GradSplitter" in html
    assert html.count('name="modules"') == 10  # bob's private modules are not offered
    assert 'hx-post="/builds/estimate/"' in html and "csrfmiddlewaretoken" in html


def test_builder_refuses_fewer_than_two_classes(alice_client, hub):
    response = alice_client.post(reverse("frontend:build_new"), {
        "modules": [hub["modules"][0].pk], "strategy": "ensemble", "calibration": "none", "device": "cpu"})
    assert response.status_code == 400 and "at least two classes" in response.content.decode()
    assert not Job.objects.filter(kind="build").exists()


def test_builder_refuses_a_module_the_user_cannot_see(alice_client, hub):
    hidden = hub["private_decomposition"].modules.first()
    response = alice_client.post(reverse("frontend:build_new"), {
        "modules": [hub["modules"][0].pk, hidden.pk], "strategy": "ensemble", "calibration": "none", "device": "cpu"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_build_detail_download_and_lineage(alice_client, user, hub):
    build = f.make_build(user, hub["modules"][:3])
    html = alice_client.get(reverse("frontend:build_detail", args=[build.pk])).content.decode()
    assert build.onnx.sha256 in html and "93.0 %" in html and "2.0e-06" in html
    assert reverse("frontend:module_detail", args=[hub["modules"][2].pk]) in html
    response = alice_client.get(reverse("frontend:build_download", args=[build.pk]))
    assert response.status_code == 200 and response["ETag"] == f'"{build.onnx.sha256}"'
    assert "attachment" in response["Content-Disposition"] and ".onnx" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == f.blobs.read_bytes(build.onnx)


def test_try_it_runs_the_onnx_file(alice_client, user, hub):
    client = alice_client
    build = f.make_build(user, hub["modules"][:3])
    bright = client.post(reverse("frontend:build_try", args=[build.pk]), {"image": _png(255)})
    assert bright.status_code == 200
    html = bright.content.decode()
    assert 'id="predicted">2<' in html and "Probabilities" in html
    dark = client.post(reverse("frontend:build_try", args=[build.pk]), {"image": _png(0)}).content.decode()
    assert 'id="predicted">' in dark


def test_try_it_rejects_a_file_that_is_no_image(alice_client, user, hub):
    client = alice_client
    build = f.make_build(user, hub["modules"][:3])
    response = client.post(reverse("frontend:build_try", args=[build.pk]),
                           {"image": SimpleUploadedFile("x.png", b"not an image")})
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()


def test_private_build_is_404_for_others(client, other_user, hub):
    build = f.make_build(other_user, list(hub["private_decomposition"].modules.all()[:2]), visibility="private")
    for name in ("frontend:build_detail", "frontend:build_download"):
        assert client.get(reverse(name, args=[build.pk])).status_code == 404
    client.force_login(hub["model"].owner)  # alice: "Try it" needs a login; bob's private build is still 404
    assert client.post(reverse("frontend:build_try", args=[build.pk]), {"image": _png(9)}).status_code == 404


def test_patch_page_offers_models_and_modules(alice_client, hub):
    html = alice_client.get(reverse("frontend:patch_new")).content.decode()
    assert "Weak model" in html and "Stronger module" in html and "class 3 — F1" in html


def test_patch_refuses_a_module_of_the_same_model(alice_client, hub):
    response = alice_client.post(reverse("frontend:patch_new"), {
        "model": hub["model"].pk, "module": hub["modules"][3].pk, "mode": "replace", "calibration": "linear",
        "device": "cpu"})
    assert response.status_code == 400 and "stronger model" in response.content.decode()


def test_build_list(client, user, hub):
    f.make_build(user, hub["modules"][:3])
    html = client.get(reverse("frontend:build_list")).content.decode()
    assert "digits 0, 1, 2" in html


def test_estimate_asks_for_two_classes_then_explains_errors(alice_client, hub):
    url = reverse("frontend:build_estimate")
    html = alice_client.post(url, {"modules": [hub["modules"][0].pk]}).content.decode()
    assert "at least two classes" in html and "<html" not in html
    hidden = hub["private_decomposition"].modules.first()
    html = alice_client.post(url, {"modules": [hub["modules"][0].pk, hidden.pk]}).content.decode()
    assert 'role="alert"' in html and "not visible to you" in html


def test_build_detail_shows_what_it_costs_beside_the_base_model(alice_client, user, hub):
    footprint = {"build": {"params": 30000, "flops": 2000000, "onnx_bytes": 125000, "latency_ms_b1": 0.21,
                           "latency_ms_b64": 3.5},
                 "bases": [{"key": "k", "params": 120000, "flops": 8000000, "onnx_bytes": 490000,
                            "latency_ms_b1": 0.52, "latency_ms_b64": 9.1}],
                 "ratio": {"params": 0.25, "flops": 0.25, "onnx_bytes": 0.2551, "latency_ms_b1": 0.4038,
                           "latency_ms_b64": 0.3846}}
    build = f.make_build(user, hub["modules"][:3], metrics={"accuracy": 0.93, "footprint": footprint})
    html = alice_client.get(reverse("frontend:build_detail", args=[build.pk])).content.decode()
    table = html[html.index('id="footprint"'):html.index("</table>", html.index('id="footprint"'))]
    assert "onnxruntime, batch 64" in table and "9.10 ms" in table and "× 0.385" in table and "× 0.250" in table
    # builds made before footprints were measured show no empty table
    older = f.make_build(user, hub["modules"][3:5])
    assert 'id="footprint"' not in alice_client.get(reverse("frontend:build_detail", args=[older.pk])).content.decode()
