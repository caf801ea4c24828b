"""Every risk-register endpoint x method x role, plus anonymous: read for all roles, write for compliance,
engineers report incidents and attach evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry import services as registry_services
from risks import controls, incidents
from risks import services as risk_services
from tests.conftest import client_for, evaluation_payload, model_payload, version_payload
from tests.risks.conftest import risk_payload

ROLES = ["anonymous", "outsider", "engineer", "compliance", "executive"]
READ = {"anonymous": 401, "outsider": 403, "engineer": 200, "compliance": 200, "executive": 200}


def _write(compliance_status: int, engineer_status: int = 403) -> dict:
    return {
        "anonymous": 401,
        "outsider": 403,
        "engineer": engineer_status,
        "compliance": compliance_status,
        "executive": 403,
    }


def _incident(ctx) -> dict:
    aware = timezone.now() - timedelta(hours=1)
    return {
        "title": "Wrong refund promise",
        "version": ctx["version_ref"],
        "occurred_at": (aware - timedelta(hours=1)).isoformat(),
        "aware_at": aware.isoformat(),
        "description": "It promised a refund.",
        "severity": "medium",
    }


MATRIX = [
    ("get", "/api/v1/risks/", None, READ),
    ("post", "/api/v1/risks/", lambda ctx: {"owner": "carla-compliance", **risk_payload()}, _write(201)),
    ("get", "/api/v1/risks/heatmap/", None, READ),
    ("get", "/api/v1/risks/{risk}/", None, READ),
    ("patch", "/api/v1/risks/{risk}/", lambda ctx: {"title": "Renamed"}, _write(200)),
    ("get", "/api/v1/risks/{risk}/history/", None, READ),
    (
        "post",
        "/api/v1/risks/{risk}/accept/",
        lambda ctx: {"rationale": "Low exposure", "expires_at": (timezone.now() + timedelta(days=30)).isoformat()},
        _write(201),
    ),
    ("post", "/api/v1/risks/{risk}/review/", lambda ctx: {"reason": "Reviewed"}, _write(200)),
    ("post", "/api/v1/risks/{risk}/close/", lambda ctx: {"reason": "Gone"}, _write(200)),
    ("post", "/api/v1/risks/{risk}/reopen/", lambda ctx: {"reason": "Back"}, _write(409)),
    ("get", "/api/v1/risks/{risk}/actions/", None, READ),
    (
        "post",
        "/api/v1/risks/{risk}/actions/",
        lambda ctx: {"action": "Add guards", "owner": "carla-compliance", "due_on": "2027-01-31"},
        _write(201),
    ),
    ("patch", "/api/v1/risks/{risk}/actions/{action}/", lambda ctx: {"status": "done"}, _write(200)),
    ("get", "/api/v1/controls/", None, READ),
    ("post", "/api/v1/controls/", lambda ctx: {"name": "Human review", "description": "Weekly sample"}, _write(201)),
    ("get", "/api/v1/controls/{control}/", None, READ),
    ("patch", "/api/v1/controls/{control}/", lambda ctx: {"name": "Renamed"}, _write(200)),
    (
        "post",
        "/api/v1/controls/{control}/documents/",
        lambda ctx: {
            "title": "Q3 review",
            "url": "https://intranet.example/q3",
            "period_start": "2026-07-01",
            "period_end": "2026-09-30",
            "reviewer": "carla-compliance",
            "verdict": "effective",
        },
        _write(201),
    ),
    (
        "post",
        "/api/v1/controls/{control}/metric-checks/",
        lambda ctx: {"metric": "refusal_rate", "maximum": 0.08, "models": [ctx["model"]]},
        _write(201),
    ),
    ("get", "/api/v1/incidents/", None, READ),
    ("post", "/api/v1/incidents/", _incident, _write(201, engineer_status=201)),
    ("get", "/api/v1/incidents/{incident}/", None, READ),
    ("patch", "/api/v1/incidents/{incident}/", lambda ctx: {"root_cause": "Old chats"}, _write(200)),
    (
        "post",
        "/api/v1/incidents/{incident}/examples/",
        lambda ctx: {"prompt": "p", "bad_answer": "b"},
        _write(201, engineer_status=201),
    ),
    (
        "post",
        "/api/v1/incidents/{incident}/evidence/",
        lambda ctx: {"evaluation": ctx["evaluation"]},
        _write(200, engineer_status=200),
    ),
    ("post", "/api/v1/incidents/{incident}/close/", lambda ctx: {"reason": "Handled"}, _write(200)),
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


@pytest.fixture
def ctx(engineer, compliance):
    model = registry_services.model_create(actor=engineer, **model_payload())
    version = registry_services.version_register(
        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload()
    )
    risk = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())
    action = risk_services.action_create(
        risk=risk, actor=compliance, action="Retrain", owner=compliance, due_on=timezone.localdate()
    )
    control = controls.control_create(actor=compliance, name="Refusal in range", description="d", risks=[risk])
    incident = incidents.incident_report(
        actor=engineer,
        title="Bad answer",
        version=version,
        occurred_at=timezone.now() - timedelta(hours=2),
        aware_at=timezone.now() - timedelta(hours=1),
        description="d",
        severity="low",
    )
    return {
        "model": model.name,
        "version_ref": f"{model.name}:{version.version}",
        "evaluation": version.evaluations.first().pk,
        "risk": risk.reference,
        "action": action.pk,
        "control": control.reference,
        "incident": incident.reference,
    }


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_it_allows_exactly_the_roles_that_may(personas, ctx, method, path, body, role, expected):
    client = client_for(personas[role])

    response = getattr(client, method)(path.format(**ctx), body(ctx) if body else None, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/risks/{risk}/"),
        ("put", "/api/v1/risks/{risk}/"),
        ("delete", "/api/v1/controls/{control}/"),
        ("delete", "/api/v1/incidents/{incident}/"),
        ("post", "/api/v1/risks/heatmap/"),
    ],
)
def test_it_offers_no_way_to_delete_or_rewrite(api, compliance, ctx, method, path):
    response = getattr(api(compliance), method)(path.format(**ctx), {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
