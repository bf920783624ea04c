"""/api/experiments/: start a run (202 and a job), bad requests (400 naming the field, nothing queued), and reports
visible as their rows are."""
from __future__ import annotations

import pytest

import factories as f
from api_helpers import assert_error
from modules_registry.models import Experiment, Job

pytestmark = pytest.mark.django_db


def _report(owner, dataset, visibility="public"):
    return Experiment.objects.create(
        owner=owner, visibility=visibility, name="run", profile="quick", dataset=dataset, seeds=[1, 2, 3],
        experiments=["methods"], settings={}, seconds=1.0,
        report={"claims": [{"key": "kernels_gs_vs_cs", "paper": 19.88, "ours": None, "verdict": "not run"}],
                "per_seed": {}, "images_per_point": 2.69})


def test_post_starts_one_job(alice_write, user):
    dataset = f.make_dataset(user)
    response = alice_write.post("/api/experiments/", {"dataset": dataset.pk, "experiments": ["methods", "cost"],
                                                      "seeds": 3}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert response.json()["id"] == job.pk and job.kind == "reproduce"
    assert job.params["experiments"] == ["methods", "cost"] and job.params["seeds"] == [1, 2, 3]


@pytest.mark.parametrize("body, field", [
    ({"profile": "huge"}, "profile"), ({"experiments": ["nope"]}, "experiments"), ({"seeds": 0}, "seeds"),
    ({"seeds": "3"}, "seeds"), ({"classes": 2}, "classes"), ({"dataset": 99999}, "dataset")])
def test_bad_requests_name_the_field(alice_write, user, body, field):
    dataset = f.make_dataset(user)
    response = alice_write.post("/api/experiments/", {"dataset": dataset.pk, **body}, format="json")
    error = assert_error(response, 400)
    assert field in str(error), error
    assert not Job.objects.exists()


def test_anonymous_cannot_start_but_can_read_public_reports(anon, user, other_user):
    dataset = f.make_dataset(user)
    public, private = _report(user, dataset), _report(user, dataset, visibility="private")
    assert anon.post("/api/experiments/", {"dataset": dataset.pk}, format="json").status_code in (401, 403)
    listed = [e["id"] for e in anon.get("/api/experiments/").json()["results"]]
    assert listed == [public.pk]
    detail = anon.get(f"/api/experiments/{public.pk}/").json()
    assert detail["claims"][0]["paper"] == 19.88 and detail["report"]["images_per_point"] == 2.69
    assert_error(anon.get(f"/api/experiments/{private.pk}/"), 404)
