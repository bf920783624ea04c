"""Accounts: private entries are 404 to everyone but their owner; writes need a login; CSRF everywhere."""
import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _private_urls(hub):
    model, decomposition = hub["private"], hub["private_decomposition"]
    module = decomposition.modules.first()
    return [reverse("frontend:model_detail", args=[model.pk]),
            reverse("frontend:model_download", args=[model.pk]),
            reverse("frontend:decomposition_detail", args=[decomposition.pk]),
            reverse("frontend:decomposition_download", args=[decomposition.pk]),
            reverse("frontend:module_detail", args=[module.pk]),
            reverse("frontend:module_download", args=[module.pk, "weights"])]


def test_private_entries_are_404_for_another_user_and_anonymous(client, user, hub):
    for url in _private_urls(hub):
        assert client.get(url).status_code == 404, url
    client.force_login(user)
    for url in _private_urls(hub):
        assert client.get(url).status_code == 404, url
    for name in ("frontend:model_list", "frontend:module_list", "frontend:decomposition_list"):
        assert "bobs-secret" not in client.get(reverse(name)).content.decode()


def test_the_owner_sees_private_entries(client, other_user, hub):
    client.force_login(other_user)
    for url in _private_urls(hub):
        assert client.get(url).status_code == 200, url
    assert "bobs-secret" in client.get(reverse("frontend:model_list")).content.decode()


def test_another_users_job_is_404(client, user, other_user, hub):
    job = hub["private"].job
    client.force_login(user)
    assert client.get(reverse("frontend:job_detail", args=[job.pk])).status_code == 404
    assert client.post(reverse("frontend:job_cancel", args=[job.pk])).status_code == 404


@pytest.mark.parametrize("name", ["frontend:dataset_new", "frontend:model_new", "frontend:model_train",
                                  "frontend:job_list"])
def test_write_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_actions_need_a_login(client, hub):
    response = client.post(reverse("frontend:model_decompose", args=[hub["model"].pk]), {"dec-method": "gradsplitter"})
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_login_and_logout(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    assert "Signed in as" in client.get(reverse("frontend:home")).content.decode()
    client.post(reverse("logout"))
    assert "Log in" in client.get(reverse("frontend:home")).content.decode()


def test_wrong_password_says_so(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()


def test_forms_carry_csrf_tokens_and_posts_without_one_are_refused(user, hub):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    for url in (reverse("frontend:dataset_new"), reverse("frontend:model_new"), reverse("frontend:model_train"),
                reverse("frontend:model_detail", args=[hub["model"].pk])):
        html = browser.get(url).content.decode()
        assert html.count("<form") == html.count("csrfmiddlewaretoken") + html.count('method="get"'), url
    response = browser.post(reverse("frontend:model_decompose", args=[hub["model"].pk]), {"dec-method": "gradsplitter"})
    assert response.status_code == 403
