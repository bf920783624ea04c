"""The papers' experiments inside the hub: a tiny real run of every experiment (digits-16, 4 classes, 1-2 epochs,
short searches), its report filled from real registry rows, selection on validation data only, and a cancelled
run that leaves no report. The quick profile's figures come from `manage.py reproduce` (README)."""
from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

import factories as f
from modules_registry.errors import HubError
from modules_registry.experiments import profiles
from modules_registry.models import BaseModel, Build, Decomposition, Evaluation, Experiment, Job, Module
from modules_registry.selectors import module_spec
from modules_registry.services.experiments import start_experiment
from modules_registry.services.jobs import inline_jobs
from modules_registry.tasks import run_here

pytestmark = pytest.mark.django_db(transaction=True)

SGD = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "lr_schedule": "cosine", "batch_size": 16}
TINY = replace(
    profiles.QUICK, architecture="rescnn", arch_kwargs={"width": 0.125}, train={**SGD, "epochs": 3},
    small_architecture="simcnn", small_kwargs={"width": 0.0625}, small_train={**SGD, "epochs": 1},
    short_train={**SGD, "epochs": 1, "lr": 0.005},
    methods={"gradsplitter": ("fast", {"cycles": 1, "warmup_head_epochs": 1, "refit_head_epochs": 1,
                                       "early_stop_patience": 1}),
             "cnnsplitter": ("fast", {"generations": 2, "population": 8, "parents": 4, "elites": 2,
                                      "sensitivity_ratios": [0.5], "keep_min": 4, "keep_max": 16}),
             "concern": ("sliced", {"confidence": 0.5})},
    # unskewed subsets: on 4 classes a Dirichlet draw can leave a class with a handful of images, and concern
    # identification then refuses the model (the quick profile's pool of ten absorbs that; a pool of two cannot)
    pool_models=2, pool_train={**SGD, "epochs": 3, "subsample": 0.7},
    pool_method=("concern", "sliced", {"confidence": 0.5}), reuse_methods=("concern",), device="cpu")

ROW_MODELS = {"model": BaseModel, "decomposition": Decomposition, "module": Module, "build": Build,
              "evaluation": Evaluation}


@pytest.fixture
def tiny_profile(monkeypatch):
    monkeypatch.setitem(profiles.PROFILES, "quick", TINY)


def _start(owner, dataset, **kwargs):
    with inline_jobs():
        return start_experiment(owner=owner, dataset=dataset, classes=4, **kwargs)


def _refs(value):
    if isinstance(value, dict):
        if set(value) >= {"kind", "id", "label"}:
            yield value
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


@pytest.mark.slow
def test_tiny_run_fills_the_report_from_real_rows(user, tiny_profile):
    dataset = f.make_dataset(user)
    job = _start(user, dataset, seeds=[1], experiments=["methods", "reuse", "cost"])
    run_here(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    experiment = Experiment.objects.get(pk=job.result["experiment"])
    report = experiment.report
    # every row the report names exists, belongs to the run's owner and was made by a step of this run
    refs = list(_refs(report))
    assert len(refs) > 15
    steps = set(Job.objects.filter(queue_name="inline").values_list("pk", flat=True))
    for ref in refs:
        row = ROW_MODELS[ref["kind"]].objects.get(pk=ref["id"])
        assert row.owner_id == user.pk and row.job_id in steps
    seed = report["per_seed"]["1"]
    for row in seed["methods"]["rows"]:  # figures are the rows' own
        decomposition = Decomposition.objects.get(pk=row["decomposition"]["id"])
        assert row["composed_accuracy"] == decomposition.composed_accuracy
        assert row["kernels_kept"] == decomposition.mean_kernel_retention
        assert decomposition.base_model_id == seed["methods"]["base_model"]["id"]
    assert {(r["method"], r["preset"]) for r in seed["methods"]["rows"]} == {
        ("gradsplitter", "fast"), ("cnnsplitter", "fast"), ("concern", "sliced"), ("concern", "paper")}
    for row in seed["reuse"]["rows"]:
        build = Build.objects.get(pk=row["build"]["id"])
        assert row["composed_accuracy"] == build.metrics["accuracy"]
        assert build.class_names == dataset.class_names[:4]
    (pair,) = seed["reuse"]["pairs"]  # the papers' task: one class of each half model vs scratch on those two
    build, scratch = Build.objects.get(pk=pair["build"]["id"]), BaseModel.objects.get(pk=pair["scratch_model"]["id"])
    assert build.class_names == scratch.class_names == pair["classes"]
    assert pair["classes"][0] in dataset.class_names[:2] and pair["classes"][1] in dataset.class_names[2:4]
    assert pair["test_images"] == sum(c["support"] for c in build.metrics["per_class"]) > 0
    claims = {c["key"]: c for c in report["claims"]}
    assert claims["reuse_concern"]["ours"]["n"] == 1 and claims["kernels_gs_vs_cs"]["ours"]["n"] == 1
    assert claims["pair_concern"]["one_image_points"] == round(100 / pair["test_images"], 3)
    assert claims["cost_ratio"]["ours"]["n"] == 1
    assert not {c["experiment"] for c in claims.values()} & {"patching", "accuracy"}  # not run: not claimed
    costs = {r["route"]: r for r in seed["cost"]["routes"]}
    assert costs["train from scratch"]["cpu_seconds"] > 0 and costs["reuse (concern)"]["seconds"] > 0
    _check_pages(experiment, user)


def _check_pages(experiment, user):
    """The report page links its figures to the rows; the exports carry the same claims and figures."""
    from django.test import Client
    from django.utils.html import escape

    client = Client()
    client.force_login(user)
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    decomposition = experiment.report["per_seed"]["1"]["methods"]["rows"][0]["decomposition"]["id"]
    assert f'href="/decompositions/{decomposition}/"' in page and "<svg" in page
    assert all(escape(c["claim"]) in page for c in experiment.report["claims"])
    markdown = client.get(f"/experiments/{experiment.pk}/report.md").content.decode()
    assert markdown.count("\n| ") == len(experiment.report["claims"]) + 1
    rows = list(csv.DictReader(io.StringIO(client.get(f"/experiments/{experiment.pk}/report.csv").content.decode())))
    assert {r["experiment"] for r in rows} == set(experiment.experiments)
    figure = next(r for r in rows if r["experiment"] == "reuse" and r["figure"] == "composed_accuracy")
    build_id = int(next(ref for ref in figure["rows"].split() if ref.startswith("build#"))[6:])
    assert float(figure["value"]) == Build.objects.get(pk=build_id).metrics["accuracy"]


@pytest.mark.slow
def test_selection_reads_validation_data_only(user, tiny_profile):
    dataset = f.make_dataset(user)
    job = _start(user, dataset, seeds=[2], experiments=["patching", "accuracy"])
    run_here(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    report = Experiment.objects.get(pk=job.result["experiment"]).report
    claims = {c["key"]: c for c in report["claims"]}
    assert not report["failures"], report["failures"]
    assert claims["patch_gs_f1"]["ours"]["n"] == 2 and claims["accuracy_gain"]["ours"]["n"] == 1  # two weak models
    assert claims["patch_gs_f1"]["one_image_points"] >= 100 / 60  # one image of a class with at most 60 test images
    seed = report["per_seed"]["2"]
    for row in seed["patching"]["rows"]:  # the weak class is the lowest F1 of an evaluation on val
        evaluation = Evaluation.objects.get(pk=row["validation"]["id"])
        assert evaluation.split == "val"
        assert row["target"] == min(evaluation.metrics["per_class"], key=lambda r: (r["f1"], r["name"]))["name"]
    accuracy = seed["accuracy"]
    best = max(accuracy["pool"], key=lambda p: p["val_accuracy"])
    assert accuracy["best_model"]["id"] == best["model"]["id"]
    for source in accuracy["sources"]:  # each class's module: the best validation F1 across the pool
        candidates = Module.objects.filter(class_name=source["class"], decomposition_id__in=[
            p["decomposition"]["id"] for p in accuracy["pool"] if p["decomposition"]])
        assert source["val_f1"] == max(module_spec(m)["val_f1"] for m in candidates)


@pytest.mark.slow
def test_cancelled_run_leaves_no_report(user, tiny_profile, monkeypatch):
    from modules_registry.experiments import steps

    dataset = f.make_dataset(user)
    job = _start(user, dataset, seeds=[1], experiments=["methods"])
    original = steps.Steps.train

    def train_then_cancel(self, *args, **kwargs):
        model = original(self, *args, **kwargs)
        Job.objects.filter(pk=self.parent.pk).update(cancel_requested=True)
        return model

    monkeypatch.setattr(steps.Steps, "train", train_then_cancel)
    run_here(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert not Experiment.objects.exists()
    assert Job.objects.filter(queue_name="inline", kind=Job.Kind.DECOMPOSE).count() <= 1
    assert not Job.objects.filter(queue_name="inline", status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).exists()


@pytest.mark.parametrize("kwargs, field", [
    ({"profile": "huge"}, "profile"), ({"experiments": ["methods", "nope"]}, "experiments"),
    ({"experiments": []}, "experiments"), ({"seeds": 0}, "seeds"), ({"seeds": [1, 1]}, "seeds"),
    ({"classes": 3}, "classes"), ({"classes": -1}, "classes"), ({"classes": 11}, "classes")])
def test_bad_requests_are_refused_before_anything_is_queued(user, kwargs, field):
    dataset = f.make_dataset(user)
    with pytest.raises(HubError) as caught:
        start_experiment(owner=user, dataset=dataset, **kwargs)
    assert caught.value.field == field
    assert not Job.objects.exists()


def test_a_failed_experiment_is_reported_and_the_others_still_count(user, monkeypatch):
    """One experiment's refused step (here: a stand-in that raises as Steps does) fails that experiment only."""
    from modules_registry.experiments import runner
    from modules_registry.job_runtime import JobInputError

    def refused(run):
        raise JobInputError("step 'decompose' was refused: no confident positives")

    def measured(run):
        return {"rows": [{"method": "concern", "difference_points": -1.5}], "replace": {"difference_points": 0.0}}

    monkeypatch.setitem(runner.RUNNERS, "methods", refused)
    monkeypatch.setitem(runner.RUNNERS, "reuse", measured)
    dataset = f.make_dataset(user)
    job = _start(user, dataset, seeds=[1, 2], experiments=["methods", "reuse"])
    run_here(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    report = Experiment.objects.get().report
    assert [(f["seed"], f["experiment"]) for f in report["failures"]] == [(1, "methods"), (2, "methods")]
    claims = {c["key"]: c for c in report["claims"]}
    assert claims["reuse_concern"]["ours"] == {"mean": -1.5, "std": 0.0, "min": -1.5, "max": -1.5, "n": 2}
    assert claims["kernels_gs_vs_cs"]["verdict"] == "not run"


@pytest.mark.parametrize("key, values, resolution, expected", [
    ("patch_gs_f1", [-4.0, 4.4], 3.7, "inconclusive (within noise, ±5.94 points)"),
    ("patch_gs_f1", [12.0, 14.0], 3.7, "reproduced (about the paper's size)"),
    ("patch_gs_f1", [30.0, 31.0], 3.7, "reproduced, larger effect"),
    ("patch_gs_f1", [-20.0, -18.0], 3.7, "not reproduced (opposite direction)"),
    ("reuse_gradsplitter", [-2.5, -2.5], 0.37, "reproduced (we lose about as much or less)"),
    ("reuse_gradsplitter", [0.0, 0.3], 0.37, "reproduced (no loss beyond noise)"),
    ("reuse_gradsplitter", [-6.0, -5.0], 0.37, "not reproduced (we lose more)"),
    ("accuracy_gain", [4.0, 5.0], 0.37, "reproduced (within the paper's range)"),
    ("accuracy_gain", [10.4, -2.6, 6.3], 0.37, "inconclusive (within noise, ±6.65 points)"),
    ("loss_gs_vs_cs", [3.0, 4.0], 0.37, "reproduced (GradSplitter loses less)"),
    ("loss_gs_vs_cs", [-0.2, 0.3], 0.37, "inconclusive (within noise, ±0.37 points)"),
    ("cost_ratio", [0.8], 0.0, "not reproduced (reuse is not cheaper)"),
])
def test_verdicts_weigh_the_spread_and_one_image(key, values, resolution, expected):
    from modules_registry.experiments.report import CLAIMS, summary, verdict

    claim = next(c for c in CLAIMS if c.key == key)
    assert verdict(claim, summary(values), resolution) == expected
