"""The whole journey in a real browser, on real jobs run by a real worker process."""
from __future__ import annotations

import re
import shutil

import pytest
from django.contrib.auth import get_user_model

import journey
from modules_registry.models import BaseModel, Build, Evaluation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
@pytest.mark.timeout(1500)  # minutes on a 2-core machine; the jobs dominate
def test_journey(page, live_server, worker, shoot, tmp_path):
    get_user_model().objects.create_user(username="alice", password="alice-password-1")
    base = live_server.url
    journey.log_in(page, base, "alice", "alice-password-1")

    # A data set, imported through the page and the worker.
    page.goto(f"{base}/datasets/new/")
    page.get_by_label("Built-in data set").select_option("digits-16")
    page.get_by_role("button", name="Import", exact=True).click()
    journey.finish_job(page)
    journey.open_result(page, "data set")
    expect_heading(page, "digits-16")
    page.wait_for_function("() => { const img = document.querySelector('img.samples');"
                           " return img && img.complete && img.naturalWidth > 100; }")
    shoot(page, "dataset-detail")

    # Train a narrow model and watch its progress bar move.
    page.get_by_role("link", name="Train a model on it").click()
    page.get_by_label("Name", exact=True).fill("digits-simcnn")
    page.get_by_label("Architecture", exact=True).select_option("simcnn")
    page.get_by_label("Architecture options (JSON)").fill('{"width": 0.125, "dropout": 0.0}')
    page.get_by_label("Epochs").fill("4")
    page.get_by_label("Learning rate").fill("0.05")
    page.get_by_label("More training settings (JSON)").fill('{"optimizer": "sgd", "lr_schedule": "cosine"}')
    page.get_by_label("Device").select_option("cpu")
    page.get_by_role("button", name="Start training").click()
    seen = journey.finish_job(page)
    assert seen[-1] == 1.0 and len(set(seen)) >= 2, f"the progress bar did not move: {seen}"
    shoot(page, "job-finished")
    journey.open_result(page, "model")
    expect_heading(page, "digits-simcnn")

    # Upload those weights as a new model, as a user with a file would.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download weights").click()
    weights = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(weights)
    assert weights.suffix == ".safetensors" and weights.stat().st_size > 1000
    page.goto(f"{base}/models/new/")
    page.get_by_label("Name", exact=True).fill("uploaded-simcnn")
    page.get_by_label("Weights").set_input_files(str(weights))
    page.get_by_label("Architecture", exact=True).select_option("simcnn")
    page.get_by_label("Architecture options (JSON)").fill('{"width": 0.125, "dropout": 0.0}')
    page.get_by_label("Trained on").select_option(label="digits-16 (10 classes)")
    page.get_by_role("button", name="Upload").click()
    journey.finish_job(page)
    journey.open_result(page, "model")
    expect_heading(page, "uploaded-simcnn")

    # Evaluate it: per-class table and confusion matrix.
    form = page.locator("form[aria-labelledby=eval-h]")
    form.get_by_label("Split").select_option("test")
    form.get_by_label("Device").select_option("cpu")
    form.get_by_role("button", name="Start evaluation").click()
    journey.finish_job(page)
    journey.open_result(page, "model")
    assert page.locator("section[aria-labelledby=metrics-h] tbody tr").count() == 10
    assert page.locator("svg.chart title", has_text="Confusion matrix").count() == 1
    shoot(page, "model-card")
    page.set_viewport_size({"width": 390, "height": 844})
    assert journey.no_horizontal_overflow(page), "the model card overflows a phone-width screen"
    shoot(page, "model-card-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    model = BaseModel.objects.get(name="uploaded-simcnn")
    assert Evaluation.objects.filter(model=model).exists() and model.job.status == "succeeded"

    decompose_and_build(page, base, shoot, tmp_path)


def decompose_and_build(page, base, shoot, tmp_path):
    form = page.locator("form[aria-labelledby=dec-h]")
    form.get_by_label("Method").select_option("gradsplitter")
    form.get_by_label("Preset").select_option("fast")
    form.get_by_label("Config overrides (JSON)").fill('{"cycles": 4, "warmup_head_epochs": 2, "refit_head_epochs": 2}')  # 6 epochs
    form.get_by_label("Device").select_option("cpu")
    form.get_by_role("button", name="Start decomposition").click()
    seen = journey.finish_job(page)
    assert len(set(seen)) >= 3, f"the progress bar did not move: {seen}"
    journey.open_result(page, "decomposition")
    assert page.locator("svg.chart title", has_text="per epoch").count() == 1
    shoot(page, "decomposition")
    page.locator("section[aria-labelledby=mods-h] .card a").first.click()
    assert page.locator("svg.chart title", has_text="Kept channels").count() == 1
    shoot(page, "module-detail")
    page.goto(f"{base}/modules/?q=uploaded-simcnn&sort=class")
    shoot(page, "module-browser")
    build_and_try(page, base, shoot, tmp_path)
    patch_weak_model(page, base, shoot)


def build_and_try(page, base, shoot, tmp_path):
    """Pick three classes by keyboard and search, see the estimate, build, download and run the ONNX file."""
    page.goto(f"{base}/builds/new/")
    search = page.get_by_label("Search classes")
    for name in ("0", "1", "2"):
        search.fill(name)
        box = page.locator(f"#picker label.option[data-class='{name}']:visible input").first
        box.focus()
        page.keyboard.press("Space")  # the picker works from the keyboard
        assert box.is_checked()
    search.fill("")
    expect_text(page.locator("#estimate"), "Fused")
    shoot(page, "builder")
    page.get_by_role("button", name="Build", exact=True).click()
    journey.finish_job(page)
    journey.open_result(page, "build")
    assert page.locator("#onnx-sha256").inner_text().strip() == Build.objects.get().onnx_id
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download ONNX").click()
    onnx_path = tmp_path / "build.onnx"
    download_info.value.save_as(onnx_path)
    accuracy = run_onnx_on_digits(onnx_path, ["0", "1", "2"])
    # The page's accuracy is the build's own measurement on the same test images: the file must agree.
    shown = page.locator("dl.stats dd").first.inner_text()
    assert shown == f"{accuracy * 100:.1f} %", f"page says {shown}, onnxruntime on the downloaded file {accuracy:.1%}"

    digit = tmp_path / "digit-2.png"
    save_digit_png(digit, "2")
    page.get_by_label("Image").set_input_files(str(digit))
    page.get_by_role("button", name="Classify").click()
    expect_text(page.locator("#try-result"), "Predicted class")
    assert page.locator("#predicted").inner_text() in ("0", "1", "2")
    shoot(page, "build-detail")


def patch_weak_model(page, base, shoot):
    page.goto(f"{base}/builds/patch/")
    page.get_by_label("Weak model").select_option(label="digits-simcnn (10 classes)")
    strong = page.locator("#id_module option", has_text="class 7 ").first.get_attribute("value")
    page.get_by_label("Stronger module").select_option(strong)
    page.get_by_label("Device").select_option("cpu")
    page.get_by_role("button", name="Start the patch").click()
    journey.finish_job(page)
    journey.open_result(page, "build")
    expect_text(page.locator("section[aria-labelledby=patch-h]"), "before and after")
    shoot(page, "patch-detail")


def run_onnx_on_digits(path, classes: list[str]) -> float:
    import numpy as np
    import onnxruntime as ort

    from splitter_engine.data import load_builtin

    data = load_builtin("digits-16")
    idx = [i for i in data.splits["test"] if data.class_names[data.labels[i]] in classes]
    x = data.normalise(data.images[idx]).numpy()
    y = [classes.index(data.class_names[data.labels[i]]) for i in idx]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": x})[0]
    assert logits.shape == (len(idx), len(classes)) and np.isfinite(logits).all()
    return float((logits.argmax(1) == y).mean())


def save_digit_png(path, name: str) -> None:
    from PIL import Image

    from splitter_engine.data import load_builtin

    data = load_builtin("digits-16")
    i = next(i for i in data.splits["test"] if data.class_names[data.labels[i]] == name)
    Image.fromarray(data.images[i][0]).resize((64, 64)).save(path)


def expect_text(locator, text: str, timeout_s: float = 60) -> None:
    locator.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)


def expect_heading(page, text: str) -> None:
    heading = page.get_by_role("heading", level=1)
    assert text in heading.inner_text(), f"expected {text!r} in the page title, got {heading.inner_text()!r}"


def test_a_private_entry_is_hidden_from_another_user(page, live_server, transactional_db):
    import factories as f

    alice = f.make_user("alice")
    f.make_user("bob")
    dataset = f.make_dataset(alice)
    secret = f.make_model(alice, dataset, name="alices-secret", visibility="private")
    journey.log_in(page, live_server.url, "bob", "bob-password-1")
    response = page.goto(f"{live_server.url}/models/{secret.pk}/")
    assert response.status == 404
    page.goto(f"{live_server.url}/models/?q=secret")
    assert "alices-secret" not in page.content()
    page.goto(f"{live_server.url}/accounts/login/")
    journey.log_in(page, live_server.url, "alice", "alice-password-1")
    assert page.goto(f"{live_server.url}/models/{secret.pk}/").status == 200
    assert "alices-secret" in page.locator("h1").inner_text()
