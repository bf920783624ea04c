import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import create_token


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon():
    return APIClient()


def _client_with(user, scope):
    _, raw = create_token(user=user, name=f"{scope}-test", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw
    return client


@pytest.fixture
def alice_write(user):
    return _client_with(user, "write")


@pytest.fixture
def alice_read(user):
    return _client_with(user, "read")


@pytest.fixture
def bob_write(other_user):
    return _client_with(other_user, "write")
