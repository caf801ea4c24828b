"""The admin's home is Fineprint's dashboard: what needs doing, for the person logged in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.demo import demo_clock
from registry import gates, releases
from registry import services as registry_services
from risks import controls, incidents
from risks import services as risk_services
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload
from tests.risks.conftest import deploy, in_days, risk_payload

TECHNICAL = ("Crontabs", "Intervals", "Webhook receipts", "Periodic tasks", "Idempotency records")


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _panels(client) -> dict:
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return {panel.title: panel for panel in response.context["panels"]}


def _labels(panel) -> list[str]:
    return [row.label for row in panel.rows]


@pytest.fixture
def approver(db):
    from core.roles import Role

    return make_user("ada-approver", Role.COMPLIANCE, is_staff=True)


@pytest.fixture
def production_model(engineer, approver):
    model = registry_services.model_create(actor=engineer, **model_payload())
    version = registry_services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(metrics={"win_rate": 0.61, "refusal_rate": 0.04, "p95_latency_ms": 950})],
        **version_payload(version="v-prod"),
    )
    deploy(version, engineer=engineer, approver=approver)
    return model


@pytest.fixture
def register(compliance, approver, production_model):
    """Each kind of record twice: one the dashboard must show, one it must leave out."""
    with demo_clock(timezone.now() - timedelta(days=400)):  # a medium risk is reviewed every 6 months
        stale = risk_services.risk_create(actor=compliance, owner=approver, **risk_payload(title="Stale"))
    fresh = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload(title="Fresh"))
    failing = controls.control_create(
        actor=compliance, name="Refusals above 10%", description="d", risks=[stale], owner=compliance
    )
    holding = controls.control_create(actor=compliance, name="Refusals below 10%", description="d", risks=[fresh])
    # Production's refusal rate is 0.04: below the first check's minimum, within the second's range.
    controls.metric_check_create(
        control=failing, actor=compliance, metric="refusal_rate", minimum=0.10, watched_models=[production_model]
    )
    controls.metric_check_create(
        control=holding, actor=compliance, metric="refusal_rate", maximum=0.10, watched_models=[production_model]
    )
    controls.metric_checks_evaluate()
    soon = risk_services.risk_accept(risk=fresh, actor=compliance, rationale="Short", expires_at=in_days(12))
    later = risk_services.risk_accept(risk=stale, actor=compliance, rationale="Long", expires_at=in_days(90))
    version = production_model.versions.get()
    still_open = _incident(compliance, version, "Refund promised", aware_days_ago=1)
    closed = _incident(compliance, version, "Typo in a greeting", aware_days_ago=1)
    incidents.incident_close(incident=closed, actor=compliance, reason="Fixed the greeting")
    return {
        "stale": stale,
        "fresh": fresh,
        "failing": failing,
        "holding": holding,
        "soon": soon,
        "later": later,
        "open": still_open,
        "closed": closed,
    }


def _incident(actor, version, title: str, *, aware_days_ago: float, serious_kind: str = ""):
    return incidents.incident_report(
        actor=actor,
        version=version,
        title=title,
        occurred_at=in_days(-aware_days_ago - 1),
        aware_at=in_days(-aware_days_ago),
        description="d",
        severity="high" if serious_kind else "low",
        serious=bool(serious_kind),
        serious_kind=serious_kind,
    )


def _pending(engineer, compliance, *, win_rate: float, minimum: float):
    """A pending production promotion of a new version, judged by a one-rule gate win_rate >= minimum."""
    model = registry_services.model_create(actor=engineer, **model_payload())
    gates.gate_policy_create(
        model=model, actor=compliance, rules=[{"metric": "win_rate", "min": minimum}], reason="One rule for tests"
    )
    version = registry_services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(metrics={"win_rate": win_rate, "refusal_rate": 0.04, "p95_latency_ms": 900})],
        **version_payload(),
    )
    return releases.promotion_request(version=version, actor=engineer, target="production", justification="Ready")


def test_it_brands_the_admin_fineprint_and_sends_view_site_to_the_landing_page(compliance):
    page = _login(compliance).get(reverse("admin:index")).content.decode()

    assert "<title>What needs doing | Fineprint</title>" in page
    assert '<a href="/admin/">Fineprint</a>' in page
    assert "Django administration" not in page
    assert '<a href="/">View site</a>' in page


def test_it_shows_compliance_each_thing_that_needs_doing_and_nothing_else(compliance, register):
    panels = _panels(_login(compliance))

    r = register
    assert _labels(panels["Overdue reviews"]) == [f"{r['stale'].reference} Stale"]
    assert _labels(panels["Breached controls"]) == [f"{r['failing'].reference} Refusals above 10%"]
    assert _labels(panels["Acceptances expiring within 30 days"]) == [f"{r['fresh'].reference} Fresh"]
    assert _labels(panels["Open incidents"]) == [f"{r['open'].reference} Refund promised"]
    assert panels["Promotions waiting for a decision"].count == 0
    assert "No promotion is waiting for a decision." in _login(compliance).get("/admin/").content.decode()


def test_it_marks_what_belongs_to_the_person_logged_in(compliance, register):
    panels = _panels(_login(compliance))

    assert [row.yours for row in panels["Overdue reviews"].rows] == [False]  # the approver owns it
    assert [row.yours for row in panels["Breached controls"].rows] == [True]
    assert [row.yours for row in panels["Acceptances expiring within 30 days"].rows] == [True]


def test_it_links_each_count_to_the_list_filtered_to_the_same_records(compliance, register, engineer):
    _pending(engineer, compliance, win_rate=0.61, minimum=0.55)
    client = _login(compliance)
    index = client.get(reverse("admin:index"))
    panels = {panel.title: panel for panel in index.context["panels"]}

    for panel in panels.values():
        assert f'href="{panel.list_url.replace("&", "&amp;")}"' in index.content.decode()
    changelists = [title for title in panels if not title.startswith("Live deployments")]
    for title in changelists:
        panel = panels[title]
        listed = client.get(panel.list_url)
        assert listed.status_code == 200, title
        assert listed.context["cl"].result_count == panel.count == 1, title


def test_it_shows_each_pending_promotion_with_its_gate_result(compliance, engineer):
    passing = _pending(engineer, compliance, win_rate=0.61, minimum=0.55)
    failing = _pending(engineer, compliance, win_rate=0.40, minimum=0.55)

    rows = _panels(_login(compliance))["Promotions waiting for a decision"].rows

    assert [(row.label, row.badge, row.tone) for row in rows] == [
        (f"{passing.version} to production", "Gate passes", "good"),
        (f"{failing.version} to production", "Gate fails", "bad"),
    ]
    assert "Gate fails on win_rate >= 0.55 (fail)." in rows[1].detail
    assert rows[0].detail == f"Requested by {engineer.username} on {timezone.localdate():%Y-%m-%d}."


def test_it_shows_the_reporting_clock_of_each_open_serious_incident(compliance, production_model):
    version = production_model.versions.get()
    due = _incident(compliance, version, "Harmful dosage advice", aware_days_ago=0.5, serious_kind="infrastructure")
    late = _incident(compliance, version, "Leaked an address", aware_days_ago=20, serious_kind="other")
    minor = _incident(compliance, version, "Typo", aware_days_ago=1)

    rows = {row.label: row for row in _panels(_login(compliance))["Open incidents"].rows}

    late_row, due_row = rows[f"{late.reference} Leaked an address"], rows[f"{due.reference} Harmful dosage advice"]
    late_by = (timezone.localdate() - timezone.localdate(late.reporting_deadline)).days  # 20 - 15 days
    assert (late_row.badge, late_row.tone) == ("Report late", "bad")
    assert f"was due {timezone.localdate(late.reporting_deadline):%Y-%m-%d} ({late_by} days ago)" in late_row.detail
    assert (due_row.badge, due_row.tone) == ("Report due", "bad")
    assert f"due by {timezone.localdate(due.reporting_deadline):%Y-%m-%d}" in due_row.detail
    assert "no report to the authority is due" in rows[f"{minor.reference} Typo"].detail
    # Serious ones first, the later deadline after the earlier.
    assert list(rows)[:2] == [f"{late.reference} Leaked an address", f"{due.reference} Harmful dosage advice"]


def test_it_shows_an_engineer_the_register_but_not_the_promotions_to_decide(engineer, compliance, register):
    engineer.is_staff = True
    engineer.save()
    _pending(engineer, compliance, win_rate=0.61, minimum=0.55)

    panels = _panels(_login(engineer))

    assert "Promotions waiting for a decision" not in panels
    assert panels["Overdue reviews"].count == 1


def test_it_hides_technical_models_from_compliance_and_shows_them_to_a_superuser(compliance):
    admin_user = make_user("root", is_staff=True, is_superuser=True)

    for_compliance = _login(compliance).get(reverse("admin:index")).content.decode()
    for_superuser = _login(admin_user).get(reverse("admin:index")).content.decode()

    assert [name for name in TECHNICAL if name in for_compliance] == []
    assert [name for name in TECHNICAL[:4] if name in for_superuser] == list(TECHNICAL[:4])
    assert _login(compliance).get("/admin/django_celery_beat/").status_code == 404
    assert "Risks" in for_compliance


def test_it_builds_the_dashboard_in_a_fixed_number_of_queries(compliance, register):
    client = _login(compliance)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(captured)

    before = queries()
    for n in range(3):
        with demo_clock(timezone.now() - timedelta(days=400)):
            risk = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload(title=f"Old {n}"))
        risk_services.risk_accept(risk=risk, actor=compliance, rationale="Short", expires_at=in_days(5 + n))
        _incident(compliance, register["open"].version, f"Another {n}", aware_days_ago=2)

    assert queries() == before
