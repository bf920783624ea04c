"""The Experiments page: who may start a run, what a bad request gets, and who sees a report (no run here; the
real runs are in tests/registry/test_experiments.py)."""
from __future__ import annotations

import pytest

import factories as f
from modules_registry.models import Experiment, Job

pytestmark = pytest.mark.django_db


def _experiment(owner, dataset, visibility="public", per_seed=None):
    claim = {"key": "reuse_concern", "experiment": "reuse", "claim": "reuse of concern modules vs training from scratch",
             "paper": -2.3, "paper_range": None, "unit": "points", "source": "Pan & Rajan", "values": [-1.0, -3.0],
             "ours": {"mean": -2.0, "std": 1.414, "min": -3.0, "max": -1.0, "n": 2}, "verdict": "reproduced (we lose less)"}
    return Experiment.objects.create(owner=owner, visibility=visibility, name="quick run", profile="quick",
                                     dataset=dataset, seeds=[1, 2], experiments=["reuse"], settings={"notes": ["n"]},
                                     report={"claims": [claim], "per_seed": per_seed or {}, "images_per_point": 2.69},
                                     seconds=600)


def test_anonymous_visitors_see_reports_but_no_form(client, user):
    experiment = _experiment(user, f.make_dataset(user))
    page = client.get("/experiments/").content.decode()
    assert f"/experiments/{experiment.pk}/" in page and "Log in</a> to start a run" in page
    detail = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "reuse of concern modules" in detail and "-2.00 ± 1.41" in detail and "<svg" in detail
    assert client.post("/experiments/start/").status_code == 302  # to the login page


def test_start_queues_one_job_and_bad_input_is_a_400(client, user):
    dataset = f.make_dataset(user)
    client.force_login(user)
    bad = client.post("/experiments/start/", {"exp-dataset": dataset.pk, "exp-profile": "quick",
                                              "exp-experiments": ["methods"], "exp-seeds": 1, "exp-classes": 3,
                                              "exp-visibility": "public"})
    assert bad.status_code == 400 and "choose 4 to 10" in bad.content.decode()
    assert not Job.objects.exists()
    good = client.post("/experiments/start/", {"exp-dataset": dataset.pk, "exp-profile": "quick",
                                               "exp-experiments": ["methods", "cost"], "exp-seeds": 3,
                                               "exp-classes": 0, "exp-visibility": "private"})
    job = Job.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == Job.Kind.REPRODUCE and job.queue_name == "default"
    assert job.params["experiments"] == ["methods", "cost"] and job.params["seeds"] == [1, 2, 3]
    assert job.params["visibility"] == "private"
    assert f"/jobs/{job.pk}/" in client.get("/experiments/").content.decode()  # listed as running


def test_private_report_is_hidden_from_others(client, user, other_user):
    experiment = _experiment(user, f.make_dataset(user), visibility="private")
    client.force_login(other_user)
    assert client.get(f"/experiments/{experiment.pk}/").status_code == 404
    assert client.get(f"/experiments/{experiment.pk}/report.csv").status_code == 404
    client.force_login(user)
    assert client.get(f"/experiments/{experiment.pk}/report.md").status_code == 200


def _ref(kind, pk, label="x"):
    return {"kind": kind, "id": pk, "label": label}


def _seed_results():
    """One seed's results in the shape the experiments write (figures made up; the real runs are elsewhere)."""
    patch = {"weak": "small net", "weak_model": _ref("model", 5), "validation": _ref("evaluation", 2),
             "target": "<b>3</b>", "method": "gradsplitter", "calibration": "linear", "module": _ref("module", 7),
             "build": _ref("build", 9), "target_support": 27, "other_accuracy_before": 0.5, "other_accuracy_after": 0.6,
             **{f"{stage}_{k}": 0.5 for stage in ("before", "control", "after") for k in ("precision", "recall", "f1")}}
    return {
        "methods": {"base_model": _ref("model", 1), "base_test_accuracy": 1.0, "rows": [
            {"method": "gradsplitter", "preset": "fast", "decomposition": _ref("decomposition", 4),
             "composed_accuracy": 0.99, "base_accuracy": 1.0, "loss_points": 1.0, "kernels_kept": 0.4,
             "params_fraction": 0.3, "flops_fraction": 0.5, "seconds": None, "cpu_seconds": None}]},
        "patching": {"strong_model": _ref("model", 1), "rows": [patch]},
        "reuse": {"rows": [{"method": "concern", "build": _ref("build", 10), "decompositions": [],
                            "half_models": [], "scratch_model": _ref("model", 1), "composed_accuracy": 0.9,
                            "scratch_accuracy": 0.95, "difference_points": -5.0}],
                  "replace": {"target": "1", "donor_model": _ref("model", 2), "module": _ref("module", 3),
                              "original": _ref("build", 11), "replaced": _ref("build", 12),
                              "original_accuracy": 0.9, "replaced_accuracy": 0.89, "difference_points": -1.0}},
        "accuracy": {"pool": [], "best_model": _ref("model", 1), "best_single_accuracy": 0.8, "sources": [],
                     "composed": _ref("build", 13), "composed_accuracy": 0.85, "one_model": _ref("build", 14),
                     "one_model_source": _ref("model", 1), "one_model_accuracy": 0.8, "gain_points": 5.0,
                     "models_used": 4, "models_decomposed": 9},
        "cost": {"scratch_model": _ref("model", 1), "energy_source": "none", "routes": [
            {"route": "train from scratch", "jobs": [1], "seconds": 10.0, "cpu_seconds": 18.0, "gpu_seconds": 0.0,
             "joules": None, "grams_co2e": None},
            {"route": "reuse (concern)", "jobs": [2], "seconds": 2.0, "cpu_seconds": 3.0, "gpu_seconds": 0.0,
             "joules": None, "grams_co2e": None, "speedup_vs_scratch": 6.0}]},
        "broken": {"error": "step 'x' was refused"},
    }


def test_every_table_renders_with_links_and_escaped_text(client, user):
    experiment = _experiment(user, f.make_dataset(user), per_seed={"1": _seed_results()})
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    for title in ("The three methods", "Patching weak models", "A new task from modules", "A more accurate model",
                  "Cost of each route"):
        assert title in page
    assert '<a href="/models/5/"' in page and '<a href="/builds/14/"' in page  # links inside text cells
    assert "&lt;b&gt;3&lt;/b&gt;" in page and "<b>3</b>" not in page  # a class name is data: escaped
    assert "6.0×" in page
