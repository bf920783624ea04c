"""Every page renders real rows for anonymous and signed-in users."""
import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse

from modules_registry import selectors

pytestmark = pytest.mark.django_db


def test_every_browse_page_renders(client, hub):
    model, decomposition, module = hub["model"], hub["decomposition"], hub["modules"][3]
    pages = {
        reverse("frontend:home"): "What the hub holds",
        reverse("frontend:home") + "?q=simcnn": "digits-simcnn",
        reverse("frontend:dataset_list"): "digits-16",
        reverse("frontend:dataset_detail", args=[hub["dataset"].pk]): "Sample images",
        reverse("frontend:model_list"): "digits-simcnn",
        reverse("frontend:model_detail", args=[model.pk]): "Per-class metrics",
        reverse("frontend:decomposition_list"): "GradSplitter",
        reverse("frontend:decomposition_detail", args=[decomposition.pk]): "Per-epoch accuracy",
        reverse("frontend:module_list"): "Class 3",
        reverse("frontend:module_detail", args=[module.pk]): "Kept channels per layer",
    }
    for url, text in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


def test_model_card_shows_metrics_confusion_matrix_lineage_and_files(client, hub):
    html = client.get(reverse("frontend:model_detail", args=[hub["model"].pk])).content.decode()
    assert "94.7 %" in html  # accuracy and per-class F1
    assert 'role="img"' in html and "Confusion matrix" in html
    assert hub["model"].weights.sha256 in html
    assert reverse("frontend:dataset_detail", args=[hub["dataset"].pk]) in html


def test_module_page_shows_the_decision_threshold_from_its_spec(client, hub):
    module = hub["modules"][3]
    threshold = selectors.module_spec(module)["threshold"]
    html = client.get(reverse("frontend:module_detail", args=[module.pk])).content.decode()
    assert "Decision threshold" in html and floatformat(threshold, 3) in html


def test_search_finds_modules_by_class_name(client, hub):
    html = client.get(reverse("frontend:home"), {"q": "7"}).content.decode()
    assert reverse("frontend:module_detail", args=[hub["modules"][7].pk]) in html
    assert "bobs-secret" not in html


def test_sample_grid_is_a_png_with_an_etag(client, hub):
    url = reverse("frontend:dataset_samples", args=[hub["dataset"].pk])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_module_filters_and_sort(client, hub):
    html = client.get(reverse("frontend:module_list"), {"q": "5", "sort": "f1"}).content.decode()
    assert "Class 5" in html and "Class 4" not in html
    html = client.get(reverse("frontend:module_list"), {"min_kept": "65", "sort": "kept"}).content.decode()
    # kept = (30+i)/56 >= 65 % means i >= 7
    assert "Class 7" in html and "Class 6" not in html
    assert client.get(reverse("frontend:module_list"), {"min_kept": "abc"}).status_code == 200


def test_model_filters(client, hub):
    html = client.get(reverse("frontend:model_list"), {"architecture": "simcnn", "sort": "name"}).content.decode()
    assert "digits-simcnn" in html
    html = client.get(reverse("frontend:model_list"), {"q": "no-such-thing"}).content.decode()
    assert "No models match" in html


def test_lists_paginate(client, user, hub):
    import factories as f

    for i in range(25):
        f.make_model(user, hub["dataset"], name=f"extra-{i:02d}")
    first = client.get(reverse("frontend:model_list"), {"sort": "name"}).content.decode()
    assert "Page 1 of 2" in first and "extra-00" in first
    second = client.get(reverse("frontend:model_list"), {"sort": "name", "page": 2}).content.decode()
    assert "Page 2 of 2" in second and "extra-00" not in second
    assert client.get(reverse("frontend:model_list"), {"page": "junk"}).status_code == 200
