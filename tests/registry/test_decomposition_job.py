"""A decomposition as a hub job: rows with lineage on success, nothing on failure or cancel."""
import json

import pytest
import torch
from safetensors.torch import load as load_safetensors

from modules_registry import blobs
from modules_registry.errors import HubError
from modules_registry.models import Blob, Decomposition, Module
from modules_registry.services.decompositions import start_decomposition
from splitter_engine.data import load_builtin
from splitter_engine.extraction import load_module

QUICK = {"cycles": 2, "warmup_head_epochs": 1, "refit_head_epochs": 2}


@pytest.mark.django_db(transaction=True)
def test_decomposition_writes_a_row_and_one_standalone_module_per_class(user, small_model, drain_jobs):
    job = start_decomposition(owner=user, model=small_model, preset="fast", overrides=QUICK, seed=3)
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    decomposition = Decomposition.objects.get(pk=job.result["decomposition"])
    assert decomposition.base_model == small_model and decomposition.job == job and decomposition.seed == 3
    assert decomposition.history and 0 < decomposition.mean_kernel_retention < 1
    modules = list(Module.objects.filter(decomposition=decomposition).order_by("class_index"))
    assert [m.class_name for m in modules] == small_model.class_names
    for module in modules:
        assert module.kept_kernels < module.total_kernels and module.params_fraction < 1
        assert module.scoring == "head" == json.loads(blobs.read_bytes(module.spec))["scoring"]["kind"]
    # A module's files alone rebuild it, and it scores its own class highest on its class's images.
    module = modules[4]
    network = load_module(json.loads(blobs.read_bytes(module.spec)), load_safetensors(blobs.read_bytes(module.weights)))
    data = load_builtin("digits-16")
    x, y = data.tensors("test")
    with torch.no_grad():
        scores = network(x).flatten()
    assert scores[y == 4].mean() > scores[y != 4].mean() + 0.3


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_decomposition_writes_nothing(user, small_model, drain_jobs):
    job = start_decomposition(owner=user, model=small_model, overrides=QUICK)
    type(job).objects.filter(pk=job.pk).update(cancel_requested=True)
    blobs_before = Blob.objects.count()
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert Decomposition.objects.count() == 0 and Module.objects.count() == 0
    assert Blob.objects.count() == blobs_before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "turbo"}, "unknown GradSplitter preset"),
    ({"overrides": {"alpah": 0.2}}, "unknown GradSplitter setting"),
    ({"method": "magic"}, "method must be one of"),
    ({"seed": -1}, "seed must be between"),
])
def test_bad_decomposition_requests_are_refused(user, small_model, kwargs, message):
    with pytest.raises(HubError, match=message):
        start_decomposition(owner=user, model=small_model, **kwargs)


def test_the_registry_knows_every_scoring_kind_of_the_engine():
    from splitter_engine.scoring import KINDS

    assert set(Module.Scoring.values) == set(KINDS)
