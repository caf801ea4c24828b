"""Every endpoint x method x role, plus anonymous: who may do what."""

from __future__ import annotations

import pytest

from registry import services
from tests.conftest import client_for, evaluation_payload, model_payload, version_payload

ROLES = ["anonymous", "outsider", "engineer", "compliance", "executive"]
READ = {"anonymous": 401, "outsider": 403, "engineer": 200, "compliance": 200, "executive": 200}


def _write(engineer_status: int, compliance_status: int = 403) -> dict:
    return {
        "anonymous": 401,
        "outsider": 403,
        "engineer": engineer_status,
        "compliance": compliance_status,
        "executive": 403,
    }


# (method, path, body factory, expected status per role)
MATRIX = [
    ("get", "/api/v1/models/", None, READ),
    ("post", "/api/v1/models/", model_payload, _write(201)),
    ("get", "/api/v1/models/{model}/", None, READ),
    ("patch", "/api/v1/models/{model}/", lambda: {"purpose": "Changed."}, _write(200, 200)),
    ("get", "/api/v1/models/{model}/history/", None, READ),
    ("get", "/api/v1/models/{model}/gate-policy/", None, READ),
    (
        "post",
        "/api/v1/models/{model}/gate-policy/",
        lambda: {"rules": [{"metric": "win_rate", "min": 0.5}], "reason": "Gate review"},
        _write(403, 201),
    ),
    ("get", "/api/v1/models/{model}/versions/{version}/gate/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/card/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/promotions/", None, READ),
    ("get", "/api/v1/models/{model}/deployments/", None, READ),
    ("get", "/api/v1/models/{model}/versions/", None, READ),
    ("post", "/api/v1/models/{model}/versions/", version_payload, _write(201)),
    ("get", "/api/v1/models/{model}/versions/{version}/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/history/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/evaluations/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/checkpoints/", None, READ),
    ("post", "/api/v1/models/{model}/versions/{version}/evaluations/", evaluation_payload, _write(201)),
    ("get", "/api/v1/versions/", None, READ),
]
CASES = [(method, path, body, role, expected[role]) for method, path, body, expected in MATRIX for role in ROLES]


@pytest.fixture
def personas(engineer, compliance, executive, outsider):
    return {
        "anonymous": None,
        "outsider": outsider,
        "engineer": engineer,
        "compliance": compliance,
        "executive": executive,
    }


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_it_allows_exactly_the_roles_that_may(personas, engineer, method, path, body, role, expected):
    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(model=model, actor=engineer, **version_payload())
    client = client_for(personas[role])

    response = getattr(client, method)(
        path.format(model=model.name, version=version.version), body() if body else None, format="json"
    )

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/models/{model}/"),
        ("put", "/api/v1/models/{model}/"),
        ("delete", "/api/v1/models/{model}/versions/{version}/"),
        ("patch", "/api/v1/models/{model}/versions/{version}/"),
        ("post", "/api/v1/versions/"),
    ],
)
def test_it_offers_no_way_to_delete_or_rewrite(api, engineer, registered_version, method, path):
    client = api(engineer)

    response = getattr(client, method)(
        path.format(model=registered_version.model.name, version=registered_version.version), {}, format="json"
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
