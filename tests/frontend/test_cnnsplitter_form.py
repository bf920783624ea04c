"""The decompose form accepts CNNSplitter and shows a bad CNNSplitter setting beside the overrides field."""
import pytest
from django.urls import reverse

from modules_registry.models import Job

pytestmark = pytest.mark.django_db


def test_decompose_form_starts_a_cnnsplitter_job_and_refuses_bad_settings(alice_client, hub):
    url = reverse("frontend:model_decompose", args=[hub["model"].pk])
    response = alice_client.post(url, {"dec-method": "cnnsplitter", "dec-preset": "fast",
                                       "dec-overrides": '{"elites": 500}', "dec-seed": "0", "dec-device": "cpu"})
    assert response.status_code == 400 and "elites (500) must be fewer than population" in response.content.decode()
    assert not Job.objects.filter(kind="decompose").exists()
    response = alice_client.post(url, {"dec-method": "cnnsplitter", "dec-preset": "paper",
                                       "dec-overrides": '{"generations": 5}', "dec-seed": "2", "dec-device": "cpu"})
    job = Job.objects.get(kind="decompose")
    assert response.status_code == 302 and job.params["method"] == "cnnsplitter"
    assert job.params["config"]["generations"] == 5 and job.params["config"]["population"] == 100
