"""The job page polls while the job runs and stops polling once it has ended; cancel works."""
import pytest
from django.urls import reverse
from django.utils import timezone

from factories import make_job
from modules_registry.models import Job

pytestmark = pytest.mark.django_db


def _job(owner, **fields):
    return make_job(owner, Job.Kind.DECOMPOSE, params={"model": 1}, **fields)


def test_a_running_job_polls_its_status(alice_client, user):
    job = _job(user, status="running", progress=0.4, stage="search", message="epoch 2/5",
               started_at=timezone.now(), log="epoch 1\nepoch 2\n")
    html = alice_client.get(reverse("frontend:job_detail", args=[job.pk])).content.decode()
    assert f'hx-get="{reverse("frontend:job_status", args=[job.pk])}"' in html and 'hx-trigger="every 1s"' in html
    assert 'value="0.4"' in html and "epoch 2/5" in html and "Cancel job" in html
    partial = alice_client.get(reverse("frontend:job_status", args=[job.pk])).content.decode()
    assert partial.lstrip().startswith("<section") and "<html" not in partial


def test_an_ended_job_stops_polling_and_links_its_result(alice_client, user, hub):
    job = _job(user, status="succeeded", progress=1.0, started_at=timezone.now(), finished_at=timezone.now(),
               result={"decomposition": hub["decomposition"].pk})
    partial = alice_client.get(reverse("frontend:job_status", args=[job.pk])).content.decode()
    assert "hx-get" not in partial and "hx-trigger" not in partial
    assert reverse("frontend:decomposition_detail", args=[hub["decomposition"].pk]) in partial
    assert "Cancel job" not in partial


def test_a_failed_job_shows_its_error(alice_client, user):
    job = _job(user, status="failed", started_at=timezone.now(), finished_at=timezone.now(),
               error="the data set has no class 'cat'")
    html = alice_client.get(reverse("frontend:job_detail", args=[job.pk])).content.decode()
    assert "the data set has no class &#x27;cat&#x27;" in html and 'role="alert"' in html


def test_cancel_requests_cancellation(alice_client, user):
    job = _job(user, status="running", started_at=timezone.now())
    response = alice_client.post(reverse("frontend:job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.cancel_requested and job.status == "running" and "Cancellation requested" in response.content.decode()
    response = alice_client.post(reverse("frontend:job_cancel", args=[job.pk]), follow=True)
    assert response.status_code == 200


def test_cancel_of_a_queued_job_ends_it_at_once(alice_client, user):
    job = _job(user)
    response = alice_client.post(reverse("frontend:job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.finished_at is not None
    assert "was cancelled before it started" in response.content.decode()


def test_cancel_of_an_ended_job_says_why(alice_client, user):
    job = _job(user, status="succeeded", started_at=timezone.now(), finished_at=timezone.now())
    html = alice_client.post(reverse("frontend:job_cancel", args=[job.pk]), follow=True).content.decode()
    assert "already ended" in html


def test_job_list_filters_by_status_and_paginates(alice_client, user):
    for _ in range(22):
        _job(user)
    _job(user, status="failed", started_at=timezone.now(), finished_at=timezone.now())
    html = alice_client.get(reverse("frontend:job_list")).content.decode()
    assert "Page 1 of 2" in html
    html = alice_client.get(reverse("frontend:job_list"), {"status": "failed"}).content.decode()
    assert html.count('class="badge failed"') == 1
