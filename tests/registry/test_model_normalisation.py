"""One source of truth for how a model's inputs are normalised: the model's own input spec.

The same weights uploaded with another mean/std are another model; evaluation, decomposition, modules,
builds and the ONNX metadata must all use what the model declares, never the data set's normalisation.
"""
import json

import onnx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from modules_registry import blobs
from modules_registry.models import BaseModel, Build, Decomposition, Evaluation, Module
from modules_registry.services.builds import start_build
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_evaluation, upload_model
# One mask epoch (each costs about a third of the whole job here): what is checked is which normalisation the
# decomposition, its modules and a build record, not how well it decomposes (test_decomposition_job.py checks that).
ONE_EPOCH = {"cycles": 1, "warmup_head_epochs": 1, "refit_head_epochs": 1}

SHIFTED = {"mean": [0.5], "std": [0.25]}


@pytest.fixture
def shifted_model(user, small_model, small_digits16_weights, drain_jobs):
    """The small model's weights declared with another normalisation than its data set's."""
    dataset = small_model.dataset
    job = upload_model(owner=user, weights=SimpleUploadedFile("shifted.safetensors", small_digits16_weights),
                       name="shifted-rescnn", class_names=dataset.class_names,
                       input_spec={**dataset.input_spec, **SHIFTED}, dataset=dataset,
                       architecture=small_model.architecture, arch_kwargs=small_model.arch_kwargs)
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return BaseModel.objects.get(pk=job.result["model"])


@pytest.mark.django_db(transaction=True)
def test_decomposition_and_builds_use_the_models_normalisation(user, small_model, shifted_model, drain_jobs):
    for model in (small_model, shifted_model):
        start_evaluation(owner=user, model=model)
    drain_jobs()
    as_declared = Evaluation.objects.get(model=shifted_model, split="test").accuracy
    as_dataset = Evaluation.objects.get(model=small_model, split="test").accuracy
    assert as_declared != as_dataset  # the two normalisations really differ for these weights

    job = start_decomposition(owner=user, model=shifted_model, preset="fast", overrides=ONE_EPOCH, seed=3)
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    decomposition = Decomposition.objects.get(pk=job.result["decomposition"])
    assert decomposition.base_accuracy == pytest.approx(as_declared, abs=1e-5)
    assert decomposition.metrics["input_spec"]["mean"] == SHIFTED["mean"]
    assert "the model's normalisation is used" in decomposition.metrics["input_note"]
    assert "the model's normalisation is used" in job.log
    modules = list(Module.objects.filter(decomposition=decomposition).order_by("class_index"))
    spec = json.loads(blobs.read_bytes(modules[0].spec))
    assert spec["input"]["mean"] == SHIFTED["mean"] and spec["input"]["std"] == SHIFTED["std"]

    request = start_build(owner=user, modules=[modules[1].pk, modules[7].pk], strategy="ensemble")
    drain_jobs()
    request.job.refresh_from_db()
    assert request.job.status == "succeeded", request.job.error
    build = Build.objects.get(pk=request.job.result["build"])
    assert build.input_spec["mean"] == SHIFTED["mean"] and build.input_spec["std"] == SHIFTED["std"]
    props = {p.key: p.value for p in onnx.load_from_string(blobs.read_bytes(build.onnx)).metadata_props}
    normalisation = json.loads(props["input_normalisation"])
    assert normalisation["mean"] == SHIFTED["mean"] and normalisation["std"] == SHIFTED["std"]


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_on_a_data_set_that_normalises_otherwise_says_so(user, shifted_model, drain_jobs):
    job = start_evaluation(owner=user, model=shifted_model)
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert "declares mean [0.07642]" in job.log and "the model's normalisation is used" in job.log
