"""The register's lists say what a status means for the reader: bad news in red words, never a green tick."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.demo import demo_clock
from risks import controls, incidents, services
from tests.risks.conftest import in_days, risk_payload

ICONS = ("icon-yes.svg", "icon-no.svg")  # Django's boolean ticks and crosses


@pytest.fixture
def client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def _row(page: str, text: str) -> str:
    """The changelist row holding `text`."""
    [row] = [r for r in page.split("<tr")[1:] if text in r]
    return row


def _badges(row: str) -> set[tuple[str, str]]:
    """(tone, words) of every status badge in a row."""
    return {(tone, words.strip()) for tone, words in re.findall(r'class="fp-badge fp-(\w+)"[^>]*>([^<]*)<', row)}


def _today(days: int):
    return timezone.localdate() + timedelta(days=days)


def _page(client, model_name: str) -> str:
    response = client.get(reverse(f"admin:risks_{model_name}_changelist"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def register(compliance, production_model):
    """'Stale': registered 13 months ago (a medium risk is reviewed every 6), its control breached.
    'Fresh': registered today, its control holding."""
    with demo_clock(timezone.now() - timedelta(days=400)):
        stale = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Stale"))
    fresh = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Fresh"))
    failing = controls.control_create(actor=compliance, name="Refusals above 10%", description="d", risks=[stale])
    holding = controls.control_create(actor=compliance, name="Refusals below 10%", description="d", risks=[fresh])
    # The production version's refusal rate is 0.04: below the first check's minimum, within the second's range.
    controls.metric_check_create(
        control=failing, actor=compliance, metric="refusal_rate", minimum=0.10, watched_models=[production_model]
    )
    controls.metric_check_create(
        control=holding, actor=compliance, metric="refusal_rate", maximum=0.10, watched_models=[production_model]
    )
    controls.metric_checks_evaluate()
    return {"stale": stale, "fresh": fresh, "failing": failing, "holding": holding}


def test_it_shows_the_review_and_breach_columns_in_words(client, register):
    page = _page(client, "risk")

    stale, fresh = _row(page, register["stale"].reference), _row(page, register["fresh"].reference)
    assert _badges(stale) >= {("bad", "Overdue"), ("bad", "Breached")}
    assert _badges(fresh) >= {("neutral", "On time"), ("neutral", "No")}
    assert not any(icon in page for icon in ICONS)


def test_it_keeps_the_risk_lists_key_columns_and_leaves_detail_to_the_page(client, register):
    head = _page(client, "risk").split("<thead>")[1].split("</thead>")[0]

    for column in ("Next review", "Review overdue", "Breached", "Residual", "Status"):
        assert column in head
    for column in ("Category", "Owner", "Inherent"):  # filters, or on the risk's page
        assert column not in head


def test_it_shows_the_next_review_as_a_short_date(client, register):
    risk = register["fresh"]
    risk.refresh_from_db()
    expected = f"{timezone.localtime(risk.next_review_at):%-d %b %Y}"  # e.g. 30 May 2027

    assert f'<td class="field-next_review">{expected}</td>' in _page(client, "risk")


def test_it_marks_a_breached_control_red_and_a_holding_one_green(client, register):
    page = _page(client, "control")

    assert ("bad", "Breached") in _badges(_row(page, register["failing"].reference))
    assert ("good", "Holding") in _badges(_row(page, register["holding"].reference))
    assert not any(icon in page for icon in ICONS)


def test_it_marks_an_overdue_action_red_and_a_future_one_not_at_all(client, compliance, risk):
    late = services.action_create(
        risk=risk, actor=compliance, action="Late guard examples", owner=compliance, due_on=_today(-3)
    )
    services.action_create(
        risk=risk, actor=compliance, action="Future red-team run", owner=compliance, due_on=_today(10)
    )
    done = services.action_create(
        risk=risk, actor=compliance, action="Finished retraining", owner=compliance, due_on=_today(-5)
    )
    services.action_update(item=done, actor=compliance, data={"status": "done"}, reason="Shipped")

    page = _page(client, "treatmentaction")

    assert _badges(_row(page, late.action)) == {("bad", "overdue 3 days")}
    assert _badges(_row(page, "Future red-team run")) == set()
    assert _badges(_row(page, "Finished retraining")) == set()  # done: its date is history, not a warning
    assert not any(icon in page for icon in ICONS)


def test_it_marks_an_acceptance_expiring_within_30_days(client, compliance):
    soon = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Soon"))
    later = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Later"))
    services.risk_accept(risk=soon, actor=compliance, rationale="Short test", expires_at=in_days(12))
    services.risk_accept(risk=later, actor=compliance, rationale="Long test", expires_at=in_days(90))

    page = _page(client, "acceptance")

    assert _badges(_row(page, soon.reference)) >= {("warn", "in 12 days")}
    assert not {tone for tone, _ in _badges(_row(page, later.reference))} & {"warn", "bad"}


def test_it_shows_a_serious_incident_and_its_reporting_clock(client, compliance, production_model):
    version = production_model.versions.get()
    serious = incidents.incident_report(
        actor=compliance,
        version=version,
        title="Harmful dosage advice",
        occurred_at=in_days(-2),
        aware_at=in_days(-1),
        description="d",
        severity="critical",
        serious=True,
        serious_kind="other",
    )
    minor = incidents.incident_report(
        actor=compliance,
        version=version,
        title="Typo in a greeting",
        occurred_at=in_days(-2),
        aware_at=in_days(-1),
        description="d",
        severity="low",
    )

    page = _page(client, "incident")

    serious_row = _row(page, serious.reference)
    assert ("bad", "Serious") in _badges(serious_row)
    assert any(tone == "warn" and words.startswith("in ") for tone, words in _badges(serious_row))
    assert _badges(_row(page, minor.reference)) == set()
    assert not any(icon in page for icon in ICONS)


@pytest.mark.parametrize("model_name", ["risk", "treatmentaction", "control", "acceptance"])
def test_it_lists_in_a_fixed_number_of_queries(client, compliance, model_name):
    def add(n: int) -> None:
        risk = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title=f"Risk {n}"))
        services.action_create(risk=risk, actor=compliance, action=f"Act {n}", owner=compliance, due_on=_today(-1))
        controls.control_create(actor=compliance, name=f"Control {n}", description="d", risks=[risk])
        services.risk_accept(risk=risk, actor=compliance, rationale="Test", expires_at=in_days(20))

    add(1)
    _page(client, model_name)  # warm the session and content types
    with CaptureQueriesContext(connection) as one:
        _page(client, model_name)
    add(2)
    add(3)
    with CaptureQueriesContext(connection) as three:
        _page(client, model_name)

    assert len(three.captured_queries) == len(one.captured_queries)
