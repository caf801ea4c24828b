"""Fixtures of the risk register: a production model with evaluations, a risk, a control."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry import releases, services
from risks import controls
from risks import services as risk_services
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload


def risk_payload(**overrides) -> dict:
    return {
        "title": "Refund promises outside policy",
        "statement": "Fine-tune data includes old refund chats -> the assistant promises refunds -> financial loss.",
        "category": "policy_violation",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 2,
        "residual_impact": 3,
        "treatment": "mitigate",
        "mitigation": "Guard examples on refunds; refusal-rate check in production.",
        **overrides,
    }


@pytest.fixture
def approver(db):
    from core.roles import Role

    return make_user("ada-approver", Role.COMPLIANCE, is_staff=True)


def deploy(version, *, engineer, approver) -> None:
    """Put `version` in production through a real promotion (gate overridden if needed)."""
    promotion = releases.promotion_request(version=version, actor=engineer, target="production", justification="Test")
    releases.promotion_approve(
        promotion=promotion, actor=approver, reason="Test release", override_justification="Tests do not gate"
    )


@pytest.fixture
def production_model(engineer, approver):
    """A registered model whose version v-prod serves production, evaluated once."""
    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(metrics={"win_rate": 0.61, "refusal_rate": 0.04, "p95_latency_ms": 950})],
        **version_payload(version="v-prod"),
    )
    deploy(version, engineer=engineer, approver=approver)
    version.refresh_from_db()
    return model


@pytest.fixture
def risk(compliance):
    return risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())


@pytest.fixture
def control(compliance, risk):
    return controls.control_create(
        actor=compliance,
        name="Refusal rate in range",
        description="Refusal rate of production stays in 2-8%.",
        risks=[risk],
    )


def in_days(days: float):
    return timezone.now() + timedelta(days=days)
