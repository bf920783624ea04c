"""Any torchvision classifier is stored, evaluated and downloaded; the model says whether it can be decomposed
and why not, and a decomposition request for it is refused at once with that reason."""
import json

import pytest
import torch
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as save_safetensors

from modules_registry.models import BaseModel, Job
from modules_registry.services.datasets import add_builtin_dataset
from splitter_engine.architectures import ArchSpec, build_model


def shufflenet_upload(dataset) -> dict:
    torch.manual_seed(0)
    state = build_model(ArchSpec("shufflenet_v2_x0_5", dataset.num_classes, 3)).state_dict()
    return {"weights": SimpleUploadedFile("shuffle.safetensors", save_safetensors(state)), "name": "shuffle",
            "class_names": json.dumps(dataset.class_names), "input_spec": json.dumps(dataset.input_spec),
            "architecture": "shufflenet_v2_x0_5", "dataset": str(dataset.pk)}  # no arch_kwargs: the default {}


@pytest.mark.django_db(transaction=True)
def test_a_shufflenet_is_stored_evaluated_and_downloaded_but_not_decomposed(user, alice_write, drain_jobs):
    dataset = add_builtin_dataset(owner=user, builtin="digits-32")
    response = alice_write.post("/api/models/upload/", shufflenet_upload(dataset), format="multipart")
    assert response.status_code == 202, response.content
    drain_jobs()
    job = alice_write.get(response.json()["url"]).json()
    assert job["status"] == "succeeded", job["error"]

    model = alice_write.get(job["result_urls"]["model"]).json()
    assert model["architecture"] == "shufflenet_v2_x0_5" and model["arch_kwargs"] == {}
    assert model["decomposable"] is False
    assert "layer 'stage2.0' (InvertedResidual)" in model["not_decomposable_reason"]
    assert "channel shuffle" in model["not_decomposable_reason"]

    refused = assert_error(alice_write.post(f"/api/models/{model['id']}/decompose/", {}, format="json"),
                           400, "not_supported")  # was not_decomposable
    assert "stage2.0" in refused["message"] and refused["details"] == {"field": "model"}
    assert not Job.objects.filter(kind=Job.Kind.DECOMPOSE).exists()

    assert alice_write.post(f"/api/models/{model['id']}/evaluate/", {}, format="json").status_code == 202
    drain_jobs()
    detail = alice_write.get(f"/api/models/{model['id']}/").json()
    assert len(detail["evaluations"]) == 1 and 0 <= detail["evaluations"][0]["accuracy"] <= 1
    download = alice_write.get(model["weights"]["download_url"])
    assert download.status_code == 200 and download["ETag"].strip('"') == model["weights"]["sha256"]


@pytest.mark.django_db
def test_models_stored_before_keep_their_behaviour_and_onnx_says_why(user, alice_write):
    from factories import chain

    c = chain(user, tag="old")  # a row as stored before the analysis was recorded: decomposable, as it was
    model = alice_write.get(f"/api/models/{c.model.pk}/").json()
    assert model["decomposable"] is True and model["not_decomposable_reason"] == ""
    onnx = BaseModel.objects.create(owner=user, name="as-onnx", format="onnx", class_names=["a", "b"],
                                    input_spec=c.model.input_spec, weights=c.model.weights)
    body = alice_write.get(f"/api/models/{onnx.pk}/").json()
    assert body["decomposable"] is False and "ONNX file" in body["not_decomposable_reason"]
    refused = assert_error(alice_write.post(f"/api/models/{onnx.pk}/decompose/", {}, format="json"),
                           400, "not_supported")  # was not_decomposable
    assert "ONNX file" in refused["message"]


@pytest.mark.django_db
def test_the_model_list_filters_on_decomposable(user, alice_write):
    from factories import chain, make_model

    c = chain(user, tag="list")
    refused = make_model(user, c.dataset, "shuffle", job=None, architecture="shufflenet_v2_x0_5", arch_kwargs={},
                         channel_analysis_error="layer 'stage2.0' (InvertedResidual) splits the 48 channels …")
    onnx = make_model(user, c.dataset, "as-onnx", job=None, format="onnx", architecture="", arch_kwargs={})
    ids = lambda query: {m["id"] for m in alice_write.get(f"/api/models/?{query}").json()["results"]}  # noqa: E731
    assert ids("decomposable=true") == {c.model.pk}
    assert ids("decomposable=false") == {refused.pk, onnx.pk}
    assert alice_write.get("/api/models/?decomposable=maybe").status_code == 400
