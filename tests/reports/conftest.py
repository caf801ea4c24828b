"""A small world laid out over September to November 2026, to report on October."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.demo import demo_clock
from core.roles import Role
from registry import releases, services
from reports.periods import Period
from risks import controls, incidents
from risks import services as risk_services
from tests.conftest import evaluation_payload, make_user, model_payload, sha, version_payload
from tests.registry.test_data_card import with_clean_data
from tests.risks.conftest import risk_payload

OCTOBER = Period(2026, 10)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _evaluated(model, engineer, label, win, *, p95=900, changelog=None):
    overrides = {"version": label}
    if changelog:
        overrides["changelog"] = changelog
    version = services.version_register(
        model=model,
        actor=engineer,
        evaluations=[
            evaluation_payload(
                baseline_version=model.base_model,
                metrics={"win_rate": win, "refusal_rate": 0.04, "p95_latency_ms": p95},
                per_intent={},
            )
        ],
        **version_payload(**overrides),
    )
    return with_clean_data(version, engineer)


def _release(version, engineer, approver):
    promotion = releases.promotion_request(version=version, actor=engineer, target="production", justification="Go")
    releases.promotion_approve(promotion=promotion, actor=approver, reason="CAB", override_justification="Pilot")


@pytest.fixture
def world(db, engineer, compliance):
    return build_world(engineer, compliance)


def build_world(engineer, compliance) -> dict:
    """September: a model, v1 in production, a risk. October: v2 registered and promoted (win rate down),
    a High risk, an acceptance, an incident, an overdue action. November: v3, and the October risk changed."""
    approver = make_user("ada-approver", Role.COMPLIANCE)
    executive = make_user("eve-exec", Role.EXECUTIVE, email="eve@example.com")
    w = {"approver": approver, "executive": executive}
    with demo_clock(at(9, 3)) as clock:
        model = services.model_create(actor=engineer, **model_payload(name="support-bot"))
        v1 = _evaluated(model, engineer, "v1", 0.62)
        _release(v1, engineer, approver)
        w["september_risk"] = risk_services.risk_create(
            actor=compliance, owner=compliance, **risk_payload(title="Old September risk")
        )

        clock.at(at(10, 5))
        v2 = _evaluated(model, engineer, "v2", 0.55, p95=1200, changelog="Added <b>bold</b> & <i>chats</i>")
        clock.at(at(10, 6))
        _release(v2, engineer, approver)
        clock.at(at(10, 10))
        high = risk_services.risk_create(
            actor=compliance,
            owner=engineer,
            **risk_payload(
                title="Leaks <script>card</script> numbers",
                inherent_likelihood=5,
                inherent_impact=4,
                residual_likelihood=4,
                residual_impact=4,
            ),
        )
        accepted = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Accepted one"))
        risk_services.risk_accept(
            risk=accepted, actor=compliance, rationale="Low exposure", expires_at=at(11, 10), conditions="Watch it"
        )
        later = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Accepted later"))
        risk_services.risk_accept(risk=later, actor=compliance, rationale="Fine", expires_at=at(12, 15))
        risk_services.action_create(
            risk=high, actor=compliance, action="Add guard chats", owner=engineer, due_on=at(10, 20).date()
        )
        control = controls.control_create(actor=compliance, name="p95 within SLA", description="d", risks=[high])
        controls.metric_check_create(
            control=control, actor=compliance, metric="p95_latency_ms", maximum=1000, watched_models=[model]
        )
        clock.at(at(10, 12))
        controls.metric_checks_evaluate()
        clock.at(at(10, 15))
        w["incident"] = incidents.incident_report(
            actor=engineer,
            title="Promised a refund",
            version=v2,
            occurred_at=at(10, 13),
            aware_at=at(10, 14),
            description="It promised refunds.",
            severity="high",
            serious=True,
            serious_kind="other",
            examples=[{"prompt": "Refund to jane@example.com?", "bad_answer": "Yes!", "expected_answer": "No."}],
        )

        clock.at(at(11, 5))
        _evaluated(model, engineer, "v3", 0.7)
        risk_services.risk_update(
            risk=high, actor=compliance, data={"residual_likelihood": 1, "residual_impact": 1}, reason="Fixed"
        )
        risk_services.risk_close(risk=w["september_risk"], actor=compliance, reason="Gone")
    w.update(model=model, v1=v1, v2=v2, high=high, accepted=accepted, control=control)
    return w


@pytest.fixture
def in_october():
    """Report as if generated on 2026-11-01 06:00."""
    return at(11, 1, 6)


NOVEMBER = Period(2026, 11)
MINI = "gpt-4.1-mini-2025-04-14"  # shuts down 2027-01-14 in the fake catalogue
NANO = "gpt-4.1-nano-2025-04-14"  # no shutdown announced


@pytest.fixture
def runway_world(db, engineer, compliance, fake_openai):
    """The catalogue synced on 1 September; support-assistant v3 in production on MINI from September, faq-bot
    on NANO; in November a candidate v4 on NANO whose evaluation fails the gate against v3."""
    from lifecycle.services import catalogue_sync

    approver = make_user("ada-approver", Role.COMPLIANCE)
    with demo_clock(at(9, 1)) as clock:
        catalogue_sync(on=at(9, 1).date())
        clock.at(at(9, 3))
        model = services.model_create(actor=engineer, **model_payload(name="support-assistant", base_model=MINI))
        v3 = _evaluated(model, engineer, "v3", 0.62)
        _release(v3, engineer, approver)
        faq = services.model_create(actor=engineer, **model_payload(name="faq-bot", base_model=NANO))
        _release(_evaluated(faq, engineer, "v1", 0.6), engineer, approver)
        clock.at(at(11, 10))
        v4 = services.version_register(
            model=model,
            actor=engineer,
            base_model=NANO,
            evaluations=[
                evaluation_payload(
                    baseline_version="v3",
                    metrics={"win_rate": 0.50, "refusal_rate": 0.04, "p95_latency_ms": 900},
                    per_intent={},
                )
            ],
            **version_payload(version="v4"),
        )
        with_clean_data(v4, engineer)  # its data checked clean on registration: only its win rate fails
    return {"model": model, "v3": v3, "v4": v4, "faq": faq, "fake_openai": fake_openai, "engineer": engineer}


def december_changes(w: dict) -> None:
    """After November: the provider moves MINI's shutdown, v4 passes a new evaluation, and one is backdated."""
    from lifecycle.services import catalogue_sync

    passing = {"win_rate": 0.60, "refusal_rate": 0.04, "p95_latency_ms": 900}
    with demo_clock(at(12, 2)) as clock:
        w["fake_openai"].model_set(MINI, "2027-06-30")
        catalogue_sync(on=at(12, 2).date())
        clock.at(at(12, 5))
        for ran_at in (at(12, 5), at(11, 20)):  # the second recorded in December, backdated into November
            services.evaluation_record(
                version=w["v4"],
                actor=w["engineer"],
                suite="golden-v1",
                # The golden set of its first evaluation, which its data's check compared against.
                golden_set_sha256=sha("golden-v1"),
                metrics=passing,
                baseline_version="v3",
                ran_at=ran_at,
            )
