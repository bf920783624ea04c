"""A build request answered from the cache (or by a job already making it) shows the request's own lineage
and says what differs, when the answer was made from other rows with identical bytes or under another name."""
import pytest

import factories as f
from modules_registry.services.builds import start_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(user):
    """Model A decomposed, and the same model uploaded again as B and decomposed alike: other rows, same bytes."""
    a = f.chain(user, tag="a")
    twin = f.make_model(user, a.dataset, "model-twin", job=None, weights=a.model.weights, params=1000, flops=20000)
    decomposition = f.make_decomposition(user, twin, with_modules=False)
    b_modules = [f.make_module(decomposition, i, spec=m.spec, weights=m.weights) for i, m in enumerate(a.modules)]
    return a, twin, b_modules


def compose(client, modules, **options):
    return client.post("/api/builds/compose/", {"modules": [m.pk for m in modules], **options}, format="json")


def test_a_cached_build_shows_the_requests_own_modules_and_name(user, alice_write, twins):
    a, twin, b_modules = twins
    first = start_build(owner=user, modules=[m.pk for m in a.modules[:2]], name="first")
    built = f.make_build(user, a.modules[:2], name="first", cache_key=first.job.params["cache_key"])

    response = compose(alice_write, b_modules[:2], name="mine")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cached"] is True and body["build"]["id"] == built.pk
    assert [item["module"]["id"] for item in body["build"]["items"]] == [m.pk for m in a.modules[:2]]
    assert body["requested"]["name"] == "mine"
    assert [m["id"] for m in body["requested"]["modules"]] == [m.pk for m in b_modules[:2]]
    assert [b["id"] for b in body["requested"]["base_models"]] == [twin.pk]
    note = body["note"]
    assert f"build #{built.pk} is this same classifier, made from modules #{a.modules[0].pk}, #{a.modules[1].pk}" in note
    assert f"the modules you chose (#{b_modules[0].pk}, #{b_modules[1].pk} of #{twin.pk})" in note
    assert f"the name 'mine' was not applied: build #{built.pk} is named 'first'" in note

    same = compose(alice_write, a.modules[:2], name="first").json()
    assert same["cached"] is True and same["note"] == "" and same["requested"]["name"] == "first"
    assert compose(alice_write, a.modules[:2]).json()["note"] == ""  # no name asked for: nothing ignored


def test_joining_a_running_job_says_whose_modules_it_builds(user, alice_write, twins):
    a, twin, b_modules = twins
    first = start_build(owner=user, modules=[m.pk for m in a.modules[:2]])
    response = compose(alice_write, b_modules[:2])
    assert response.status_code == 202 and response.json()["job"]["id"] == first.job.pk
    assert response.json()["note"].startswith(f"job #{first.job.pk} is this same classifier, made from modules "
                                              f"#{a.modules[0].pk}, #{a.modules[1].pk} of base model(s) #{a.model.pk}")


def test_a_new_build_answers_with_its_request_and_no_note(alice_write, twins):
    a, _, _ = twins
    body = compose(alice_write, a.modules[1:], name="new").json()
    assert body["cached"] is False and body["note"] == "" and body["requested"]["name"] == "new"
    assert [m["id"] for m in body["requested"]["modules"]] == [m.pk for m in a.modules[1:]]
