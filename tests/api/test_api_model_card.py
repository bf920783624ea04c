"""PATCH /api/models/{id}/: the owner edits a model's description and tags; filter by tag; everything else fixed."""
import pytest

import factories as f
from api_helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(user):
    return f.make_model(user, f.make_dataset(user))


def test_the_owner_sets_description_and_tags_and_lists_filter_by_tag(alice_write, anon, model, user):
    url = f"/api/models/{model.pk}/"
    response = alice_write.patch(url, {"description": "# Digits\nTrained on **sklearn** digits.",
                                       "tags": ["Digits", " grey ", "digits", "simcnn"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["digits", "grey", "simcnn"]
    assert response.json()["description"].startswith("# Digits")
    model.refresh_from_db()
    assert model.tags == ["digits", "grey", "simcnn"]
    other = f.make_model(user, model.dataset, name="other")
    ids = lambda r: [m["id"] for m in r.json()["results"]]  # noqa: E731
    assert ids(anon.get("/api/models/?tag=GREY")) == [model.pk]
    assert ids(anon.get("/api/models/?tag=gre")) == []  # a whole tag, not a part of one
    assert other.pk in ids(anon.get("/api/models/"))
    # one field alone leaves the other as it was
    assert alice_write.patch(url, {"tags": []}, format="json").json()["description"].startswith("# Digits")


@pytest.mark.parametrize("body, field", [
    ({"name": "renamed"}, "name"),
    ({"class_names": ["a", "b"]}, "class_names"),
    ({"tags": ["ok", "no spaces please"]}, "tags"),
    ({"tags": "digits"}, "tags"),
    ({"tags": [f"t{i}" for i in range(13)]}, "tags"),
    ({"description": 5}, "description"),
    ({"description": "x" * 20_001}, "description"),
    ({}, None),
])
def test_bad_edits_are_400s_that_change_nothing(alice_write, model, body, field):
    body_out = assert_error(alice_write.patch(f"/api/models/{model.pk}/", body, format="json"), 400)
    if field:
        assert field in str(body_out["details"]) or field in body_out["message"]
    model.refresh_from_db()
    assert model.tags == [] and model.description == "" and model.name == "digits-simcnn"


def test_only_the_owner_with_a_write_token_edits(alice_read, bob_write, anon, model, other_user):
    url = f"/api/models/{model.pk}/"
    assert_error(bob_write.patch(url, {"tags": ["mine"]}, format="json"), 403, "permission_denied")
    assert_error(alice_read.patch(url, {"tags": ["mine"]}, format="json"), 403, "insufficient_scope")
    assert anon.patch(url, {"tags": ["mine"]}, format="json").status_code in (401, 403)
    private = f.make_model(model.owner, model.dataset, name="secret", visibility="private")
    assert_error(bob_write.patch(f"/api/models/{private.pk}/", {"tags": ["x"]}, format="json"), 404, "not_found")
    model.refresh_from_db()
    assert model.tags == []
