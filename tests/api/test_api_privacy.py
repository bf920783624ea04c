"""Private entries are 404 (or simply absent) to everyone but their owner, through every endpoint."""
import pytest
from factories import chain, make_job
from api_helpers import assert_error

from modules_registry.models import Job

RESOURCES = ["datasets", "models", "decompositions", "modules", "builds"]


@pytest.fixture
def private(user, other_user):
    chain(other_user, tag="bob-public")  # someone else's public entries stay visible to all
    return chain(user, tag="alice-private", visibility="private")


def endpoints(c):
    """(path, kind) for every GET endpoint that names one of the chain's entries."""
    return [
        (f"/api/datasets/{c.dataset.pk}/", "detail"), (f"/api/datasets/{c.dataset.pk}/arrays/", "download"),
        (f"/api/models/{c.model.pk}/", "detail"), (f"/api/models/{c.model.pk}/weights/", "download"),
        (f"/api/decompositions/{c.decomposition.pk}/", "detail"),
        (f"/api/decompositions/{c.decomposition.pk}/result/", "download"),
        (f"/api/modules/{c.modules[0].pk}/", "detail"), (f"/api/modules/{c.modules[0].pk}/spec/", "download"),
        (f"/api/modules/{c.modules[0].pk}/weights/", "download"),
        (f"/api/builds/{c.build.pk}/", "detail"), (f"/api/builds/{c.build.pk}/onnx/", "download"),
    ]


def listed_ids(client, resource):
    response = client.get(f"/api/{resource}/", {"page_size": 100})
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "bob"])
def test_private_entries_are_invisible_to_others_everywhere(who, private, anon, bob_write):
    client = anon if who == "anonymous" else bob_write
    rows = {"datasets": private.dataset, "models": private.model, "decompositions": private.decomposition,
            "modules": private.modules[0], "builds": private.build}
    for resource in RESOURCES:
        ids = listed_ids(client, resource)
        assert ids, f"{resource}: the public entries should be listed"
        assert rows[resource].pk not in ids
    for path, _ in endpoints(private):
        assert_error(client.get(path), 404, "not_found")
        assert client.head(path).status_code == 404
    # Filters and search do not reveal them either.
    assert client.get("/api/modules/", {"owner": "alice"}).json()["count"] == 0
    assert client.get("/api/models/", {"search": "alice-private"}).json()["count"] == 0


@pytest.mark.django_db
def test_commands_on_private_entries_are_404_and_references_read_as_missing(private, bob_write):
    for action in ("evaluate", "decompose"):
        assert_error(bob_write.post(f"/api/models/{private.model.pk}/{action}/", {}, format="json"), 404,
                     "not_found")
    # A private data set named in a body reads exactly like one that does not exist.
    body = {"dataset": private.dataset.pk, "name": "x", "architecture": "simcnn"}
    hidden = assert_error(bob_write.post("/api/models/train/", body, format="json"), 400, "invalid")
    missing = assert_error(bob_write.post("/api/models/train/", {**body, "dataset": 999999}, format="json"),
                           400, "invalid")
    assert hidden["details"]["fields"]["dataset"][0].replace(str(private.dataset.pk), "N") == \
        missing["details"]["fields"]["dataset"][0].replace("999999", "N")
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_jobs_are_their_owners_only(user, other_user, bob_write, alice_write, anon):
    job = make_job(user)
    assert_error(bob_write.get(f"/api/jobs/{job.pk}/"), 404, "not_found")
    assert_error(bob_write.post(f"/api/jobs/{job.pk}/cancel/"), 404, "not_found")
    assert bob_write.get("/api/jobs/").json()["count"] == 0
    assert anon.get("/api/jobs/").json()["count"] == 0
    assert alice_write.get(f"/api/jobs/{job.pk}/").status_code == 200


@pytest.mark.django_db
def test_owner_sees_private_entries_and_lineage_to_them(private, alice_read):
    for resource in RESOURCES:
        assert listed_ids(alice_read, resource)
    for path, kind in endpoints(private):
        assert alice_read.get(path).status_code == 200, path


@pytest.mark.django_db
def test_lineage_to_a_private_entry_is_null_for_others(user, other_user, bob_write):
    c = chain(user, tag="mixed")
    type(c.dataset).objects.filter(pk=c.dataset.pk).update(visibility="private")
    model = bob_write.get(f"/api/models/{c.model.pk}/").json()
    assert model["dataset"] is None
    assert bob_write.get(f"/api/modules/{c.modules[0].pk}/").json()["dataset"] is None
