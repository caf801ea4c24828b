"""Accepting a risk: who, authority, rationale, expiry; Critical refused; expiry reopens the risk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import service_user
from risks import services
from risks.models import Acceptance, AcceptanceStatus, Risk, RiskStatus
from risks.tasks import acceptances_expire
from tests.risks.conftest import in_days, risk_payload

pytestmark = pytest.mark.django_db


def _accept(api, user, reference, **overrides):
    payload = {"rationale": "Cost of the fix exceeds the exposure", "expires_at": in_days(90).isoformat(), **overrides}
    return api(user).post(f"/api/v1/risks/{reference}/accept/", payload, format="json")


def test_it_records_who_accepted_under_which_authority_until_when(api, compliance, risk):
    response = _accept(api, compliance, risk.reference, conditions="Revisit after the Q1 retrain")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["accepted_by"] == "carla-compliance"
    assert body["authority"] == "Compliance"
    assert body["conditions"] == "Revisit after the Q1 retrain"
    assert (body["residual_score"], body["residual_band"], body["status"]) == (6, "medium", "active")
    risk.refresh_from_db()
    assert (risk.status, risk.treatment) == (RiskStatus.ACCEPTED, "accept")
    row = risk.history.first()
    assert row.history_user == compliance
    assert "Cost of the fix exceeds the exposure" in row.history_change_reason


def test_it_refuses_to_accept_a_critical_residual_risk_with_409(api, compliance):
    critical = services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(inherent_likelihood=5, inherent_impact=5, residual_likelihood=4, residual_impact=5),
    )
    response = _accept(api, compliance, critical.reference)
    assert response.status_code == 409
    error = response.json()["error"]
    assert "Critical" in error["message"]
    assert "residual_band" in error["fields"]
    critical.refresh_from_db()
    assert critical.status == RiskStatus.OPEN
    assert not Acceptance.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rationale": ""}, "rationale"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "next tuesday"}, "expires_at"),
    ],
)
def test_it_requires_a_rationale_and_a_future_expiry_within_a_year(api, compliance, risk, overrides, field):
    response = _accept(api, compliance, risk.reference, **overrides)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Acceptance.objects.exists()


def test_it_reopens_the_risk_when_the_acceptance_expires_and_says_so(compliance, risk, eager_celery):
    acceptance = services.risk_accept(
        risk=risk, actor=compliance, rationale="Low exposure", expires_at=timezone.now() + timedelta(days=30)
    )
    assert acceptances_expire.delay().get() == 0  # not yet
    # Time passes: the acceptance was given 31 days ago for 30 days.
    Acceptance.objects.filter(pk=acceptance.pk).update(
        accepted_at=timezone.now() - timedelta(days=31), expires_at=timezone.now() - timedelta(days=1)
    )
    assert acceptances_expire.delay().get() == 1
    assert acceptances_expire.delay().get() == 0  # safe to run twice
    acceptance.refresh_from_db()
    risk.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.EXPIRED
    assert risk.status == RiskStatus.OPEN
    row = risk.history.first()
    assert row.history_user == service_user()
    assert row.history_source == "task"
    assert "carla-compliance expired on" in row.history_change_reason
    assert "open again" in row.history_change_reason


def test_it_revokes_the_acceptance_when_the_residual_risk_becomes_critical(compliance, risk):
    acceptance = services.risk_accept(risk=risk, actor=compliance, rationale="Fine for now", expires_at=in_days(60))
    services.risk_update(
        risk=risk,
        actor=compliance,
        data={"inherent_likelihood": 5, "inherent_impact": 5, "residual_likelihood": 5, "residual_impact": 5},
        reason="Incident showed it is worse",
    )
    acceptance.refresh_from_db()
    risk = Risk.objects.get(pk=risk.pk)
    assert acceptance.status == AcceptanceStatus.REVOKED
    assert risk.status == RiskStatus.OPEN
    assert "no longer holds" in risk.history.first().history_change_reason


def test_it_keeps_one_active_acceptance_per_risk(compliance, risk):
    first = services.risk_accept(risk=risk, actor=compliance, rationale="First", expires_at=in_days(30))
    second = services.risk_accept(risk=risk, actor=compliance, rationale="Renewed", expires_at=in_days(90))
    first.refresh_from_db()
    assert first.status == AcceptanceStatus.REVOKED
    assert list(Acceptance.objects.filter(status=AcceptanceStatus.ACTIVE)) == [second]
