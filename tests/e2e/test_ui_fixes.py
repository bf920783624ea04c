"""What a new user hit in a real browser (#18): the class search that filtered nothing, Try it errors that htmx
dropped, and phone-width layouts. Rows come from the factories (no worker, no training): one page load per check."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import factories as f
import journey

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def rows(transactional_db):
    alice = f.make_user("alice")
    dataset = f.make_dataset(alice)
    model = f.make_model(alice, dataset)
    f.make_evaluation(alice, model)
    modules = f.make_sized_decomposition(alice, model)
    other = f.make_sized_decomposition(alice, f.make_model(alice, dataset, name="digits-second"))
    build = f.make_build(alice, modules[:3])
    return {"model": model, "modules": modules, "other": other, "build": build}


def _png(path, value: int) -> None:
    Image.fromarray(np.full((16, 16), value, dtype=np.uint8)).save(path)


def test_class_search_hides_other_classes_and_try_it_shows_its_errors(page, live_server, rows, tmp_path, shoot):
    base = live_server.url
    journey.log_in(page, base, "alice", "alice-password-1")

    page.goto(f"{base}/builds/new/")
    search = page.get_by_label("Search classes")
    search.fill("7")
    shown = page.locator("#picker label.option:visible")
    assert shown.count() == 2 and set(shown.evaluate_all("els => els.map(e => e.dataset.class)")) == {"7"}
    search.press("Tab")  # keyboard users land on the first shown class, not on class 0
    assert page.evaluate("document.activeElement.closest('label').dataset.class") == "7"
    page.keyboard.press("Space")
    assert page.locator(f"#picker input[value='{rows['other'][7].pk}']").is_checked()  # digits-second's group first
    search.fill("")
    page.locator(f"#picker input[value='{rows['other'][3].pk}']").check()
    page.locator("#estimate").get_by_text("Fused").first.wait_for()
    assert page.locator("input[name=strategy][value=fused]").is_checked(), "one model's classes: Fused"
    page.locator(f"#picker input[value='{rows['modules'][5].pk}']").check()
    page.locator("#calibration-hint").wait_for()
    assert page.locator("input[name=strategy][value=ensemble]").is_checked(), "two models: Ensemble"
    page.get_by_label("Calibration", exact=True).select_option("linear")
    page.locator("#calibration-hint", has_text="linear calibration").wait_for()
    shoot(page, "builder-estimate")

    page.goto(f"{base}/builds/{rows['build'].pk}/")
    good, bad = tmp_path / "digit.png", tmp_path / "notes.png"
    _png(good, 255)
    bad.write_bytes(b"not an image at all")
    page.get_by_label("Image").set_input_files(str(good))
    page.get_by_role("button", name="Classify").click()
    page.locator("#predicted").wait_for()
    page.get_by_label("Image").set_input_files(str(bad))
    page.get_by_role("button", name="Classify").click()
    error = page.locator("#try-error")
    error.wait_for()
    assert "not an image we can read" in error.inner_text()
    assert page.locator("#predicted").count() == 0, "the old prediction must not stay on screen"
    shoot(page, "try-it-error")


def _fits(page) -> bool:
    return journey.no_horizontal_overflow(page)


def test_phone_width_pages(page, live_server, rows, shoot):
    base = live_server.url
    journey.log_in(page, base, "alice", "alice-password-1")
    page.set_viewport_size(PHONE)

    page.goto(f"{base}/builds/new/")
    picker, options = page.locator("section.picker").bounding_box(), page.locator("aside.sticky").bounding_box()
    assert options["y"] >= picker["y"] + picker["height"] - 1, "the builder is one column on a phone"
    assert options["width"] > 300 and _fits(page)
    shoot(page, "builder-phone", full_page=False)
    for name in ("Data sets", "Models", "Decompositions", "Modules", "Builds", "Jobs"):
        link = page.locator("nav.main-nav").get_by_role("link", name=name, exact=True).bounding_box()
        assert link and 0 <= link["x"] and link["x"] + link["width"] <= PHONE["width"], f"{name} is off screen"

    page.goto(f"{base}/accounts/tokens/")
    page.get_by_label("Name").fill("phone")
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token-value").wait_for()
    assert _fits(page), "the tokens page overflows a phone"
    page.reload()
    assert page.locator("#new-token-value").count() == 0  # shown once; the reload created nothing

    page.goto(f"{base}/models/{rows['model'].pk}/")
    frame = page.locator("section[aria-labelledby=lineage-h] .table-wrap").bounding_box()
    button = page.locator("section[aria-labelledby=lineage-h] .table-wrap a.button").bounding_box()
    assert button["x"] + button["width"] <= frame["x"] + frame["width"], "the files table clips its button"
    assert _fits(page)
    shoot(page, "model-card-phone-files")
