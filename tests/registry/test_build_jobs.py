"""Builds in the hub: services validate and cache, the worker composes/patches, exports and writes the rows."""
import hashlib
import json
import time

import numpy as np
import pytest
import torch
from django.utils import timezone

from modules_registry import blobs
from modules_registry.errors import HubError
from modules_registry.models import Build, Job, Visibility
from modules_registry.services import builds as build_service
from modules_registry.services import registration
from splitter_engine.data.packed import pack
from splitter_engine.onnx_export import read_metadata, session
from splitter_engine.profile import model_size
from splitter_engine.weights import state_dict_to_safetensors
from composition_support import decomposed, digits

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]  # every test trains (composition_support)


def _dataset(owner):
    data = digits()
    return registration.register_dataset(
        owner=owner, job=None, name="digits-16", description="", source="builtin", visibility="public",
        class_names=data.class_names, input_spec=data.spec.to_dict(),
        class_counts={s: data.class_counts(s) for s in data.splits}, split_seed=0, packed_arrays=pack(data),
        archive=None)


def _model_with_modules(owner, dataset, name, source=None, visibility="public", input_spec=None):
    """A base model row and its module rows, from a trained model and its extracted modules (``source``: the
    keyword arguments of composition_support.decomposed)."""
    model, spec, names, modules = decomposed(**(source or {}))
    size = model_size(model, digits().spec)
    row = registration.register_model(
        owner=owner, job=None, weights=state_dict_to_safetensors(model.state_dict()),
        media_type="application/safetensors", params_count=size.params, flops=size.flops,
        params={"name": name, "architecture": spec.name, "arch_kwargs": spec.kwargs, "class_names": names,
                "input_spec": input_spec or digits().spec.to_dict(), "dataset": dataset.pk, "visibility": visibility})
    meta = {"metrics": {"composed_accuracy": 0.9, "base_accuracy": 0.9,
                        "mean_retention": float(np.mean([m.kernel_fraction for m in modules]))},
            "history": [], "selected_epoch": 0, "method": "gradsplitter"}
    job = Job.objects.create(kind=Job.Kind.DECOMPOSE, owner=owner, status=Job.Status.SUCCEEDED,
                             started_at=timezone.now(), finished_at=timezone.now())
    decomposition = registration.register_decomposition(
        owner=owner, job=job, model=row, dataset=dataset, result_meta=meta, result_weights=b"masks",
        params={"method": "gradsplitter", "preset": "test-activation", "config": {"masks": "activation, hand-made"},
                "seed": 0, "visibility": visibility},
        modules=[{**m.record(), "weights": state_dict_to_safetensors(m.state_dict)} for m in modules])
    return row, {m.class_name: m for m in decomposition.modules.all()}


@pytest.fixture
def hub(user):
    dataset = _dataset(user)
    model, modules = _model_with_modules(user, dataset, "strong")
    return dataset, model, modules


def test_a_build_job_writes_the_build_with_lineage_and_a_checked_onnx_then_answers_from_cache(user, hub, drain_jobs):
    dataset, model, modules = hub
    pick = [modules[c] for c in ("7", "2", "5")]
    request = build_service.start_build(owner=user, modules=[m.pk for m in pick], strategy="ensemble")
    assert not request.cached and request.job.kind == Job.Kind.BUILD
    drain_jobs()
    job = Job.objects.get(pk=request.job.pk)
    assert job.status == "succeeded", job.error
    build = Build.objects.get(pk=job.result["build"])
    assert build.kind == "compose" and build.strategy == "ensemble" and build.job_id == job.pk
    assert build.class_names == ["7", "2", "5"]
    assert [(i.position, i.module_id, i.class_name) for i in build.items.all()] == \
        [(0, pick[0].pk, "7"), (1, pick[1].pk, "2"), (2, pick[2].pk, "5")]
    assert list(build.base_models.all()) == [model]
    assert 0 <= build.parity_max_abs_diff <= 1e-4
    data = blobs.read_bytes(build.onnx)
    assert hashlib.sha256(data).hexdigest() == build.onnx_id == job.result["onnx_sha256"]
    meta = read_metadata(data)
    lineage = json.loads(meta["lineage"])
    assert [e["sha256"] for e in lineage if e["role"] == "module"] == [m.weights_id for m in pick]
    assert [e["sha256"] for e in lineage if e["role"] == "base_model"] == [model.weights_id]
    assert json.loads(meta["class_names"]) == ["7", "2", "5"]
    # The served file scores the test images as the build's metrics say.
    x, y = [], []
    test = digits().splits["test"]
    for position, c in enumerate(build.class_names):
        idx = test[digits().labels[test] == int(c)]
        x.append(digits().normalise(digits().images[idx]))
        y += [position] * len(idx)
    logits = session(data).run(["logits"], {"input": torch.cat(x).numpy()})[0]
    assert (logits.argmax(1) == np.array(y)).mean() == pytest.approx(build.metrics["accuracy"], abs=1e-5)
    # what it costs beside the base model, measured by the job
    footprint = build.metrics["footprint"]
    assert footprint["build"]["onnx_bytes"] == len(data) and footprint["build"]["params"] == build.metrics["params"]
    assert footprint["bases"][0]["params"] > 0 and footprint["bases"][0]["latency_ms_b1"] > 0
    assert footprint["ratio"]["params"] == pytest.approx(build.metrics["params"] / footprint["bases"][0]["params"], abs=1e-4)

    jobs_before = Job.objects.count()
    started = time.perf_counter()
    again = build_service.start_build(owner=user, modules=[m.pk for m in pick], strategy="ensemble")
    elapsed = time.perf_counter() - started
    assert again.cached and again.build.pk == build.pk and again.job is None
    assert elapsed < 0.1 and Job.objects.count() == jobs_before
    other_order = build_service.start_build(owner=user, modules=[m.pk for m in reversed(pick)], strategy="ensemble")
    assert not other_order.cached


def test_a_request_already_queued_returns_its_job(user, hub):
    _, _, modules = hub
    first = build_service.start_build(owner=user, modules=[modules["1"].pk, modules["4"].pk], strategy="fused")
    second = build_service.start_build(owner=user, modules=[modules["1"].pk, modules["4"].pk], strategy="fused")
    assert second.job.pk == first.job.pk and not second.cached


def test_a_parity_failure_fails_the_job_and_writes_no_build(user, hub, drain_jobs, monkeypatch):
    import splitter_engine.onnx_export as onnx_export

    real = onnx_export.parity
    monkeypatch.setattr(onnx_export, "parity", lambda *a: (real(*a)[0] + 2e-4, "CPUExecutionProvider"))
    _, _, modules = hub
    request = build_service.start_build(owner=user, modules=[modules["0"].pk, modules["9"].pk], strategy="fused")
    drain_jobs()
    job = Job.objects.get(pk=request.job.pk)
    assert job.status == "failed"
    assert "differs from PyTorch" in job.error and "not kept" in job.error
    assert Build.objects.count() == 0


def test_patching_a_weak_model_records_class_metrics_before_and_after(user, hub, drain_jobs):
    dataset, strong, modules = hub
    # keywords as test_composition_calibration.py passes them: one cache entry, so a whole run trains it once
    weak, _ = _model_with_modules(user, dataset, "weak", source={"few_of": "3", "keep": 2})
    request = build_service.start_patch(owner=user, model=weak.pk, module=modules["3"].pk)
    drain_jobs()
    job = Job.objects.get(pk=request.job.pk)
    assert job.status == "succeeded", job.error
    build = Build.objects.get(pk=job.result["build"])
    assert build.kind == "patch" and build.calibration == "linear" and build.class_names == weak.class_names
    assert [(i.module_id, i.position) for i in build.items.all()] == [(modules["3"].pk, 3)]
    assert set(build.base_models.all()) == {weak, strong}
    before, after = build.metrics["before"], build.metrics["after"]
    assert after["f1"] > before["f1"]
    assert build_service.start_patch(owner=user, model=weak.pk, module=modules["3"].pk).build.pk == build.pk


def test_estimate_gives_both_strategies_before_building(user, hub):
    _, model, modules = hub
    pick = [modules[c] for c in ("0", "6")]
    estimate = build_service.estimate(user=user, modules=[m.pk for m in pick])
    assert estimate["ensemble"] == {"params": sum(m.params for m in pick), "flops": sum(m.flops for m in pick)}
    assert 0 < estimate["fused"]["flops"] <= model.flops
    assert estimate["calibration_recommended"] is False


def _error(call) -> HubError:
    with pytest.raises(HubError) as info:
        call()
    return info.value


def test_bad_build_requests_get_clear_errors(user, other_user, hub):
    dataset, model, modules = hub
    ids = {c: m.pk for c, m in modules.items()}
    start = lambda **kw: build_service.start_build(owner=user, **kw)  # noqa: E731

    err = _error(lambda: start(modules=[]))
    assert err.code == "no_classes" and "choose at least two classes" in str(err)
    err = _error(lambda: start(modules=[ids["4"]]))
    assert err.code == "no_classes" and "at least two classes" in str(err)
    err = _error(lambda: start(modules=[ids["4"], ids["5"], ids["4"]]))
    assert err.code == "duplicate_classes" and f"#{ids['4']}" in str(err)
    err = _error(lambda: start(modules=[ids["4"], ids["5"]], strategy="stacked"))
    assert err.field == "strategy"
    err = _error(lambda: start(modules=[ids["4"], ids["5"]], calibration="magic"))
    assert err.field == "calibration"
    err = _error(lambda: start(modules=[ids["4"], ids["5"]], refit=True))
    assert "fused strategy only" in str(err)

    other_dataset = _dataset(other_user)
    _, hidden = _model_with_modules(other_user, other_dataset, "hidden", visibility=Visibility.PRIVATE)
    err = _error(lambda: start(modules=[ids["4"], hidden["5"].pk]))
    assert err.code == "not_found" and f"#{hidden['5'].pk}" in str(err)

    # the same digit from two models: one class twice
    _, twin = _model_with_modules(user, dataset, "twin")
    err = _error(lambda: start(modules=[ids["4"], twin["4"].pk]))
    assert err.code == "duplicate_classes" and "'4'" in str(err)

    big = {**dataset.input_spec, "height": 32, "width": 32}
    _, large = _model_with_modules(user, dataset, "large", input_spec=big)
    err = _error(lambda: start(modules=[ids["4"], large["5"].pk]))
    assert err.code == "input_mismatch" and "1x32x32" in str(err)

    shifted = {**dataset.input_spec, "mean": [0.5]}
    _, other_norm = _model_with_modules(user, dataset, "shifted", input_spec=shifted)
    err = _error(lambda: start(modules=[ids["4"], other_norm["5"].pk]))
    assert err.code == "input_mismatch" and "adapt_inputs" in str(err)
    assert not start(modules=[ids["4"], other_norm["5"].pk], adapt_inputs=True).cached

    err = _error(lambda: start(modules=[ids["4"], ids["5"]], dataset=other_dataset.pk + 1000))
    assert err.code == "not_found" and err.field == "dataset"


def test_bad_patch_requests_get_clear_errors(user, hub):
    _, model, modules = hub
    err = _error(lambda: build_service.start_patch(owner=user, model=model.pk, module=modules["3"].pk))
    assert "comes from the model being patched" in str(err)
    err = _error(lambda: build_service.start_patch(owner=user, model=model.pk, module=modules["3"].pk, mode="add"))
    assert err.code == "class_mismatch" and "already has class '3'" in str(err)
    err = _error(lambda: build_service.start_patch(owner=user, model=model.pk + 99, module=modules["3"].pk))
    assert err.code == "not_found"
