"""CNNSplitter through the hub: the API accepts it, a tiny search runs as a job, its modules are `logit`
modules, an ensemble build of them exports to ONNX, a patch with `minmax` calibration runs, the page
charts the generations, and bad configs are a 400 naming the setting with nothing written."""
import pytest
import torch
from api_helpers import assert_error
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from modules_registry.models import BaseModel, Blob, Build, Decomposition, Job, Module

pytestmark = pytest.mark.slow

TINY = {"val_per_class": 8, "sensitivity_ratios": [0.5], "ratio_floor": 0.8, "ratio_cap": 0.9, "population": 6,
        "parents": 4, "elites": 2, "generations": 2, "keep_min": 4, "keep_max": 16}


def other_model(user, drain_jobs, dataset, weights: bytes) -> BaseModel:
    """The small model with slightly perturbed weights, uploaded as another model of the same classes."""
    from modules_registry.services.models import upload_model

    state = load_safetensors(weights)
    generator = torch.Generator().manual_seed(1)
    state = {k: (v + 0.01 * torch.randn(v.shape, generator=generator) * v.std()
                 if v.is_floating_point() and v.numel() > 1 else v) for k, v in state.items()}
    upload_model(owner=user, weights=SimpleUploadedFile("weak.safetensors", save_safetensors(state)), name="weak",
                 class_names=dataset.class_names, input_spec=dataset.input_spec, dataset=dataset,
                 architecture="rescnn", arch_kwargs={"width": 0.125})  # the small model's (tests/conftest.py)
    drain_jobs()
    return BaseModel.objects.get(name="weak")


def written() -> tuple[int, int, int, int]:
    return Job.objects.count(), Blob.objects.count(), Decomposition.objects.count(), Module.objects.count()


@pytest.mark.django_db(transaction=True)
def test_cnnsplitter_through_the_api_builds_and_patching(user, alice_write, small_model, small_digits16_weights,
                                                        drain_jobs, client):
    url = f"/api/models/{small_model.pk}/decompose/"
    response = alice_write.post(url, {"method": "cnnsplitter", "preset": "fast", "overrides": TINY, "seed": 4,
                                      "device": "cpu"}, format="json")
    assert response.status_code == 202, response.content
    drain_jobs()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.error
    decomposition = Decomposition.objects.get(pk=job.result["decomposition"])
    assert decomposition.method == "cnnsplitter" and decomposition.preset == "fast" and decomposition.seed == 4
    assert len(decomposition.history) == 3 and decomposition.selected_epoch in (0, 1, 2)
    assert {"fitness", "diff", "accuracy", "retention"} <= set(decomposition.history[0])
    assert 0 < decomposition.mean_kernel_retention < 1
    modules = list(Module.objects.filter(decomposition=decomposition).order_by("class_index"))
    assert len(modules) == 10 and {m.scoring for m in modules} == {"logit"}
    assert alice_write.get(f"/api/modules/{modules[3].pk}/").json()["scoring"] == "logit"

    client.force_login(user)
    page = client.get(f"/decompositions/{decomposition.pk}/").content.decode()
    assert "CNNSplitter" in page and "<svg" in page

    response = alice_write.post("/api/builds/compose/", {"modules": [modules[i].pk for i in (1, 4, 7)]}, format="json")
    assert response.status_code in (200, 202), response.content
    drain_jobs()
    build = Build.objects.latest("created_at")
    assert build.class_names == ["1", "4", "7"] and build.parity_max_abs_diff <= 1e-3

    weak = other_model(user, drain_jobs, small_model.dataset, small_digits16_weights)
    response = alice_write.post("/api/builds/patch/", {"model": weak.pk, "module": modules[7].pk,
                                                       "calibration": "minmax"}, format="json")
    assert response.status_code in (200, 202), response.content
    drain_jobs()
    patched = Build.objects.latest("created_at")
    assert patched.kind == "patch" and patched.calibration == "minmax" and patched.metrics["class"] == "7"


@pytest.mark.django_db(transaction=True)
def test_bad_cnnsplitter_requests_are_400_with_nothing_written(alice_write, small_model):
    url = f"/api/models/{small_model.pk}/decompose/"
    before = written()
    cases = [
        ({"preset": "turbo"}, "preset", "unknown CNNSplitter preset 'turbo'"),
        ({"overrides": {"elites": 200}}, "overrides", "elites (200) must be fewer than population"),
        ({"overrides": {"thresholds": [0.9, 2]}}, "overrides", "thresholds must lie in [0, 1]"),
        ({"overrides": {"mutaton": 0.1}}, "overrides", "unknown CNNSplitter setting"),
        ({"overrides": {"generations": "many"}}, "overrides", "generations must be an integer"),
    ]
    for body, field, message in cases:
        error = assert_error(alice_write.post(url, {"method": "cnnsplitter", **body}, format="json"), 400, "invalid")
        assert error["details"]["field"] == field and message in error["message"], error
    assert written() == before
    error = assert_error(alice_write.post("/api/builds/patch/", {"model": small_model.pk, "module": 1,
                                                                  "calibration": "maxmin"}, format="json"), 400)
    assert "calibration" in str(error)
