"""Lists (pagination, filters, sorting), details (lineage, sha256 of every file), the error shape."""
import pytest
from factories import chain, make_job
from api_helpers import assert_error


@pytest.fixture
def two_chains(user, other_user):
    return (chain(user, tag="a", classes=("cat", "dog", "ship"), kept=(3, 8, 12)),
            chain(other_user, tag="b", classes=("dog", "truck"), architecture="vgg16", method="cnnsplitter",
                  kept=(10, 15)))


def names(response, key="class_name"):
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.mark.django_db
def test_modules_filter_by_class_dataset_architecture_method_owner_and_kept_range(two_chains, anon):
    a, b = two_chains
    assert sorted(names(anon.get("/api/modules/", {"class_name": "DOG"}))) == ["dog", "dog"]
    assert names(anon.get("/api/modules/", {"dataset": b.dataset.pk, "ordering": "class_index"})) == ["dog", "truck"]
    assert names(anon.get("/api/modules/", {"architecture": "vgg16", "ordering": "-class_name"})) == ["truck", "dog"]
    assert names(anon.get("/api/modules/", {"method": "cnnsplitter", "class_name": "dog"})) == ["dog"]
    assert sorted(names(anon.get("/api/modules/", {"owner": "alice"}))) == ["cat", "dog", "ship"]
    assert sorted(names(anon.get("/api/modules/", {"kept_kernels_min": 8, "kept_kernels_max": 12}))) == \
        ["dog", "dog", "ship"]
    assert names(anon.get("/api/modules/", {"ordering": "kept_kernels"}))[0] == "cat"
    assert sorted(names(anon.get("/api/modules/", {"search": "tru"}))) == ["truck"]


@pytest.mark.django_db
def test_other_lists_filter_and_sort(two_chains, anon):
    a, b = two_chains
    assert names(anon.get("/api/models/", {"class_name": "truck"}), "name") == ["model-b"]
    assert names(anon.get("/api/models/", {"architecture": "simcnn"}), "name") == ["model-a"]
    assert names(anon.get("/api/models/", {"ordering": "name"}), "name") == ["model-a", "model-b"]
    assert names(anon.get("/api/datasets/", {"class_name": "ship"}), "name") == ["data-a"]
    assert names(anon.get("/api/decompositions/", {"method": "cnnsplitter"}), "id") == [b.decomposition.pk]
    assert names(anon.get("/api/decompositions/", {"retention_min": 0.6}), "id") == []
    assert names(anon.get("/api/builds/", {"class_name": "cat"}), "name") == ["build-a"]
    assert names(anon.get("/api/builds/", {"module": b.modules[0].pk}), "name") == ["build-b"]


@pytest.mark.django_db
def test_pagination(user, anon):
    for i in range(3):
        chain(user, tag=f"p{i}")
    first = anon.get("/api/models/", {"page_size": 2}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = anon.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert_error(anon.get("/api/models/", {"page": 99}), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"kept_kernels_min": "many"}, {"kept_kernels_min": "1e400"},
                                   {"dataset": "-1"}, {"dataset": str(2**70)}, {"f1_min": "nan"},
                                   {"method": "magic"}, {"class_name": "a\x00b"}, {"visibility": "secret"}])
def test_bad_filters_are_400_in_the_error_shape(query, anon):
    body = assert_error(anon.get("/api/modules/", query), 400, "invalid")
    assert body["details"]["fields"]


@pytest.mark.django_db
def test_details_link_lineage_and_give_each_files_sha256(two_chains, anon):
    a, _ = two_chains
    module = anon.get(f"/api/modules/{a.modules[1].pk}/").json()
    assert module["base_model"]["id"] == a.model.pk and module["base_model"]["url"].endswith(f"/api/models/{a.model.pk}/")
    assert module["decomposition"]["id"] == a.decomposition.pk and module["dataset"]["id"] == a.dataset.pk
    assert module["spec"]["sha256"] == a.modules[1].spec.sha256
    assert module["weights"]["download_url"].endswith(f"/api/modules/{a.modules[1].pk}/weights/")
    model = anon.get(f"/api/models/{a.model.pk}/").json()
    assert model["weights"]["sha256"] == a.model.weights.sha256 and model["weights"]["size"] == a.model.weights.size
    assert model["dataset"]["name"] == "data-a"
    assert [e["accuracy"] for e in model["evaluations"]] == [0.9]
    assert [d["id"] for d in model["decompositions"]] == [a.decomposition.pk]
    decomposition = anon.get(f"/api/decompositions/{a.decomposition.pk}/").json()
    assert [m["class_name"] for m in decomposition["modules"]] == ["cat", "dog", "ship"]
    assert decomposition["result"]["sha256"] == a.decomposition.result.sha256
    build = anon.get(f"/api/builds/{a.build.pk}/").json()
    assert build["onnx"]["sha256"] == a.build.onnx.sha256
    assert [(i["position"], i["class_name"], i["module"]["id"]) for i in build["items"]] == \
        [(0, "cat", a.modules[0].pk), (1, "dog", a.modules[1].pk)]
    assert [m["id"] for m in build["base_models"]] == [a.model.pk]
    dataset = anon.get(f"/api/datasets/{a.dataset.pk}/").json()
    assert dataset["arrays"]["sha256"] == a.dataset.arrays.sha256


@pytest.mark.django_db
def test_jobs_filter_by_status_and_link_their_results(user, alice_read):
    c = chain(user, tag="j")
    make_job(user)
    from django.utils import timezone
    done = make_job(user, "decompose", status="succeeded", finished_at=timezone.now(),
                    result={"decomposition": c.decomposition.pk})
    rows = alice_read.get("/api/jobs/", {"status": "succeeded"}).json()["results"]
    assert [r["id"] for r in rows] == [done.pk]
    assert rows[0]["result_urls"]["decomposition"].endswith(f"/api/decompositions/{c.decomposition.pk}/")
    assert "log" in alice_read.get(f"/api/jobs/{done.pk}/").json()


@pytest.mark.django_db
def test_unknown_ids_and_methods(anon, alice_write):
    assert_error(anon.get("/api/models/123456/"), 404, "not_found")
    assert_error(alice_write.delete("/api/models/1/"), 405, "method_not_allowed")
    assert_error(alice_write.post("/api/models/train/", "{not json", content_type="application/json"), 400,
                 "malformed_request")
    assert_error(alice_write.post("/api/models/train/", "x", content_type="text/plain"), 415,
                 "unsupported_media_type")
