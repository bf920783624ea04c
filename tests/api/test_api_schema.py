"""The OpenAPI schema validates without warnings; Swagger UI is served from local files."""
import io

import pytest
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=io.StringIO())
    text = out.read_text()
    for path in ("/api/modules/", "/api/models/{id}/decompose/", "/api/builds/{id}/onnx/", "/api/jobs/{id}/cancel/"):
        assert f"{path}:" in text, path
    assert "apiToken" in text and "#/components/schemas/Error" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(anon):
    schema = anon.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    docs = anon.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn." not in html and "/static/drf_spectacular_sidecar/" in html
