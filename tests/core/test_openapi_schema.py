from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import requests
import schemathesis
import yaml
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from risks import controls
from risks import services as risk_services
from tests.records import one_of_each


def test_the_schema_validates_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    assert "/api/v1/models/{name}/versions/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_docs_page_is_served_without_any_cdn(db):
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in asset for asset in assets)
    assert all(asset.startswith("/static/") for asset in assets), assets


# --- Every answer matches the schema, even with the optional relations empty ------------------


def openapi_schema() -> schemathesis.BaseSchema:
    """The schema exactly as /api/schema/ serves it, loaded by the validator the fuzz test uses."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))


def conforms(schema, template: str, method: str, response) -> None:
    """Raise (with every mismatch named) unless `response` is what the schema documents for it."""
    request = requests.Request(method, f"http://testserver{response.wsgi_request.get_full_path()}").prepare()
    schema[template][method].validate_response(
        schemathesis.Response(
            status_code=response.status_code,
            headers={name: [value] for name, value in response.headers.items()},
            content=b"".join(response.streaming_content) if response.streaming else response.content,
            request=request,
            elapsed=0.0,
            verify=False,
        )
    )


@pytest.fixture
def sparse_records(engineer, compliance, registered_model):
    """One record of every kind the API reads, each with its optional relations left empty."""
    records = one_of_each(model=registered_model, engineer=engineer, compliance=compliance)
    risk_services.risk_accept(
        risk=records.risk, actor=compliance, rationale="Within appetite", expires_at=timezone.now() + timedelta(days=90)
    )
    controls.document_evidence_add(
        control=records.control,
        actor=compliance,
        title="Q1 review",
        url="https://wiki.example.com/q1",
        period_start=date.today() - timedelta(90),
        period_end=date.today(),
        reviewer=compliance,
        verdict="effective",
    )
    controls.metric_check_create(
        control=records.control,
        actor=compliance,
        metric="refusal_rate",
        minimum=0.02,
        watched_models=[registered_model],
    )
    controls.metric_checks_evaluate()
    return records.path_parameters()


def test_it_answers_every_read_as_its_schema_says_with_empty_relations(api, compliance, sparse_records):
    schema = openapi_schema()
    client = api(compliance)
    read = []

    for operation in schema.get_all_operations():
        operation = operation.ok()
        if operation.method.upper() != "GET":
            continue
        resource = operation.path.split("/")[3]
        params = {**sparse_records, "reference": sparse_records.get(resource)}
        path = re.sub(r"\{(\w+)\}", lambda m, params=params: str(params[m.group(1)]), operation.path)
        response = client.get(path)

        assert response.status_code == 200, (path, response.content[:300])
        conforms(schema, operation.path, "GET", response)
        read.append(operation.path)

    assert len(read) >= 25, read  # every read endpoint, not a lucky few


def test_its_error_answers_are_documented(api, compliance, engineer, registered_model):
    schema = openapi_schema()

    for template, path, client, status in (
        ("/api/v1/models/", "/api/v1/models/?cursor=not-a-cursor", api(compliance), 400),
        ("/api/v1/models/", "/api/v1/models/", api(None), 401),
        ("/api/v1/reports/", "/api/v1/reports/", api(engineer), 403),
        ("/api/v1/models/{name}/", "/api/v1/models/no-such-model/", api(compliance), 404),
    ):
        response = client.get(path)

        assert response.status_code == status, (path, response.content)
        conforms(schema, template, "GET", response)


def test_every_operation_documents_the_shared_errors():
    schema = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))

    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for code in ("400", "401", "403", "404", "413", "414", "415", "429"):
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, code)
            assert "Retry-After" in responses["429"]["headers"], (method, path)
