"""Concern identification through the hub: the API and the form accept it, its modules are class-vs-rest,
builds compose them (voting and a calibrated replace across models), the pages show per-class units and
the module's kind, and every bad request is a 400 with nothing written."""
import json

import pytest
import torch
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from modules_registry.models import BaseModel, Blob, Build, Decomposition, Job, Module

pytestmark = pytest.mark.slow


@pytest.fixture
def good_weights() -> bytes:
    """A ResCNN x0.125 trained for 6 epochs on digits-16 (the engine tests' model): every class has training
    images it classifies with confidence >= 0.9. (The session's 4-epoch model has none for 3, 5 and 7.)"""
    from composition_support import trained
    from splitter_engine.weights import state_dict_to_safetensors

    return state_dict_to_safetensors(trained()[0].state_dict())


def no_positives_weights(weights: bytes) -> bytes:
    """The small model's weights with class 3's output bias pushed far down: it never predicts 3."""
    state = load_safetensors(weights)
    state["fc.bias"] = state["fc.bias"].clone()
    state["fc.bias"][3] -= 100.0
    return save_safetensors(state)


def upload(user, drain_jobs, dataset, weights: bytes, name: str) -> BaseModel:
    from modules_registry.services.models import upload_model

    upload_model(owner=user, weights=SimpleUploadedFile(f"{name}.safetensors", weights), name=name,
                 class_names=dataset.class_names, input_spec=dataset.input_spec, dataset=dataset,
                 architecture="rescnn", arch_kwargs={"width": 0.125})
    drain_jobs()
    return BaseModel.objects.get(name=name)


def built(response, drain_jobs) -> Build:
    """The build a compose or patch request made (its job run to the end)."""
    assert response.status_code == 202, response.content
    drain_jobs()
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == "succeeded", job.error
    return Build.objects.get(pk=job.result["build"])


def written() -> tuple[int, int, int, int]:
    return Job.objects.count(), Blob.objects.count(), Decomposition.objects.count(), Module.objects.count()


@pytest.mark.django_db(transaction=True)
def test_concern_through_the_api_pages_and_builds(user, alice_write, small_model, good_weights, drain_jobs, client):
    model = upload(user, drain_jobs, small_model.dataset, good_weights, "good")
    url = f"/api/models/{model.pk}/decompose/"
    response = alice_write.post(url, {"method": "concern", "seed": 2, "device": "cpu"}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.params["preset"] == "sliced" and job.params["config"]["keep_rule"] == "fraction"
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    decomposition = Decomposition.objects.get(pk=job.result["decomposition"])
    assert decomposition.method == "concern" and decomposition.preset == "sliced" and decomposition.seed == 2
    assert decomposition.base_model == model
    assert decomposition.metrics["tau"] and decomposition.metrics["units"]["kept"]
    assert abs(decomposition.composed_accuracy - decomposition.base_accuracy) <= 0.05
    modules = list(Module.objects.filter(decomposition=decomposition).order_by("class_index"))
    assert len(modules) == 10 and {m.scoring for m in modules} == {"class_vs_rest"}
    assert max(m.params_fraction for m in modules) < 1
    body = alice_write.get(f"/api/modules/{modules[3].pk}/").json()
    assert body["scoring"] == "class_vs_rest"

    # the pages: per class units kept per layer on the decomposition, the kind on the module
    client.force_login(user)
    page = client.get(f"/decompositions/{decomposition.pk}/").content.decode()
    assert "Per class: units kept per layer" in page and decomposition.metrics["units"]["layers"][0]["name"] in page
    assert "Class vs rest (softmax probability)" in client.get(f"/modules/{modules[3].pk}/").content.decode()

    # voting: an uncalibrated ensemble of three modules
    build = built(alice_write.post("/api/builds/compose/", {"modules": [modules[i].pk for i in (1, 4, 7)]},
                                   format="json"), drain_jobs)
    assert build.class_names == ["1", "4", "7"] and build.metrics["accuracy"] > 0.8
    # replace, across models: another model's decomposition, its module for 7 swapped in, calibrated (linear:
    # the per-module temperature maps saturated probabilities to logits, where ONNX and PyTorch can differ by
    # more than the parity limit; docs/concern.md)
    other = upload(user, drain_jobs, small_model.dataset, weights_variant(good_weights), "other")
    response = alice_write.post(f"/api/models/{other.pk}/decompose/", {"method": "concern", "preset": "paper"},
                                format="json")
    assert response.status_code == 202, response.content
    drain_jobs()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.error
    theirs = Module.objects.filter(base_model=other, class_name="7").get()
    assert theirs.params_fraction > 0.95  # the paper preset's modules: the model's size
    mixed = built(alice_write.post("/api/builds/compose/", {"modules": [modules[1].pk, modules[4].pk, theirs.pk],
                                                            "calibration": "linear"}, format="json"), drain_jobs)
    assert mixed.class_names == ["1", "4", "7"] and mixed.metrics["sources"] == 2 and mixed.metrics["accuracy"] > 0.8
    # patching: the weak model's class 7 replaced by the strong model's module
    patched = built(alice_write.post("/api/builds/patch/", {"model": other.pk, "module": modules[7].pk},
                                     format="json"), drain_jobs)
    assert patched.kind == "patch" and patched.metrics["class"] == "7"


def weights_variant(weights: bytes) -> bytes:
    """The same network with slightly different weights: another model of the same classes."""
    state = load_safetensors(weights)
    generator = torch.Generator().manual_seed(1)
    return save_safetensors({k: (v + 0.01 * torch.randn(v.shape, generator=generator) * v.std()
                                 if v.is_floating_point() and v.numel() > 1 else v) for k, v in state.items()})


@pytest.mark.django_db(transaction=True)
def test_bad_concern_requests_are_400_with_nothing_written(user, alice_write, small_model, good_weights, drain_jobs):
    model = upload(user, drain_jobs, small_model.dataset, good_weights, "good")
    url = f"/api/models/{model.pk}/decompose/"
    before = written()
    cases = [
        ({"method": "concern", "preset": "fast"}, "invalid", "preset", "unknown concern identification preset 'fast'"),
        ({"method": "concern", "overrides": {"tau": 0}}, "invalid", "overrides", "tau must be in (0, 1]"),
        ({"method": "concern", "overrides": {"tau": 1.01}}, "invalid", "overrides", "tau must be in (0, 1]"),
        ({"method": "concern", "preset": "paper", "overrides": {"tau": 0.5}}, "invalid", "overrides",
         "tau applies to keep_rule 'fraction'"),
        ({"method": "concern", "overrides": {"negative_ratio": "lots"}}, "invalid", "overrides", "concern"),
    ]
    for request, code, field, message in cases:
        body = assert_error(alice_write.post(url, request, format="json"), 400, code)
        assert body["details"] == {"field": field} and message in body["message"], body
    assert written() == before
    weak = upload(user, drain_jobs, small_model.dataset, no_positives_weights(good_weights), "no-threes")
    before = written()
    body = assert_error(alice_write.post(f"/api/models/{weak.pk}/decompose/", {"method": "concern"}, format="json"),
                        400, "not_supported")
    assert body["details"] == {"field": "model"} and "class(es) ['3']" in body["message"]
    assert written() == before
    # the same request through the page's form: the message beside the form, nothing queued
    from django.test import Client

    page = Client()
    page.force_login(user)
    response = page.post(f"/models/{weak.pk}/decompose/", {"dec-method": "concern", "dec-preset": "", "dec-seed": 0,
                                                            "dec-device": "cpu"})
    assert response.status_code == 400 and "class(es) [&#x27;3&#x27;]" in response.content.decode()
    assert written() == before
    # a lower confidence is a way out the message names
    response = alice_write.post(f"/api/models/{weak.pk}/decompose/",
                                {"method": "concern", "overrides": {"confidence": 0.01}}, format="json")
    assert response.status_code == 400  # the class is never the model's argmax: still no positive
    assert json.loads(response.content)["code"] == "not_supported"
