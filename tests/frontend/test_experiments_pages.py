"""The Experiments page: who may start a run, what a bad request gets, and who sees a report (no run here; the
real runs are in tests/registry/test_experiments.py)."""
from __future__ import annotations

import pytest

import factories as f
from modules_registry.models import Experiment, Job

pytestmark = pytest.mark.django_db


def _experiment(owner, dataset, visibility="public"):
    claim = {"key": "reuse_concern", "experiment": "reuse", "claim": "reuse of concern modules vs training from scratch",
             "paper": -2.3, "paper_range": None, "unit": "points", "source": "Pan & Rajan", "values": [-1.0, -3.0],
             "ours": {"mean": -2.0, "std": 1.414, "min": -3.0, "max": -1.0, "n": 2}, "verdict": "reproduced (we lose less)"}
    return Experiment.objects.create(owner=owner, visibility=visibility, name="quick run", profile="quick",
                                     dataset=dataset, seeds=[1, 2], experiments=["reuse"], settings={"notes": ["n"]},
                                     report={"claims": [claim], "per_seed": {}, "images_per_point": 2.69}, seconds=600)


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
