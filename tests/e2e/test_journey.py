"""The whole journey in a real browser, on real jobs run by a real worker process."""
from __future__ import annotations

import re
import shutil

import pytest
from django.contrib.auth import get_user_model

import journey
from modules_registry.models import BaseModel, Dataset, Evaluation, Job

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_runs(kind: str) -> bool:
    from splitter_engine.tasks import HANDLERS

    return kind in HANDLERS


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
    page.get_by_label("Architecture options (JSON)").fill('{"width": 0.125}')
    page.get_by_label("Epochs").fill("2")
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
    page.get_by_label("Architecture options (JSON)").fill('{"width": 0.125}')
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

    if not _backend_runs(Job.Kind.DECOMPOSE):
        pytest.skip("the worker cannot run decompositions yet (splitter_engine.tasks has no handler); "
                    "the journey stops after upload and evaluation")
    decompose_and_build(page, base, shoot)


def decompose_and_build(page, base, shoot):
    form = page.locator("form[aria-labelledby=dec-h]")
    form.get_by_label("Method").select_option("gradsplitter")
    form.get_by_label("Preset").fill("fast")
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
    page.goto(f"{base}/modules/")
    shoot(page, "module-browser")


def expect_heading(page, text: str) -> None:
    heading = page.get_by_role("heading", level=1)
    assert text in heading.inner_text(), f"expected {text!r} in the page title, got {heading.inner_text()!r}"


def test_a_private_entry_is_hidden_from_another_user(page, live_server, transactional_db):
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "frontend"))
    import ui_factories as f

    users = get_user_model().objects
    alice = users.create_user(username="alice", password="alice-password-1")
    users.create_user(username="bob", password="bob-password-1")
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
