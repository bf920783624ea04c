"""#19: `GET /api/models/?format=onnx` answered 404 (DRF took `format` for its renderer override, so the documented
filter never worked); `builds/estimate/` only reads but demanded a write token."""
import pytest
from api_helpers import assert_error

import factories as f
from modules_registry.models import BaseModel


@pytest.fixture
def models(user):
    c = f.chain(user, tag="fmt")
    onnx = BaseModel.objects.create(owner=user, name="as-onnx", format="onnx", class_names=["a", "b"],
                                    input_spec=c.model.input_spec, weights=c.model.weights)
    return c, onnx


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["format", "file_format"])
def test_models_filter_by_file_format(models, anon, param):
    c, onnx = models
    response = anon.get(f"/api/models/?{param}=onnx")
    assert response.status_code == 200, response.content[:300]
    assert [m["id"] for m in response.json()["results"]] == [onnx.pk]
    response = anon.get(f"/api/models/?{param}=safetensors")
    assert [m["id"] for m in response.json()["results"]] == [c.model.pk]
    body = assert_error(anon.get(f"/api/models/?{param}=exe"), 400, "invalid")
    assert param in body["details"]["fields"]


@pytest.mark.django_db
def test_other_lists_answer_json_whatever_format_says_and_the_schema_keeps_format_json(models, anon):
    assert anon.get("/api/datasets/?format=json").status_code == 200
    assert anon.get("/api/decompositions/?format=xml").status_code == 200
    schema = anon.get("/api/schema/?format=json")
    assert schema.status_code == 200 and schema["Content-Type"].startswith("application/vnd.oai.openapi+json")
    parameters = {p["name"] for p in schema.json()["paths"]["/api/models/"]["get"]["parameters"]}
    assert {"file_format", "format"} <= parameters


@pytest.mark.django_db
def test_estimate_needs_no_write_token(models, alice_read, anon, user):
    c, _ = models
    one = c.modules[0].pk
    for client in (alice_read, anon):  # the service answers (here: one class is not a classifier), not a 401/403
        assert_error(client.post("/api/builds/estimate/", {"modules": [one]}, format="json"), 400, "no_classes")
    big = {**f.SPEC, "height": 32, "width": 32}
    dataset = f.make_dataset(user, "big", class_names=["bird", "frog"], input_spec=big, class_counts={},
                             arrays=f.store("big arrays", "application/x-npz"))
    other = f.make_decomposition(user, f.make_model(user, dataset, "big-model", job=None, input_spec=big))
    assert_error(alice_read.post("/api/builds/estimate/", {"modules": [one, other.modules.get(class_index=0).pk]},
                                 format="json"), 400, "input_mismatch")
    # writing still needs the write scope
    assert_error(alice_read.post("/api/builds/compose/", {"modules": [one, c.modules[1].pk]}, format="json"), 403,
                 "insufficient_scope")
