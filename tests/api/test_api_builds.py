"""Build commands: bad selections are clear 4xx answers; a cached build answers 200 at once."""
import pytest
from factories import chain
from api_helpers import assert_error

from modules_registry.api.throttles import BuildsThrottle
from modules_registry.models import Job


@pytest.fixture
def chains(user, other_user):
    return chain(user, tag="mine"), chain(other_user, tag="theirs", visibility="private")


@pytest.mark.django_db
@pytest.mark.parametrize("body,status,code", [
    ({"modules": []}, 400, "invalid"),
    ({}, 400, "invalid"),
    ({"modules": ["1"]}, 400, "invalid"),
    ({"modules": [1], "strategy": "magic"}, 400, "invalid"),
])
def test_malformed_compose_requests(alice_write, body, status, code):
    assert_error(alice_write.post("/api/builds/compose/", body, format="json"), status, code)


@pytest.mark.django_db
def test_selection_errors_come_from_the_service(chains, alice_write):
    mine, theirs = chains
    one, two = mine.modules[0].pk, mine.modules[1].pk
    assert_error(alice_write.post("/api/builds/compose/", {"modules": [one]}, format="json"), 400, "no_classes")
    assert_error(alice_write.post("/api/builds/compose/", {"modules": [one, one]}, format="json"), 400,
                 "duplicate_classes")
    # Someone else's private module reads exactly like a missing one.
    hidden = assert_error(alice_write.post("/api/builds/compose/", {"modules": [one, theirs.modules[1].pk]},
                                           format="json"), 404, "not_found")
    missing = assert_error(alice_write.post("/api/builds/compose/", {"modules": [one, 987654]}, format="json"),
                           404, "not_found")
    assert hidden["message"].replace(str(theirs.modules[1].pk), "N") == missing["message"].replace("987654", "N")
    assert_error(alice_write.post("/api/builds/patch/", {"model": theirs.model.pk, "module": two}, format="json"),
                 404, "not_found")
    assert_error(alice_write.post("/api/builds/estimate/", {"modules": [one, theirs.modules[1].pk]},
                                  format="json"), 404, "not_found")
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_builds_need_a_write_token_and_are_throttled(chains, alice_read, alice_write, anon, monkeypatch):
    body = {"modules": [chains[0].modules[0].pk, chains[0].modules[0].pk]}
    assert_error(anon.post("/api/builds/compose/", body, format="json"), 401, "not_authenticated")
    assert_error(alice_read.post("/api/builds/compose/", body, format="json"), 403, "insufficient_scope")
    monkeypatch.setattr(BuildsThrottle, "rate", "1/hour", raising=False)
    alice_write.post("/api/builds/compose/", body, format="json")
    assert_error(alice_write.post("/api/builds/compose/", body, format="json"), 429, "throttled")
