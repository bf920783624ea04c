"""Tokens: many per user, stored hashed, shown once, read/write scope, expiry, revocation; sessions need CSRF."""
import io
from datetime import timedelta

import pytest
from api_helpers import assert_error
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import APIToken
from accounts.services import create_token, hash_token, revoke_token

IMPORT = ("/api/datasets/import/", {"builtin": "digits-16", "name": "d16"})


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.django_db
def test_tokens_are_stored_hashed_and_many_per_user(user):
    first, raw1 = create_token(user=user, name="laptop", scope="write")
    second, raw2 = create_token(user=user, name="ci")
    assert raw1 != raw2 and raw1.startswith("hub_") and len(raw1) > 40
    stored = APIToken.objects.get(pk=first.pk)
    assert stored.key_hash == hash_token(raw1) and raw1 not in str(APIToken.objects.values())
    assert stored.prefix == raw1[:12] and second.scope == "read"


@pytest.mark.django_db
def test_scopes(alice_read, alice_write, anon):
    assert alice_read.get("/api/jobs/").status_code == 200
    assert_error(alice_read.post(*IMPORT, format="json"), 403, "insufficient_scope")
    response = anon.post(*IMPORT, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = alice_write.post(*IMPORT, format="json")
    assert response.status_code == 202, response.content
    assert response["Location"].endswith(f"/api/jobs/{response.json()['id']}/")


@pytest.mark.django_db
def test_expired_revoked_and_unknown_tokens_are_401(user):
    token, raw = create_token(user=user, name="short", scope="write", expires_in_days=1)
    assert bearer(raw).get("/api/jobs/").status_code == 200
    APIToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(bearer(raw).get("/api/jobs/"), 401, "authentication_failed")
    token, raw = create_token(user=user, name="gone", scope="write")
    revoke_token(user=user, token_id=token.pk)
    assert_error(bearer(raw).get("/api/models/"), 401, "authentication_failed")
    for bad in ("hub_nonsense", "x" * 500, "hub_é"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {bad}")
        assert_error(client.get("/api/models/"), 401, "authentication_failed")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer")
    assert_error(client.get("/api/models/"), 401, "authentication_failed")


@pytest.mark.django_db
def test_last_used_is_recorded(user):
    token, raw = create_token(user=user, name="t")
    bearer(raw).get("/api/models/")
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_session_writes_need_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/jobs/").status_code == 200
    assert_error(client.post(*IMPORT, format="json"), 403, "permission_denied")
    client.get("/accounts/tokens/")  # any page that sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    assert client.post(*IMPORT, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 202


@pytest.mark.django_db
def test_create_token_command_prints_the_token_once(user):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", "alice", "--name", "script", "--scope", "write", "--expires-days", "30",
                 stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = APIToken.objects.get(name="script")
    assert token.key_hash == hash_token(raw) and token.scope == "write" and token.expires_at
    assert "shown only now" in err.getvalue()
    assert bearer(raw).post(*IMPORT, format="json").status_code == 202


@pytest.mark.django_db
def test_token_page_creates_shows_once_and_revokes(client, user, other_user):
    assert client.get("/accounts/tokens/").status_code == 302  # login first
    client.force_login(user)
    posted = client.post("/accounts/tokens/", {"name": "notebook", "scope": "write", "expires_in_days": ""})
    assert posted.status_code == 302 and posted["Location"] == "/accounts/tokens/"  # POST/redirect/GET
    response = client.get(posted["Location"])
    token = APIToken.objects.get(user=user, name="notebook")
    raw = response.context["created"]["raw"]
    assert hash_token(raw) == token.key_hash and raw in response.content.decode()
    listing = client.get("/accounts/tokens/").content.decode()  # a reload: no new token, the raw one is gone
    assert APIToken.objects.filter(user=user).count() == 1
    assert "notebook" in listing and raw not in listing and token.prefix in listing
    assert client.post("/accounts/tokens/", {"name": "", "scope": "admin"}).status_code == 400
    # Someone else's token cannot be revoked from your page.
    theirs, _ = create_token(user=other_user, name="bobs")
    client.post(f"/accounts/tokens/{theirs.pk}/revoke/")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_error(bearer(raw).get("/api/models/"), 401)
