from __future__ import annotations

import pytest

from registry.models import EvaluationResult, ModelVersion, VersionStatus
from tests.conftest import evaluation_payload, sha, version_payload


def url(model) -> str:
    return f"/api/v1/models/{model.name}/versions/"


def test_it_registers_a_draft_version_with_its_first_evaluation_inline(api, engineer, registered_model):
    payload = version_payload(version="v3.1", provider_job_id="ftjob-abc123", evaluations=[evaluation_payload()])

    response = api(engineer).post(url(registered_model), payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == "v3.1"
    assert body["status"] == VersionStatus.DRAFT
    assert body["training_file_sha256"] == payload["training_file_sha256"]
    assert body["provider_job_id"] == "ftjob-abc123"
    assert body["created_by"] == engineer.username
    [evaluation] = body["evaluations"]
    assert evaluation["metrics"]["win_rate"] == pytest.approx(0.61)
    assert evaluation["per_intent"] == {"billing": 0.64, "returns": 0.58}
    assert evaluation["baseline_version"] == "gpt-4.1-nano-2025-04-14"


def test_it_registers_a_version_without_evaluations_or_validation_file(api, engineer, registered_model):
    payload = version_payload()
    del payload["validation_file_sha256"]

    response = api(engineer).post(url(registered_model), payload, format="json")

    assert response.status_code == 201
    assert response.json()["validation_file_sha256"] == ""
    assert response.json()["evaluations"] == []


BAD_HASHES = [
    sha("x").upper(),  # uppercase
    sha("x")[:63],  # too short
    sha("x") + "0",  # too long
    "g" * 64,  # not hex
    12345,
]


# An empty validation hash means "no validation file" (see the test above); an empty training hash is an error.
@pytest.mark.parametrize(
    ("field", "bad_hash"),
    [
        ("training_file_sha256", ""),
        *[(f, h) for f in ("training_file_sha256", "validation_file_sha256") for h in BAD_HASHES],
    ],
)
def test_it_rejects_a_malformed_hash_naming_the_field(api, engineer, registered_model, field, bad_hash):
    response = api(engineer).post(url(registered_model), version_payload(**{field: bad_hash}), format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize("changelog", ["", "   ", None])
def test_it_requires_a_changelog(api, engineer, registered_model, changelog):
    response = api(engineer).post(url(registered_model), version_payload(changelog=changelog), format="json")

    assert response.status_code == 400
    assert "changelog" in response.json()["error"]["fields"]


def test_it_reports_unknown_and_invalid_fields_together(api, engineer, registered_model):
    payload = version_payload(status="production", training_file_sha256="nope")

    response = api(engineer).post(url(registered_model), payload, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "training_file_sha256"}


def test_it_refuses_a_duplicate_version_with_409(api, engineer, registered_model):
    client = api(engineer)
    payload = version_payload(version="v1")
    assert client.post(url(registered_model), payload, format="json").status_code == 201

    response = client.post(url(registered_model), version_payload(version="v1"), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"version": ["Already exists."]}
    assert ModelVersion.objects.filter(model=registered_model, version="v1").count() == 1
    assert ModelVersion.history.filter(version="v1").count() == 1


def test_it_allows_the_same_label_on_another_model(api, engineer, registered_model):
    from registry import services
    from tests.conftest import model_payload

    other = services.model_create(actor=engineer, **model_payload())
    client = api(engineer)

    assert client.post(url(registered_model), version_payload(version="v1"), format="json").status_code == 201
    assert client.post(url(other), version_payload(version="v1"), format="json").status_code == 201


def test_it_refuses_a_provider_job_already_registered(api, engineer, registered_model):
    client = api(engineer)
    client.post(url(registered_model), version_payload(provider_job_id="ftjob-1"), format="json")

    response = client.post(url(registered_model), version_payload(provider_job_id="ftjob-1"), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"provider_job_id": ["Already registered."]}


def test_it_keeps_nothing_when_an_inline_evaluation_is_invalid(api, engineer, registered_model):
    bad = evaluation_payload(metrics={"win_rate": 1.7})

    response = api(engineer).post(url(registered_model), version_payload(evaluations=[bad]), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"evaluations.0.metrics.win_rate": ["Must be within [0.0, 1.0]."]}
    assert not ModelVersion.objects.exists()
    assert not ModelVersion.history.exists()
    assert not EvaluationResult.objects.exists()


def test_it_refuses_versions_of_a_retired_model(api, engineer, compliance, registered_model):
    api(compliance).patch(f"/api/v1/models/{registered_model.name}/", {"is_retired": True}, format="json")

    response = api(engineer).post(url(registered_model), version_payload(), format="json")

    assert response.status_code == 409


def test_it_gets_one_version_with_its_evaluations(api, executive, registered_version):
    model = registered_version.model

    response = api(executive).get(f"{url(model)}{registered_version.version}/")

    assert response.status_code == 200
    assert response.json()["version"] == registered_version.version
    assert len(response.json()["evaluations"]) == 1


def test_it_answers_404_for_an_unknown_version(api, engineer, registered_model):
    response = api(engineer).get(f"{url(registered_model)}v404/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_registers_with_an_inline_evaluation_in_a_fixed_number_of_statements(api, engineer, registered_model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(engineer)
    two_evaluations = [evaluation_payload(), evaluation_payload(suite="safety")]
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(registered_model), version_payload(evaluations=two_evaluations), format="json")

    assert response.status_code == 201
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    reads = [s for s in statements if s == "SELECT"]
    writes = [s for s in statements if s == "INSERT"]
    claims = [q for q in queries.captured_queries if "UPDATE core_chainhead" in q["sql"]]
    # the token with its user, roles and the auth epoch (one query: core.auth_cache), the model, its base
    # model in the catalogue, its data card; on PostgreSQL also the three ids (core.audit.create_tracked)
    assert len(reads) == (5 if connection.vendor == "postgresql" else 4)
    assert len(claims) == 1  # the audit chain's head, claimed once for the three history rows
    if connection.vendor == "postgresql":
        # one INSERT per table: the version, its evaluations, their history rows in two tables
        assert len(writes) == 4
    else:
        # the version, each evaluation, the version's history row, the evaluations' history rows (one statement)
        assert len(writes) == 5


def test_it_refuses_a_hash_with_a_trailing_newline_even_past_the_api(engineer, registered_model):
    # Regression: a `$`-anchored pattern accepted "<64 hex>\n".
    from core.errors import ValidationFailed
    from registry import services

    with pytest.raises(ValidationFailed) as raised:
        services.version_register(
            model=registered_model, actor=engineer, **version_payload(training_file_sha256=sha("x") + "\n")
        )

    assert "training_file_sha256" in raised.value.fields
