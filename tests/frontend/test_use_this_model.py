"""'Use this model' (#18): the build page's Python snippet, run as a user would (the hub's client against a live
server, onnxruntime on the downloaded file), predicts what "Try it" predicts on the server for the same image;
the curl line fetches the same bytes; the model card has its own snippet."""
import html as html_lib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

import factories as f
from frontend import inference

ROOT = Path(__file__).resolve().parents[2]


def _snippet(page: str, element_id: str) -> str:
    return html_lib.unescape(re.search(rf'<pre id="{element_id}"><code>(.*?)</code></pre>', page, re.S).group(1))


@pytest.mark.django_db(transaction=True)
def test_the_build_snippet_downloads_the_onnx_file_and_predicts_as_try_it_does(live_server, client, user, tmp_path):
    dataset = f.make_dataset(user)
    model = f.make_model(user, dataset)
    build = f.make_build(user, f.make_decomposition(user, model).modules.order_by("class_index")[:3])
    page = client.get(f"/builds/{build.pk}/").content.decode()
    python, curl = _snippet(page, "use-python"), _snippet(page, "use-curl")
    assert f"hub.download_build({build.pk}," in python and "MEAN = np.array(" in python
    assert f"/api/builds/{build.pk}/onnx/" in curl
    python = python.replace("http://testserver", live_server.url)
    for brightness in (0, 140, 255):
        png = io.BytesIO()
        Image.fromarray(np.full((20, 24), brightness, dtype=np.uint8)).save(png, format="PNG")
        (tmp_path / "image.png").write_bytes(png.getvalue())
        ran = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "client")})
        assert ran.returncode == 0, ran.stderr
        server = inference.predict(build, SimpleUploadedFile("image.png", png.getvalue()))[0][0]
        assert ran.stdout.strip() == server, f"brightness {brightness}: snippet {ran.stdout!r}, Try it {server!r}"
    assert (tmp_path / f"build-{build.pk}.onnx").read_bytes() == f.blobs.read_bytes(build.onnx)


@pytest.mark.django_db
def test_the_model_card_snippet_loads_the_weights_with_their_architecture(client, user):
    model = f.make_model(user, f.make_dataset(user))
    page = client.get(f"/models/{model.pk}/").content.decode()
    python = _snippet(page, "use-python")
    assert f'hub.detail("models", {model.pk})["weights"]' in python
    assert 'ArchSpec(name="simcnn", num_classes=10, in_channels=1, kwargs={"width": 0.125})' in python
    compile(python, "snippet", "exec")
    assert f"/api/models/{model.pk}/weights/" in _snippet(page, "use-curl")
