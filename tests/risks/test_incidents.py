"""Incidents: reporting with examples, the serious-incident clock, the freeze of the version's record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict
from registry import releases
from registry import services as registry_services
from registry.models import ModelVersion
from registry.releases import version_record_sha256
from risks import incidents
from risks.models import Incident, IncidentStatus
from tests.conftest import evaluation_payload

pytestmark = pytest.mark.django_db


def _payload(target, **overrides) -> dict:
    aware = timezone.now() - timedelta(hours=2)
    return {
        "title": "Promised refunds on final-sale items",
        "version": f"{target.model.name}:{target.version}",
        "occurred_at": (aware - timedelta(hours=5)).isoformat(),
        "aware_at": aware.isoformat(),
        "description": "Customers were told final-sale items can be refunded.",
        "impact": "12 refunds honoured at a cost of 1,900 EUR.",
        "affected_stakeholders": "Customers; finance",
        "severity": "high",
        "examples": [
            {
                "prompt": "Can I return my final-sale coat? Mail me at jane@example.com",
                "bad_answer": "Yes, full refund within 30 days.",
                "expected_answer": "Final-sale items cannot be returned.",
            }
        ],
        **overrides,
    }


@pytest.fixture
def prod_version(production_model):
    return releases.live_deployment(production_model, "production").version


def test_it_lets_an_engineer_report_an_incident_with_redacted_examples(api, engineer, prod_version, risk):
    response = api(engineer).post("/api/v1/incidents/", _payload(prod_version, risks=[risk.reference]), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference"].startswith("INC-")
    assert body["reporter"] == "erin-engineer"
    assert body["risks"] == [risk.reference]
    assert body["serious"] is False and body["reporting_deadline"] is None
    [example] = body["examples"]
    assert example["prompt"] == "Can I return my final-sale coat? Mail me at [email]"
    incident = Incident.objects.get(reference=body["reference"])
    assert incident.history.first().history_user == engineer


@pytest.mark.parametrize(("kind", "days"), [("infrastructure", 2), ("death", 10), ("other", 15)])
def test_it_starts_the_reporting_clock_of_a_serious_incident(api, compliance, prod_version, kind, days):
    payload = _payload(prod_version, serious=True, serious_kind=kind)
    body = api(compliance).post("/api/v1/incidents/", payload, format="json").json()
    incident = Incident.objects.get(reference=body["reference"])
    assert incident.reporting_deadline == incident.aware_at + timedelta(days=days)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"serious": True}, "serious_kind"),
        ({"serious_kind": "death"}, "serious_kind"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"version": "no-such:v1"}, "version"),
        ({"aware_at": "2000-01-01T00:00:00Z"}, "aware_at"),
        ({"examples": [{"prompt": "", "bad_answer": "x"}]}, "examples.0.prompt"),
    ],
)
def test_it_refuses_a_bad_report_and_keeps_nothing(api, engineer, prod_version, overrides, field):
    response = api(engineer).post("/api/v1/incidents/", _payload(prod_version, **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Incident.objects.exists()


def test_it_freezes_the_version_while_a_serious_incident_is_open(
    api, engineer, compliance, approver, prod_version, production_model
):
    body = (
        api(engineer)
        .post("/api/v1/incidents/", _payload(prod_version, serious=True, serious_kind="other"), format="json")
        .json()
    )
    prod_version.refresh_from_db()
    assert body["reference"] in prod_version.evidence_hold
    assert body["frozen_record_sha256"] == version_record_sha256(prod_version)
    base = f"/api/v1/models/{production_model.name}/versions/{prod_version.version}"
    detail = api(engineer).get(f"{base}/").json()
    assert body["reference"] in detail["evidence_hold"]

    evaluation = api(engineer).post(f"{base}/evaluations/", evaluation_payload(), format="json")
    promotion = api(engineer).post(
        f"{base}/promotions/", {"target": "canary", "traffic_percent": 5, "justification": "Again"}, format="json"
    )
    assert evaluation.status_code == 409
    assert "frozen as evidence" in evaluation.json()["error"]["message"]
    assert promotion.status_code == 409
    with pytest.raises(Conflict, match="frozen as evidence"):
        registry_services.version_update(version=prod_version, actor=compliance, data={"changelog": "x"}, reason="Edit")
    with pytest.raises(Conflict, match="frozen as evidence"):
        registry_services.version_retire(version=prod_version, actor=compliance, reason="Retire")
    # Taking a harmful version out of service stays possible.
    assert releases.live_deployment(production_model, "production").version == prod_version

    # Closing needs a reason, and for a serious incident its root cause and fix.
    url = f"/api/v1/incidents/{body['reference']}"
    no_reason = api(compliance).post(f"{url}/close/", {}, format="json")
    assert no_reason.status_code == 400
    no_fix = api(compliance).post(f"{url}/close/", {"reason": "Done"}, format="json")
    assert no_fix.status_code == 400
    assert set(no_fix.json()["error"]["fields"]) == {"root_cause", "fix"}
    api(compliance).patch(
        f"{url}/", {"root_cause": "Old policy chats", "fix": "Removed 40 chats; guard examples"}, format="json"
    )
    by_engineer = api(engineer).post(f"{url}/close/", {"reason": "Fixed"}, format="json")
    assert by_engineer.status_code == 403
    closed = api(compliance).post(f"{url}/close/", {"reason": "Fixed in v-next"}, format="json")
    assert closed.status_code == 200, closed.json()
    assert closed.json()["status"] == "closed"
    prod_version.refresh_from_db()
    assert prod_version.evidence_hold == ""
    assert api(engineer).post(f"{base}/evaluations/", evaluation_payload(), format="json").status_code == 201
    hold_reasons = list(ModelVersion.history.filter(id=prod_version.pk).values_list("history_change_reason", flat=True))
    assert any("Frozen as evidence of serious incident" in r for r in hold_reasons)
    assert any("closed: Fixed in v-next" in r for r in hold_reasons)


def test_it_keeps_the_freeze_until_the_last_serious_incident_closes(compliance, engineer, prod_version):
    def report(title):
        return incidents.incident_report(
            actor=engineer,
            title=title,
            version=prod_version,
            occurred_at=timezone.now() - timedelta(days=1),
            aware_at=timezone.now() - timedelta(hours=1),
            description="d",
            severity="critical",
            serious=True,
            serious_kind="other",
        )

    first, second = report("First"), report("Second")
    for incident in (first, second):
        incidents.incident_update(incident=incident, actor=compliance, data={"root_cause": "r", "fix": "f"})
    incidents.incident_close(incident=first, actor=compliance, reason="Fixed")
    prod_version.refresh_from_db()
    assert prod_version.evidence_hold == f"serious incident {second.reference} open"
    incidents.incident_close(incident=second, actor=compliance, reason="Fixed")
    prod_version.refresh_from_db()
    assert prod_version.evidence_hold == ""


def test_it_lets_engineers_add_examples_and_evaluation_evidence_but_not_change_the_incident(
    api, engineer, prod_version
):
    body = api(engineer).post("/api/v1/incidents/", _payload(prod_version), format="json").json()
    url = f"/api/v1/incidents/{body['reference']}"
    example = api(engineer).post(
        f"{url}/examples/", {"prompt": "Call me on +44 20 7946 0958", "bad_answer": "Sure!"}, format="json"
    )
    assert example.status_code == 201
    assert example.json()["prompt"] == "Call me on [phone]"
    evaluation_id = prod_version.evaluations.first().pk
    evidence = api(engineer).post(f"{url}/evidence/", {"evaluation": evaluation_id}, format="json")
    assert evidence.status_code == 200
    assert evidence.json()["evaluations"] == [evaluation_id]
    missing = api(engineer).post(f"{url}/evidence/", {"evaluation": 987654}, format="json")
    assert missing.status_code == 400
    assert api(engineer).patch(f"{url}/", {"severity": "low"}, format="json").status_code == 403
    assert api(engineer).post(f"{url}/close/", {"reason": "x"}, format="json").status_code == 403


def test_it_refuses_changes_to_a_closed_incident(api, compliance, prod_version):
    body = api(compliance).post("/api/v1/incidents/", _payload(prod_version), format="json").json()
    url = f"/api/v1/incidents/{body['reference']}"
    api(compliance).post(f"{url}/close/", {"reason": "Not a real issue"}, format="json")
    assert api(compliance).patch(f"{url}/", {"title": "x"}, format="json").status_code == 409
    added = api(compliance).post(f"{url}/examples/", {"prompt": "p", "bad_answer": "b"}, format="json")
    assert added.status_code == 409
    assert Incident.objects.get(reference=body["reference"]).status == IncidentStatus.CLOSED


def test_it_lists_and_filters_incidents(api, executive, engineer, prod_version):
    api(engineer).post("/api/v1/incidents/", _payload(prod_version), format="json")
    api(engineer).post("/api/v1/incidents/", _payload(prod_version, serious=True, serious_kind="other"), format="json")
    client = api(executive)
    assert len(client.get("/api/v1/incidents/").json()["results"]) == 2
    assert len(client.get("/api/v1/incidents/?serious=true").json()["results"]) == 1
    assert len(client.get(f"/api/v1/incidents/?model={prod_version.model.name}").json()["results"]) == 2
    assert client.get("/api/v1/incidents/?status=burning").status_code == 400


def test_the_admin_shows_a_frozen_version_read_only(compliance, engineer, prod_version):
    from django.test import Client
    from django.urls import reverse

    incidents.incident_report(
        actor=engineer,
        title="Harmful answer",
        version=prod_version,
        occurred_at=timezone.now() - timedelta(days=1),
        aware_at=timezone.now() - timedelta(hours=1),
        description="d",
        severity="critical",
        serious=True,
        serious_kind="other",
    )
    client = Client()
    client.force_login(compliance)
    url = reverse("admin:registry_modelversion_change", args=[prod_version.pk])

    page = client.get(url)
    post = client.post(url, {"changelog": "Rewritten", "change_reason": "Tidy up"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "serious incident" in page.content.decode()
    assert post.status_code == 403
    prod_version.refresh_from_db()
    assert prod_version.changelog != "Rewritten"
