"""The hot reads whose plan does not depend on their values are planned once per connection (core.pgbackend)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import evaluation_payload, sha, version_payload


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def two_versions(registered_model, engineer):
    from registry import services

    for label in ("v1", "v2"):
        data = version_payload(version=label, training_file_sha256=sha(label))
        services.version_register(model=registered_model, actor=engineer, evaluations=[evaluation_payload()], **data)
    return registered_model


def test_the_get_the_list_and_their_evaluations_are_prepared_and_read_the_same(api, executive, two_versions):
    client = api(executive)
    base = f"/api/v1/models/{two_versions.name}/versions/"
    first = [client.get(f"{base}v1/").json(), client.get(base).json()]
    with CaptureQueriesContext(connection) as queries:
        again = [client.get(f"{base}v1/").json(), client.get(base).json(), client.get(f"{base}v2/").json()]

    assert again[:2] == first and again[2]["version"] == "v2"
    prepared = _prepared()
    assert any('"registry_registeredmodel"."name" = $' in sql for sql in prepared)  # the get
    assert any('WHERE "registry_modelversion"."model_id" = $' in sql for sql in prepared)  # the model's page
    assert any('FROM "registry_evaluationresult"' in sql and "IN ($" in sql for sql in prepared)  # the page's
    # Logged as Django logs any statement, with its values written in.
    logged = [q["sql"] for q in queries.captured_queries]
    assert all(sql and "$1" not in sql for sql in logged)
    assert any(f"= '{two_versions.name}'" in sql and "= 'v2'" in sql for sql in logged)


def test_a_metric_search_is_planned_for_its_values(api, executive, two_versions):
    client = api(executive)
    for _ in range(3):
        assert client.get("/api/v1/versions/", {"win_rate__gte": "0.5"}).status_code == 200

    prepared = _prepared()
    assert any('FROM "registry_evaluationresult"' in sql and "IN ($" in sql for sql in prepared)  # its page's
    assert not any('"registry_modelversion"' in sql and "metrics" in sql for sql in prepared)


def test_nothing_is_prepared_when_told_not_to(api, executive, two_versions):
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # psycopg forgets its own too
    options = connection.settings_dict["OPTIONS"]
    options["prepared_statements"] = False
    try:
        client = api(executive)
        assert client.get(f"/api/v1/models/{two_versions.name}/versions/v1/").status_code == 200
        assert client.get(f"/api/v1/models/{two_versions.name}/versions/").status_code == 200
        assert _prepared() == []
    finally:
        options["prepared_statements"] = True


def test_a_registrations_reads_are_prepared(api, engineer, registered_model):
    """The auth epoch (every API request), the model by its name and the data card by the hashes."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    client = api(engineer)
    url = f"/api/v1/models/{registered_model.name}/versions/"
    for label in ("v1", "v2"):
        data = version_payload(version=label, training_file_sha256=sha(label))
        assert client.post(url, {**data, "evaluations": [evaluation_payload()]}, format="json").status_code == 201

    prepared = _prepared()
    assert "SELECT n FROM core_authepoch WHERE id = 1" in prepared
    assert any(
        'FROM "registry_registeredmodel" WHERE "registry_registeredmodel"."name" = $1' in sql for sql in prepared
    )
    assert any('WHERE "datasets_dataset"."sha256" IN ($' in sql for sql in prepared)
