"""Bad input gets a clear 4xx in one shape, never a 500."""

from __future__ import annotations

import pytest

from registry.models import ModelVersion


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        ("null", "application/json", 400),
        ('"a string"', "application/json", 400),
        ('{"version": {"nested": true}}', "application/json", 400),
        ('{"version": ["v1"], "changelog": 5}', "application/json", 400),
        ('{"version": "v1\\u0000"}', "application/json", 400),
        ('{"evaluations": "all of them"}', "application/json", 400),
        ('{"evaluations": [null]}', "application/json", 400),
        ('{"evaluations": [{"metrics": []}]}', "application/json", 400),
        ("version=v1", "application/x-www-form-urlencoded", 415),
        ("<version>v1</version>", "application/xml", 415),
        ("\xff\xfe", "application/json", 400),
    ],
)
def test_it_answers_garbage_with_a_clear_error(api, engineer, registered_model, body, content_type, status):
    response = api(engineer).generic(
        "POST", f"/api/v1/models/{registered_model.name}/versions/", body, content_type=content_type
    )

    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    assert not ModelVersion.objects.exists()


def test_it_names_the_field_in_the_message_too(api, engineer, registered_model):
    response = api(engineer).post(
        f"/api/v1/models/{registered_model.name}/versions/",
        {"version": "v1", "training_file_sha256": "abc", "changelog": "x"},
        format="json",
    )

    assert "training_file_sha256" in response.json()["error"]["message"]


def test_it_answers_json_404_for_unknown_api_paths(api, engineer):
    response = api(engineer).get("/api/v2/anything")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_405_in_the_same_shape(api, engineer):
    response = api(engineer).delete("/api/v1/versions/")

    assert response.status_code == 405
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("label", ["../etc", "v 1", "-v1", "x" * 65, "v1/evil"])
def test_it_rejects_unsafe_version_labels(api, engineer, registered_model, label):
    from tests.conftest import version_payload

    response = api(engineer).post(
        f"/api/v1/models/{registered_model.name}/versions/", version_payload(version=label), format="json"
    )

    assert response.status_code == 400
    assert "version" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/NOT-A-NAME/",
        "/api/v1/models/{model}/versions/no-such-version/",
        "/api/v1/models/{model}/versions/v1..2/history/",
    ],
)
def test_it_answers_404_to_impossible_names_in_the_path(api, engineer, registered_model, path):
    response = api(engineer).get(path.format(model=registered_model.name))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/%00/",
        "/api/v1/models/a%00b/versions/",
        "/api/v1/models/{model}/versions/v%001/",
        "/api/v1/models/{model}/versions/v1%00/history/",
    ],
)
def test_it_answers_400_to_a_nul_in_the_path(api, engineer, registered_model, path):
    # A NUL can be no name at all: PostgreSQL raises on it, so it never reaches a lookup.
    response = api(engineer).get(path.format(model=registered_model.name))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"path": ["Must be UTF-8 text without NUL or control characters."]}
