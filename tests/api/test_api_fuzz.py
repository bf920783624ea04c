"""Schemathesis fuzzes every operation against the schema: no 500s, responses conform to it.

Bounded: a handful of examples per operation (about 250 requests in all), no shrinking.
"""
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings
from werkzeug import Client
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from accounts.services import create_token

APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP)
# Valid and invalid requests (both generation modes). Not `negative_data_rejection`: list filters treat an
# empty value (`?kind=`) as "no filter", as HTML forms send it, which that check counts as accepting bad data.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ClosingClient(Client):
    """Reads each response whole and closes it, as a WSGI server does, so that Django closes the request's
    temporary upload files: schemathesis leaves its werkzeug responses open (ResourceWarnings later)."""

    def open(self, *args, **kwargs):
        return super().open(*args, **{**kwargs, "buffered": True})


@pytest.fixture
def keep_connection():
    """The real WSGI handler closes the DB connection after each request; the test's transaction needs it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def write_header(db, keep_connection):
    from factories import chain, make_user
    user = make_user("fuzzer")
    chain(user, tag="fuzz")  # something to find behind the small ids the fuzzer tries
    _, raw = create_token(user=user, name="fuzz", scope="write")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, write_header):
    cache.clear()  # throttles: each example starts with a fresh allowance
    case.call_and_validate(session=ClosingClient(APP), headers=write_header, checks=CHECKS)
