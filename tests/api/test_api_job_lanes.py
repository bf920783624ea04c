"""#18.4: lanes. Short jobs wait in `fast`, long ones in `default`, GPU jobs in `gpu`; a queued job says its place
in its lane and a running one its time left, in the API and on the job page."""
from datetime import timedelta

import pytest
from django.utils import timezone

import factories as f
from django_tasks_db.models import DBTaskResult
from modules_registry.lanes import eta_seconds
from modules_registry.models import Job


@pytest.fixture
def lineage(user):
    return f.chain(user, tag="lanes")


def job_json(client, job_id):
    response = client.get(f"/api/jobs/{job_id}/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_short_jobs_get_the_fast_lane_and_long_ones_the_default_lane(lineage, alice_write, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.HUB_GPU_DEVICES = 1
    train = {"dataset": lineage.dataset.pk, "name": "t", "architecture": "simcnn", "arch_kwargs": {"width": 0.125}}
    with django_capture_on_commit_callbacks(execute=True):  # the enqueueing, once each job row is committed
        answers = {
            "train": alice_write.post("/api/models/train/", train, format="json"),
            "decompose": alice_write.post(f"/api/models/{lineage.model.pk}/decompose/", {}, format="json"),
            "evaluate": alice_write.post(f"/api/models/{lineage.model.pk}/evaluate/", {}, format="json"),
            "build": alice_write.post("/api/builds/compose/", {"modules": [m.pk for m in lineage.modules[1:]]},
                                      format="json"),
            "train on cuda": alice_write.post("/api/models/train/", {**train, "device": "cuda"}, format="json"),
            "evaluate on cuda": alice_write.post(f"/api/models/{lineage.model.pk}/evaluate/", {"device": "cuda"},
                                                 format="json"),
        }
    lanes = {}
    for what, response in answers.items():
        assert response.status_code == 202, (what, response.content)
        body = response.json()
        lanes[what] = (body.get("job") or body)["queue_name"]
    assert lanes == {"train": "default", "decompose": "default", "evaluate": "fast", "build": "fast",
                     "train on cuda": "gpu", "evaluate on cuda": "gpu"}
    # The task rows a worker claims from sit in the same lanes.
    assert {(j.queue_name, DBTaskResult.objects.get(id=j.task_id).queue_name) for j in Job.objects.all()} == {
        ("default", "default"), ("fast", "fast"), ("gpu", "gpu")}


@pytest.mark.django_db
def test_a_queued_job_says_its_place_in_its_lane(user, alice_write, client):
    fast = [f.make_job(user, Job.Kind.BUILD, queue_name="fast") for _ in range(3)]
    slow = f.make_job(user, Job.Kind.DECOMPOSE, queue_name="default")
    f.make_job(user, Job.Kind.EVALUATE, queue_name="fast", status="running", started_at=timezone.now())  # not queued
    listed = {j["id"]: j for j in alice_write.get("/api/jobs/").json()["results"]}
    assert [listed[j.pk]["queue_position"] for j in fast] == [1, 2, 3]
    assert listed[slow.pk]["queue_position"] == 1 and listed[slow.pk]["queue_name"] == "default"
    assert job_json(alice_write, fast[2].pk)["queue_position"] == 3
    Job.objects.filter(pk=fast[0].pk).update(status="cancelled", finished_at=timezone.now())
    assert job_json(alice_write, fast[2].pk)["queue_position"] == 2
    assert job_json(alice_write, fast[0].pk)["queue_position"] is None
    client.force_login(user)
    page = client.get(f"/jobs/{fast[1].pk}/").content.decode()
    assert 'id="job-queue-position">1 (next) in the fast lane' in page


@pytest.mark.django_db
def test_a_running_job_says_its_time_left_from_its_progress(user, alice_write, client):
    started = timezone.now() - timedelta(seconds=100)
    job = f.make_job(user, Job.Kind.DECOMPOSE, queue_name="default", status="running", started_at=started,
                     progress=0.25)
    body = job_json(alice_write, job.pk)
    assert body["queue_position"] is None
    assert body["eta_seconds"] == pytest.approx(300, abs=3)  # 100 s for a quarter: 300 s for the rest
    client.force_login(user)
    page = client.get(f"/jobs/{job.pk}/status/").content.decode()
    assert 'id="job-eta">about 5 min 0' in page
    Job.objects.filter(pk=job.pk).update(progress=0.01)  # too early to tell
    assert job_json(alice_write, job.pk)["eta_seconds"] is None
    assert "job-eta" not in client.get(f"/jobs/{job.pk}/status/").content.decode()
    job.refresh_from_db()
    assert eta_seconds(job) is None
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress=1.0, finished_at=timezone.now())
    assert job_json(alice_write, job.pk)["eta_seconds"] is None
