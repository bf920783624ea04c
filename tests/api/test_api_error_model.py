"""One error model: every code has one status, the docs list them all, merged codes answer where the old ones
did; one visibility rule behind lists, details, lineage links and downloads."""
import json
import re
from pathlib import Path

import pytest
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.urls import reverse
from factories import SPEC, chain, make_build, make_dataset, make_decomposition, make_job, make_model, store
from rest_framework.test import APIClient

from modules_registry import selectors
from modules_registry.api.exceptions import CODES, HTTP_STATUS, exception_handler
from modules_registry.errors import MERGED_CODES, ErrorCode, HubError
from modules_registry.models import BaseModel, Job, Visibility
from modules_registry.services.jobs import request_cancel

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


# --- codes and statuses -------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", list(ErrorCode))
def test_each_code_answers_with_its_one_status(code):
    response = exception_handler(HubError("what to fix", code=code, field="name"), {})
    assert response.status_code == HTTP_STATUS[code]
    assert response.data == {"code": code.value, "message": "what to fix", "details": {"field": "name"}}


def test_the_status_table_covers_every_code_and_agrees_with_drf():
    assert set(HTTP_STATUS) == set(ErrorCode)
    for exception_class, code in CODES.items():
        assert HTTP_STATUS[code] == exception_class.status_code, exception_class


def test_a_hub_error_carries_a_known_code_and_no_status():
    error = HubError("nope", code="not_found")
    assert error.code is ErrorCode.NOT_FOUND and not hasattr(error, "status")
    with pytest.raises(ValueError):
        HubError("nope", code="teapot")


def test_the_docs_list_every_code_with_its_status_and_every_merged_code():
    text = API_DOC.read_text()
    table = text[text.index("### Error codes"):text.index("**Merged codes.**")]
    documented = {code: int(status) for code, status in re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", table, re.M)}
    assert documented == {code.value: status for code, status in HTTP_STATUS.items()}
    merged = text[text.index("**Merged codes.**"):]
    for old, new in MERGED_CODES.items():
        assert old not in ErrorCode.values
        assert re.search(rf"^\| `{old}` .*\| `{new.value}` \| {HTTP_STATUS[new]} \|$", merged, re.M), old


# --- merged codes answer where the old ones did ------------------------------------------------------------

@pytest.fixture
def onnx_model(user):
    c = chain(user, tag="base")
    onnx = BaseModel.objects.create(owner=user, name="as-onnx", format="onnx", class_names=["a", "b"],
                                    input_spec=c.model.input_spec, weights=c.model.weights)
    return c, onnx


@pytest.mark.django_db
def test_an_entry_that_cannot_do_what_was_asked_is_not_supported(onnx_model, alice_write):
    c, onnx = onnx_model
    for path, body in [(f"/api/models/{onnx.pk}/decompose/", {}),  # was not_decomposable
                       (f"/api/models/{onnx.pk}/evaluate/", {}),
                       ("/api/builds/patch/", {"model": onnx.pk, "module": c.modules[0].pk})]:  # was not_patchable
        refused = assert_error(alice_write.post(path, body, format="json"), 400, "not_supported")
        assert "ONNX" in refused["message"] and refused["details"] == {"field": "model"}, path
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_class_count_that_differs_from_the_data_set_is_a_class_mismatch(user, alice_write):
    c = chain(user, tag="three")  # three classes
    form = {"weights": SimpleUploadedFile("m.safetensors", b"never read"), "name": "two", "architecture": "simcnn",
            "class_names": json.dumps(["cat", "dog"]), "input_spec": json.dumps(SPEC), "dataset": c.dataset.pk}
    refused = assert_error(alice_write.post("/api/models/upload/", form, format="multipart"), 400,
                           "class_mismatch")  # was class_count_mismatch
    assert refused["details"] == {"field": "class_names"} and "declares 2 classes" in refused["message"]


@pytest.mark.django_db
def test_modules_with_other_image_shapes_are_an_input_mismatch(user, alice_write):
    c = chain(user, tag="small")
    big = {**SPEC, "height": 32, "width": 32}
    dataset = make_dataset(user, "big", class_names=["bird", "frog"], input_spec=big, class_counts={},
                           arrays=store("big arrays", "application/x-npz"))
    other = make_decomposition(user, make_model(user, dataset, "big-model", job=None, input_spec=big))
    body = {"modules": [c.modules[0].pk, other.modules.get(class_index=0).pk]}
    refused = assert_error(alice_write.post("/api/builds/compose/", body, format="json"), 400,
                           "input_mismatch")  # was incompatible_inputs
    assert "1x32x32" in refused["message"] and refused["details"] == {"field": "modules"}
    assert_error(alice_write.post("/api/builds/estimate/", body, format="json"), 400, "input_mismatch")


@pytest.mark.django_db
def test_cancelling_another_users_job_is_permission_denied(user, other_user):
    job = make_job(user, Job.Kind.TRAIN)
    with pytest.raises(HubError) as refused:
        request_cancel(job=job, user=other_user)
    assert refused.value.code == ErrorCode.PERMISSION_DENIED  # was forbidden
    assert exception_handler(refused.value, {}).status_code == 403


# --- one visibility rule -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_rule_on_a_row_agrees_with_the_rule_as_sql(user, other_user, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    admin = django_user_model.objects.create_superuser("root", password="root-password-1")
    rows = [chain(user, tag="pub").model, chain(user, tag="priv", visibility=Visibility.PRIVATE).model]
    for viewer in (user, other_user, admin, AnonymousUser(), None):
        shown = set(selectors.visible(BaseModel.objects.all(), viewer).values_list("pk", flat=True))
        for row in rows:
            assert selectors.is_visible(row, viewer) == (row.pk in shown), (viewer, row.visibility)
    assert [selectors.is_visible(row, None) for row in rows] == [True, False]


def _ui(user):
    client = APIClient()
    client.force_login(user)
    return client


def _paths(c):
    """(list, detail, API download, page, page download) of each of the chain's entries."""
    return [
        ("datasets", c.dataset, f"/api/datasets/{c.dataset.pk}/arrays/",
         reverse("frontend:dataset_detail", args=[c.dataset.pk]),
         reverse("frontend:dataset_download", args=[c.dataset.pk])),
        ("models", c.model, f"/api/models/{c.model.pk}/weights/", reverse("frontend:model_detail", args=[c.model.pk]),
         reverse("frontend:model_download", args=[c.model.pk])),
        ("decompositions", c.decomposition, f"/api/decompositions/{c.decomposition.pk}/result/",
         reverse("frontend:decomposition_detail", args=[c.decomposition.pk]),
         reverse("frontend:decomposition_download", args=[c.decomposition.pk])),
        ("modules", c.modules[0], f"/api/modules/{c.modules[0].pk}/weights/",
         reverse("frontend:module_detail", args=[c.modules[0].pk]),
         reverse("frontend:module_download", args=[c.modules[0].pk, "weights"])),
        ("builds", c.build, f"/api/builds/{c.build.pk}/onnx/", reverse("frontend:build_detail", args=[c.build.pk]),
         reverse("frontend:build_download", args=[c.build.pk])),
    ]


def _hidden_everywhere(api, ui, c, linking_build):
    for resource, row, download, page, page_download in _paths(c):
        listed = {r["id"] for r in api.get(f"/api/{resource}/", {"page_size": 100}).json()["results"]}
        assert row.pk not in listed, resource
        assert_error(api.get(f"/api/{resource}/{row.pk}/"), 404, "not_found")
        assert_error(api.get(download), 404, "not_found")
        assert ui.get(page).status_code == 404, page
        assert ui.get(page_download).status_code == 404, page_download
    detail = api.get(f"/api/builds/{linking_build.pk}/").json()
    links = {item["position"]: item["module"] for item in detail["items"]}
    assert links[0] is None and links[1] is not None  # the lineage link to the hidden module reads as missing
    assert c.model.pk not in {m["id"] for m in detail["base_models"]}


@pytest.mark.django_db
def test_a_private_row_is_404_through_every_path_for_another_user(user, other_user, bob_write):
    alice = chain(user, tag="alice-private", visibility=Visibility.PRIVATE)
    bob = chain(other_user, tag="bob-public")
    linking = make_build(other_user, [alice.modules[0], bob.modules[1]], name="bob links alice",
                         cache_key="b" * 64)
    _hidden_everywhere(bob_write, _ui(other_user), alice, linking)


@pytest.mark.django_db
def test_lists_details_links_and_downloads_all_ask_the_one_rule(user, other_user, alice_write, monkeypatch):
    mine = chain(user, tag="alice")
    theirs = chain(other_user, tag="bob-public")  # public: visible to alice until the rule says otherwise
    linking = make_build(user, [theirs.modules[0], mine.modules[1]], name="alice links bob", cache_key="a" * 64)
    items = alice_write.get(f"/api/builds/{linking.pk}/").json()["items"]
    assert all(item["module"] is not None for item in items)
    assert alice_write.get(f"/api/models/{mine.model.pk}/weights/")["Cache-Control"] == "public, no-cache"

    # A rule under which only alice's rows exist, and nobody's for the anonymous "may anyone see it" question.
    monkeypatch.setattr(selectors, "visibility_rule",
                        lambda viewer: Q(owner_id=user.pk) if viewer is not None else Q(visibility="nobody"))
    _hidden_everywhere(alice_write, _ui(user), theirs, linking)
    assert alice_write.get(f"/api/models/{mine.model.pk}/").status_code == 200
    # The download's cache header asks the same rule whether anyone may see the row.
    for response in (alice_write.get(f"/api/models/{mine.model.pk}/weights/"),
                     _ui(user).get(reverse("frontend:model_download", args=[mine.model.pk]))):
        assert response.status_code == 200 and response["Cache-Control"] == "private, no-cache"
