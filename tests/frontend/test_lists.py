"""Lists a new user reads first (#18.10, #18.11): models with their test accuracy and a sort by it, live job lists
that name what each job is for and how long it ran, running jobs first on the home page, and a home page that
says the demo models are being prepared instead of "No models yet"; a local favicon."""
import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

import factories as f
from modules_registry.models import Job

pytestmark = pytest.mark.django_db


def test_models_list_shows_test_accuracy_and_sorts_by_it(client, user, hub):
    weaker = f.make_model(user, hub["dataset"], name="digits-weaker")
    f.make_evaluation(user, weaker, accuracy=0.612)
    f.make_model(user, hub["dataset"], name="digits-unevaluated")
    html = client.get(reverse("frontend:model_list"), {"sort": "accuracy"}).content.decode()
    assert "Test accuracy" in html and "94.7 %" in html and "61.2 %" in html
    order = [html.index(name) for name in ("digits-simcnn", "digits-weaker", "digits-unevaluated")]
    assert order == sorted(order), "best accuracy first, models without a test evaluation last"
    assert '<option value="accuracy" selected>' in html


def test_home_lists_running_jobs_before_newer_queued_ones(alice_client, user):
    running = f.make_job(user, Job.Kind.DECOMPOSE, status="running", started_at=timezone.now())
    queued = [f.make_job(user, Job.Kind.BUILD) for _ in range(6)]  # newer than the running one
    html = alice_client.get(reverse("frontend:home")).content.decode()
    section = html[html.index('id="jobs-h"'):]
    assert f'href="/jobs/{running.pk}/"' in section
    assert section.index(f"/jobs/{running.pk}/") < section.index(f"/jobs/{queued[-1].pk}/")


def test_job_table_names_the_model_shows_a_duration_and_polls_while_a_job_runs(alice_client, user, hub):
    started = timezone.now() - datetime.timedelta(seconds=40)
    done = f.make_job(user, Job.Kind.EVALUATE, status="succeeded", params={"model": hub["model"].pk},
                      started_at=started, finished_at=started + datetime.timedelta(seconds=11), progress=1.0)
    f.make_job(user, Job.Kind.DECOMPOSE, status="running", params={"model": hub["private"].pk},
               started_at=started)
    html = alice_client.get(reverse("frontend:job_list")).content.decode()
    assert f'<a href="/models/{hub["model"].pk}/">digits-simcnn</a>' in html
    assert f"model #{hub['private'].pk}" in html and "bobs-secret" not in html  # bob's private model stays unnamed
    assert '<td class="num">11 s</td>' in html and "0 minutes" not in html
    assert 'hx-trigger="every 2s"' in html and 'hx-select="#job-table"' in html
    Job.objects.exclude(pk=done.pk).update(status="cancelled", finished_at=timezone.now())
    assert 'hx-trigger="every 2s"' not in alice_client.get(reverse("frontend:job_list")).content.decode()


def test_anonymous_home_says_models_are_being_prepared_while_they_train(client, user):
    f.make_job(user, Job.Kind.TRAIN, params={"name": "demo-simcnn", "visibility": "public"})
    f.make_job(user, Job.Kind.TRAIN, params={"name": "secret", "visibility": "private"})
    html = client.get(reverse("frontend:home")).content.decode()
    assert "1 model is being trained" in html and "No models yet" not in html and "secret" not in html
    Job.objects.update(status="failed", finished_at=timezone.now())
    assert "No models yet" in client.get(reverse("frontend:home")).content.decode()


def test_favicon_is_served_locally(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert 'rel="icon"' in client.get("/").content.decode()


def test_a_finished_jobs_page_gives_its_duration_in_seconds(alice_client, user):
    started = timezone.now() - datetime.timedelta(minutes=5)
    job = f.make_job(user, Job.Kind.BUILD, status="succeeded", started_at=started,
                     finished_at=started + datetime.timedelta(seconds=11), progress=1.0)
    html = alice_client.get(reverse("frontend:job_detail", args=[job.pk])).content.decode()
    assert '(took <span id="job-duration">11 s</span>)' in html and "0 minutes" not in html
