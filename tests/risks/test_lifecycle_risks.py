"""The register acts by itself: a runway risk opens, rises and closes as a base model's shutdown nears."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from core.audit import Source, audit_source
from core.demo import demo_clock
from core.roles import Role
from lifecycle.services import catalogue_sync
from registry import releases, services
from risks import services as risk_services
from risks.lifecycle import lifecycle_risks_update, runway_notices_send
from risks.models import (
    AcceptanceStatus,
    ActionStatus,
    NoticeStatus,
    Risk,
    RiskStatus,
    RunwayNotice,
    RunwayRisk,
    TreatmentAction,
)
from risks.tasks import lifecycle_risks_update_task
from tests.conftest import evaluation_payload, make_user, version_payload
from tests.risks.conftest import deploy

MINI = "gpt-4.1-mini-2025-04-14"
NANO = "gpt-4.1-nano-2025-04-14"
GPT4O = "gpt-4o-2024-08-06"
SHUTDOWN = date(2027, 1, 14)  # gpt-4.1-mini's, as the fake server publishes it


def before(days: int) -> date:
    return SHUTDOWN - timedelta(days=days)


def at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(9)))


@pytest.fixture
def clock(db):
    with demo_clock(at(before(120))) as clock:
        yield clock


@pytest.fixture
def owners(db):
    technical = make_user("tom-technical", Role.ENGINEER, email="tom@example.org", first_name="Tom")
    business = make_user("bea-business", Role.EXECUTIVE, email="bea@example.org", first_name="Bea")
    return technical, business


@pytest.fixture
def catalogue(fake_openai, clock):
    fake_openai.model_set(GPT4O, "2027-06-30")  # a date beyond the warning window
    catalogue_sync(on=timezone.localdate())
    return fake_openai


def registered(name: str, *, base_model: str, engineer, owners, label: str = "v4"):
    technical, business = owners
    model = services.model_create(
        actor=engineer,
        name=name,
        display_name=name.replace("-", " ").capitalize(),
        purpose="Answers billing questions.",
        base_model=base_model,
        technical_owner=technical,
        business_owner=business,
    )
    return model, version(model, label, engineer=engineer)


def version(model, label: str, *, engineer, base_model: str = ""):
    return services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(baseline_version=model.base_model)],
        base_model=base_model,
        **version_payload(version=label),
    )


@pytest.fixture
def assistant(catalogue, engineer, compliance, owners):
    """support-assistant: v4 on gpt-4.1-mini serves production."""
    model, v4 = registered("support-assistant", base_model=MINI, engineer=engineer, owners=owners)
    deploy(v4, engineer=engineer, approver=compliance)
    return model


@pytest.fixture
def tick(clock, django_capture_on_commit_callbacks):
    """One run of the hourly task on `day` (at 09:00), its after-commit sends included."""

    def run(day: date):
        clock.at(at(day))
        with django_capture_on_commit_callbacks(execute=True), audit_source(Source.TASK):
            return lifecycle_risks_update()

    return run


def the_risk(model) -> Risk:
    return Risk.objects.get(runway__model=model)


def sent_to(email: str) -> list[str]:
    return [m.subject for m in mail.outbox if m.to == [email]]


def written() -> tuple[int, ...]:
    """Every row the register and its outbox hold, history included."""
    return (
        Risk.history.count(),
        TreatmentAction.history.count(),
        RunwayRisk.history.count(),
        RunwayNotice.objects.count(),
        len(mail.outbox),
    )


def test_it_opens_one_risk_at_90_days_and_raises_it_at_30_and_7(assistant, tick, owners):
    technical, business = owners

    assert tick(before(91)).opened == []
    assert not Risk.objects.exists() and mail.outbox == []

    tick(before(90))
    risk = the_risk(assistant)
    assert (risk.residual_band, risk.residual_score, risk.inherent_score) == ("medium", 8, 25)
    assert (risk.category, risk.owner, risk.status) == ("nist_value_chain", technical, RiskStatus.IN_TREATMENT)
    assert risk.title == f"support-assistant: base model {MINI} shuts down 2027-01-14"
    assert risk.statement.startswith(f"OpenAI shuts down {MINI} on 2027-01-14")
    assert "support-assistant's production v4 stops answering on that day" in risk.statement
    assert list(risk.registered_models.all()) == [assistant]
    assert [v.version for v in risk.model_versions.all()] == ["v4"]
    action = risk.actions.get()
    assert (action.action, action.owner, action.due_on, action.status) == (
        "Migrate support-assistant to an active base model before 2027-01-14",
        technical,
        date(2027, 1, 13),
        ActionStatus.PLANNED,
    )

    tick(before(31))
    assert the_risk(assistant).residual_band == "medium"
    tick(before(30))
    assert (the_risk(assistant).residual_band, the_risk(assistant).residual_score) == ("high", 12)
    tick(before(8))
    assert the_risk(assistant).residual_band == "high"
    tick(before(7))
    assert (the_risk(assistant).residual_band, the_risk(assistant).residual_score) == ("critical", 20)

    rows = list(Risk.history.filter(id=risk.pk).order_by("history_date", "history_id"))
    service = settings.FINEPRINT_SERVICE_USERNAME
    assert {(r.history_user.username, r.history_source) for r in rows} == {(service, Source.TASK)}
    scores = [r for r, previous in zip(rows[1:], rows, strict=False) if r.residual_band != previous.residual_band]
    until = f"until {MINI} shuts down on 2027-01-14"
    assert [(r.residual_band, r.history_change_reason) for r in scores] == [
        ("high", f"30 days left {until} (30 days or fewer): residual Medium (2 x 4 = 8) -> High (3 x 4 = 12)"),
        ("critical", f"7 days left {until} (7 days or fewer): residual High (3 x 4 = 12) -> Critical (5 x 4 = 20)"),
    ]
    assert rows[0].history_change_reason == (
        f"Opened by Fineprint: production v4 of support-assistant on {MINI}, which shuts down on 2027-01-14 "
        "(90 days left, within the 90-day warning window): residual Medium (2 x 4 = 8)"
    )
    expected = [
        f"[Fineprint] support-assistant: {MINI} shuts down on 2027-01-14 (90 days left)",
        f"[Fineprint] support-assistant: {MINI} shuts down on 2027-01-14 (30 days left)",
        f"[Fineprint] support-assistant: {MINI} shuts down on 2027-01-14 (7 days left)",
    ]
    assert sent_to(technical.email) == expected
    assert sent_to(business.email) == expected
    assert len(mail.outbox) == 6


def test_the_email_says_what_to_do_and_by_when(assistant, tick, owners):
    tick(before(30))

    message = next(m for m in mail.outbox if m.to == ["bea@example.org"])
    risk = the_risk(assistant)
    assert message.body.startswith("Hello Bea,")
    assert "which OpenAI shuts down on 2027-01-14: 30 days left (30 days or fewer)" in message.body
    assert "\n- production v4\n" in message.body
    assert f'{risk.reference}, "{risk.title}" (residual risk High, 12; owner tom-technical)' in message.body
    assert "Migrate support-assistant to an active base model before 2027-01-14 (due 2027-01-13" in message.body
    assert "&#x27;" not in message.body and "&quot;" not in message.body


def test_ten_more_ticks_write_nothing(assistant, tick):
    tick(before(60))
    first = written()
    assert first[0] > 0 and first[-1] == 2

    for hour in range(10):
        tick(before(60 - hour // 5))  # the same stage, a few days later too

    assert written() == first
    assert RunwayRisk.objects.count() == 1


def test_nothing_opens_without_a_shutdown_date_or_beyond_the_window(catalogue, tick, engineer, compliance, owners):
    on_nano, v1 = registered("faq-bot", base_model=NANO, engineer=engineer, owners=owners, label="v1")
    far_off, v2 = registered("triage-bot", base_model=GPT4O, engineer=engineer, owners=owners, label="v2")
    soon, v3 = registered("support-assistant", base_model=MINI, engineer=engineer, owners=owners, label="v3")
    for item in (v1, v2, v3):
        deploy(item, engineer=engineer, approver=compliance)

    run = tick(before(80))

    assert [link.model for link in RunwayRisk.objects.all()] == [soon]
    assert run.opened == [the_risk(soon).reference]
    assert not Risk.objects.filter(registered_models__in=[on_nano, far_off]).exists()


def test_one_risk_names_every_affected_deployment(assistant, tick, engineer, compliance):
    canary = version(assistant, "v4b", engineer=engineer)
    releases.promotion_approve(
        promotion=releases.promotion_request(
            version=canary, actor=engineer, target="canary", traffic_percent=10, justification="Try it"
        ),
        actor=compliance,
        reason="Canary",
        override_justification="Tests do not gate",
    )

    tick(before(45))

    risk = Risk.objects.get()
    assert "support-assistant's production v4 and canary v4b stop answering" in risk.statement
    assert sorted(v.version for v in risk.model_versions.all()) == ["v4", "v4b"]
    assert TreatmentAction.objects.count() == 1


def test_promoting_a_version_on_an_active_base_closes_the_risk(assistant, tick, engineer, compliance, owners):
    tick(before(20))
    v5 = version(assistant, "v5", engineer=engineer, base_model=NANO)
    deploy(v5, engineer=engineer, approver=compliance)
    emails = len(mail.outbox)

    run = tick(before(19))

    risk = the_risk(assistant)
    reason = f"production now runs v5 on {NANO} (no shutdown announced)"
    assert run.closed == [risk.reference]
    assert risk.status == RiskStatus.CLOSED
    row = risk.history.first()
    assert row.history_change_reason == f"Closed by Fineprint: {reason}"
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    action = risk.actions.get()
    assert action.status == ActionStatus.DONE and action.completed_at is not None
    assert action.history.first().history_change_reason == f"Done: {reason}"
    assert RunwayRisk.objects.get().closed_at is not None
    assert len(mail.outbox) == emails
    closed = written()
    for _ in range(10):
        tick(before(19))
    assert written() == closed


def test_the_risk_closes_as_soon_as_the_promotion_is_committed(
    assistant, tick, engineer, compliance, eager_celery, django_capture_on_commit_callbacks
):
    tick(before(20))
    v5 = version(assistant, "v5", engineer=engineer, base_model=NANO)

    # No tick: the approval's commit queues the update (registry.signals.deployment_started).
    with django_capture_on_commit_callbacks(execute=True):
        deploy(v5, engineer=engineer, approver=compliance)

    risk = the_risk(assistant)
    assert risk.status == RiskStatus.CLOSED
    assert risk.history.first().history_change_reason == (
        f"Closed by Fineprint: production now runs v5 on {NANO} (no shutdown announced)"
    )
    assert risk.history.first().history_source == Source.TASK


def test_a_withdrawn_date_closes_the_risk_and_cancels_its_action(assistant, tick, catalogue):
    tick(before(40))
    catalogue.model_set(MINI, None)
    catalogue_sync(on=before(39))

    tick(before(39))

    risk = the_risk(assistant)
    reason = f"OpenAI withdrew the shutdown date of {MINI} (no shutdown announced); production runs v4 on it"
    assert risk.status == RiskStatus.CLOSED
    assert risk.history.first().history_change_reason == f"Closed by Fineprint: {reason}"
    assert risk.actions.get().status == ActionStatus.CANCELLED


def test_a_date_announced_again_opens_a_new_risk(assistant, tick, catalogue):
    tick(before(40))
    catalogue.model_set(MINI, None)
    catalogue_sync(on=before(39))
    tick(before(39))
    catalogue.model_set(MINI, SHUTDOWN.isoformat())
    catalogue_sync(on=before(38))

    tick(before(38))

    assert list(RunwayRisk.objects.values_list("closed_at", flat=True).order_by("id"))[1] is None
    assert Risk.objects.filter(status=RiskStatus.CLOSED).count() == 1
    assert Risk.objects.exclude(status=RiskStatus.CLOSED).count() == 1


def test_a_postponed_date_restates_the_risk_and_its_action(assistant, tick, catalogue):
    tick(before(20))
    catalogue.model_set(MINI, "2027-02-01")
    catalogue_sync(on=before(19))

    tick(before(19))

    risk = the_risk(assistant)
    assert risk.title == f"support-assistant: base model {MINI} shuts down 2027-02-01"
    assert risk.residual_band == "medium"  # 37 days left: back within the warning window only
    action = risk.actions.get()
    assert (action.action, action.due_on) == (
        "Migrate support-assistant to an active base model before 2027-02-01",
        date(2027, 1, 31),
    )
    assert risk.history.first().history_change_reason.startswith(
        f"Restated by Fineprint: OpenAI moved the shutdown of {MINI} from 2027-01-14 to 2027-02-01; 37 days left"
    )
    assert len(mail.outbox) == 2  # the 30-day email was sent: the good news of a later date sends none


def test_a_risk_first_seen_a_week_out_gets_only_the_7_day_email(assistant, tick, owners):
    tick(before(5))

    assert the_risk(assistant).residual_band == "critical"
    assert [m.subject[-13:] for m in mail.outbox] == ["(5 days left)", "(5 days left)"]
    assert set(RunwayNotice.objects.values_list("stage", flat=True)) == {"imminent"}


def test_the_shutdown_day_scores_25_and_sends_nothing_more(assistant, tick):
    tick(before(7))
    tick(SHUTDOWN)

    risk = the_risk(assistant)
    assert (risk.residual_band, risk.residual_score) == ("critical", 25)
    assert risk.history.first().history_change_reason == (
        f"{MINI} shut down on 2027-01-14 (the shutdown date has come): "
        "residual Critical (5 x 4 = 20) -> Critical (5 x 5 = 25)"
    )
    assert len(mail.outbox) == 2


def test_a_risk_closed_by_hand_while_still_retiring_is_reopened(assistant, tick, compliance):
    tick(before(50))
    risk_services.risk_close(risk=the_risk(assistant), actor=compliance, reason="Not our problem")

    tick(before(49))

    risk = the_risk(assistant)
    assert risk.status == RiskStatus.IN_TREATMENT
    assert risk.history.first().history_change_reason.startswith(
        f"Reopened by Fineprint: production v4 of support-assistant still on {MINI}"
    )


def test_an_acceptance_ends_when_the_risk_turns_critical(assistant, tick, compliance):
    tick(before(20))
    acceptance = risk_services.risk_accept(
        risk=the_risk(assistant),
        actor=compliance,
        rationale="Migration booked for next week",
        expires_at=timezone.now() + timedelta(days=30),
    )

    tick(before(7))

    acceptance.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.REVOKED
    assert the_risk(assistant).status == RiskStatus.OPEN


def test_a_score_set_by_hand_stands_until_the_next_stage(assistant, tick, compliance):
    tick(before(60))
    risk_services.risk_update(
        risk=the_risk(assistant),
        actor=compliance,
        data={"residual_likelihood": 1, "residual_impact": 4},
        reason="v5 is ready and gated",
    )

    tick(before(59))
    assert the_risk(assistant).residual_score == 4
    tick(before(30))
    assert the_risk(assistant).residual_score == 12


def test_a_failed_send_is_retried_on_the_next_tick(assistant, tick):
    with mock.patch("risks.lifecycle.send_mail", side_effect=ConnectionRefusedError("no SMTP")):
        tick(before(80))
    assert mail.outbox == []
    assert set(RunwayNotice.objects.values_list("status", "attempts")) == {(NoticeStatus.PENDING, 1)}

    tick(before(79))

    assert len(mail.outbox) == 2
    assert set(RunwayNotice.objects.values_list("status", "attempts")) == {(NoticeStatus.SENT, 2)}


def test_a_claimed_notice_is_sent_by_nobody_else_until_its_lease_ends(assistant, clock, tick):
    with mock.patch("risks.lifecycle.runway_notices_send"):
        tick(before(80))  # owed, not sent: as if the worker died right after the commit
    notice = RunwayNotice.objects.first()
    RunwayNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENDING, claimed_at=timezone.now())

    assert runway_notices_send().sent == 1  # the other owner's
    assert runway_notices_send().sent == 0
    clock.advance(minutes=16)
    assert runway_notices_send().sent == 1  # the lease ended: at least once
    assert len(mail.outbox) == 2


def test_the_task_acts_as_the_service_account_from_a_task(assistant, clock, django_capture_on_commit_callbacks):
    clock.at(at(before(60)))

    with django_capture_on_commit_callbacks(execute=True):
        result = lifecycle_risks_update_task()

    assert result["on"] == before(60).isoformat()
    assert result["opened"] == [the_risk(assistant).reference]
    row = the_risk(assistant).history.last()
    assert (row.history_user.username, row.history_source) == (settings.FINEPRINT_SERVICE_USERNAME, Source.TASK)
