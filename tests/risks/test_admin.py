"""Compliance staff in the risk register's admin: lists and filters, the risk page, the heat map, the actions."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.audit import Source
from core.roles import Role
from risks import controls, incidents, services
from risks.models import Acceptance, AcceptanceStatus, Incident, IncidentStatus, Risk, RiskStatus
from risks.scoring import matrix
from tests.conftest import make_user
from tests.risks.conftest import in_days, risk_payload

CHANGELIST = "admin:risks_risk_changelist"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(compliance) -> Client:
    return _client(compliance)


def _listed(response) -> set[str]:
    """The references of the risks a changelist shows, one per row."""
    return set(re.findall(r'class="field-reference"><a href="[^"]*">(RISK-\d+)</a>', response.content.decode()))


def _new_risk(actor, **overrides) -> Risk:
    return services.risk_create(actor=actor, owner=overrides.pop("owner", actor), **risk_payload(**overrides))


def _inline_management() -> dict:
    """The management forms of the risk page's read-only inlines (actions, acceptances), all empty."""
    return {
        f"{prefix}-{name}": "0"
        for prefix in ("actions", "acceptances")
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
    }


def _act(client, action: str, objects, **data):
    """Post a list action with its form filled in, as the confirmation page does."""
    url = reverse(f"admin:risks_{objects[0]._meta.model_name}_changelist")
    return client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects], "apply": "1", **data}, follow=True
    )


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _incident(actor, version, **overrides) -> Incident:
    return incidents.incident_report(
        actor=actor,
        version=version,
        **{
            "title": "Promised a refund outside policy",
            "occurred_at": in_days(-2),
            "aware_at": in_days(-1),
            "description": "The assistant promised a full refund after 90 days.",
            "severity": "high",
            **overrides,
        },
    )


# --- Lists and filters -----------------------------------------------------------------------------------------------


@pytest.fixture
def register(compliance, risk, control, production_model):
    """One record of every kind the admin lists, around `risk` and its `control`."""
    version = production_model.versions.get()
    action = services.action_create(
        risk=risk, actor=compliance, action="Add 300 guard examples on refunds", owner=compliance, due_on=in_days(30)
    )
    document = controls.document_evidence_add(
        control=control,
        actor=compliance,
        title="Q1 refusal-rate review",
        url="https://wiki.example.com/q1-review",
        period_start=in_days(-90).date(),
        period_end=in_days(-1).date(),
        reviewer=compliance,
        verdict="effective",
    )
    check = controls.metric_check_create(
        control=control,
        actor=compliance,
        metric="refusal_rate",
        minimum=0.02,
        maximum=0.08,
        watched_models=[production_model],
    )
    controls.metric_checks_evaluate()
    accepted = _new_risk(compliance, title="Slow answers at peak", category="latency_spikes")
    acceptance = services.risk_accept(
        risk=accepted, actor=compliance, rationale="Peak is two hours a week", expires_at=in_days(90)
    )
    incident = _incident(compliance, version, risks=[risk])
    example = incidents.incident_example_add(
        incident=incident, actor=compliance, prompt="Can I get my money back after 4 months?", bad_answer="Yes, always."
    )
    return {
        "risk": risk,
        "action": action,
        "acceptance": acceptance,
        "control": control,
        "document": document,
        "check": check,
        "incident": incident,
        "example": example,
        "model": production_model,
    }


def test_it_lists_every_record_of_the_register(admin_client, register):
    shown = {
        "risk": register["risk"].reference,
        "treatmentaction": register["action"].action,
        "acceptance": register["acceptance"].risk.reference,
        "control": register["control"].reference,
        "documentevidence": register["document"].title,
        "metriccheck": str(register["control"]),
        "metriccheckresult": str(register["check"]),
        "incident": register["incident"].reference,
        "incidentexample": register["example"].prompt,
    }

    # One changelist after the other on the same register: building it once keeps the file fast.
    missing = {}
    for model_name, text in shown.items():
        response = admin_client.get(reverse(f"admin:risks_{model_name}_changelist"))
        if response.status_code != 200 or text not in response.content.decode():
            missing[model_name] = (response.status_code, text)

    assert missing == {}


@pytest.fixture
def two_risks(compliance, approver, registered_model):
    """A: high residual, safety breach, draft, overdue, breached, owned by the approver, about a model.
    B: medium residual, policy violation, open, reviewed on time, owned by compliance, about no model."""
    a = _new_risk(
        compliance,
        owner=approver,
        title="Unsafe medical advice",
        category="safety_breach",
        status="draft",
        residual_likelihood=3,
        residual_impact=4,
        registered_models=[registered_model],
    )
    b = _new_risk(compliance, title="Refund promises")
    Risk.objects.filter(pk=a.pk).update(next_review_at=in_days(-1), breached=True)
    return {"a": a, "b": b}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("residual_band=high", "a"),
        ("residual_band=medium", "b"),
        ("category=policy_violation", "b"),
        ("status=open", "b"),
        ("overdue=yes", "a"),
        ("overdue=no", "b"),
        ("over_appetite=yes", "a"),
        ("over_appetite=no", "b"),
        ("breached=1", "a"),
        ("owner__id__exact={approver}", "a"),
        ("registered_models__id__exact={model}", "a"),
        ("q={b_reference}", "b"),
    ],
)
def test_it_filters_and_searches_the_risk_list(admin_client, two_risks, approver, registered_model, query, expected):
    query = query.format(approver=approver.pk, model=registered_model.pk, b_reference=two_risks["b"].reference)

    response = admin_client.get(f"{reverse(CHANGELIST)}?{query}")

    assert response.status_code == 200
    assert _listed(response) == {two_risks[expected].reference}


# --- The risk page ---------------------------------------------------------------------------------------------------


@pytest.fixture
def risk_page(admin_client, register):
    return admin_client.get(reverse("admin:risks_risk_change", args=[register["risk"].pk])).content.decode()


def test_it_shows_inherent_and_residual_scores_side_by_side(risk_page):
    # risk_payload: inherent 4 x 4 = 16, High; residual 2 x 3 = 6, Medium.
    assert re.search(
        r"<th>Inherent \(before controls\)</th><td>4 - Likely</td><td>4 - Major</td><td>16</td>"
        r"<td><span[^>]*>High</span>",
        risk_page,
    )
    assert re.search(
        r"<th>Residual \(after controls\)</th><td>2 - Unlikely</td><td>3 - Moderate</td><td>6</td>"
        r"<td><span[^>]*>Medium</span>",
        risk_page,
    )
    assert "within appetite" in risk_page


def test_it_shows_the_treatment_actions_of_a_risk(risk_page, register):
    assert register["action"].action in risk_page


def test_it_shows_the_controls_of_a_risk_with_their_latest_evidence(risk_page, register):
    control, model = register["control"], register["model"]

    assert f'href="{reverse("admin:risks_control_change", args=[control.pk])}">{control.reference}</a>' in risk_page
    assert f"refusal_rate on {model.name}: PASS (refusal_rate = 0.04 on {model.name}:v-prod" in risk_page
    assert f"{register['document'].title}: Effective" in risk_page


def test_it_shows_the_incidents_of_a_risk(risk_page, register):
    incident = register["incident"]

    assert f'href="{reverse("admin:risks_incident_change", args=[incident.pk])}">{incident.reference}</a>' in risk_page


def test_it_shows_the_recent_history_of_a_risk(risk_page, register):
    risk = register["risk"]

    assert f"<td>carla-compliance</td><td>system</td><td>Risk {risk.reference} recorded</td>" in risk_page
    assert "In treatment: action planned" in risk_page


# --- The heat map ----------------------------------------------------------------------------------------------------


@pytest.fixture
def mapped(compliance):
    """Two open risks at residual (2, 3), one at (3, 4), one closed at (2, 3); all inherent (4, 4)."""
    risks = {
        "low_a": _new_risk(compliance, title="Cell 2-3 a"),
        "low_b": _new_risk(compliance, title="Cell 2-3 b"),
        "other": _new_risk(compliance, title="Cell 3-4", residual_likelihood=3, residual_impact=4),
        "closed": _new_risk(compliance, title="Cell 2-3 closed"),
    }
    services.risk_close(risk=risks["closed"], actor=compliance, reason="Model retired")
    return risks


def _cell(page: str, kind: str, likelihood: int, impact: int) -> tuple[str, int]:
    """The link and count of a cell of the heat map."""
    found = re.search(
        rf'<a href="([^"]*\?{kind}_likelihood={likelihood}&amp;{kind}_impact={impact}&amp;[^"]*)"[^>]*>(\d+)</a>', page
    )
    assert found, f"no link in the {kind} cell ({likelihood}, {impact})"
    return html_lib.unescape(found[1]), int(found[2])


def test_it_counts_open_risks_per_cell_on_the_heat_map(admin_client, mapped):
    response = admin_client.get(reverse("admin:risks_risk_heatmap"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "3 risks on the map" in page
    assert _cell(page, "residual", 2, 3)[1] == 2
    assert _cell(page, "residual", 3, 4)[1] == 1
    assert _cell(page, "inherent", 4, 4)[1] == 3


def test_it_links_a_heat_map_cell_to_its_open_risks(admin_client, mapped):
    page = admin_client.get(reverse("admin:risks_risk_heatmap")).content.decode()
    link, _count = _cell(page, "residual", 2, 3)

    response = admin_client.get(link)

    assert response.status_code == 200
    assert _listed(response) == {mapped["low_a"].reference, mapped["low_b"].reference}


def test_it_links_to_the_heat_map_from_the_risk_list(admin_client):
    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert f'href="{reverse("admin:risks_risk_heatmap")}"' in page


# --- Adding a risk ---------------------------------------------------------------------------------------------------


def _add_form(owner, **overrides) -> dict:
    payload = risk_payload()
    return {
        **{f: payload[f] for f in ("title", "statement", "category", "treatment", "mitigation")},
        **{f: payload[f] for f in Risk.SCALE_FIELDS},
        "owner": owner.pk,
        "delegate": "",
        "status": "open",
        "change_reason": "Found in the March red-team exercise",
        **_inline_management(),
        **overrides,
    }


def test_it_adds_a_risk_with_a_reference_and_the_reason_in_its_history(admin_client, compliance, registered_model):
    response = admin_client.post(
        reverse("admin:risks_risk_add"), _add_form(compliance, registered_models=[registered_model.pk])
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    risk = Risk.objects.get()
    assert risk.reference.startswith("RISK-")
    assert (risk.residual_score, risk.residual_band) == (6, "medium")
    assert list(risk.registered_models.all()) == [registered_model]
    assert {(row.history_user, row.history_change_reason) for row in risk.history.all()} == {
        (compliance, "Found in the March red-team exercise")
    }


def test_it_refuses_to_add_a_risk_without_a_reason(admin_client, compliance):
    response = admin_client.post(reverse("admin:risks_risk_add"), _add_form(compliance, change_reason=""))

    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors
    assert "This field is required" in response.content.decode()
    assert not Risk.objects.exists()


def test_it_changes_a_risk_with_the_reason_in_its_history(admin_client, compliance, risk):
    url = reverse("admin:risks_risk_change", args=[risk.pk])

    response = admin_client.post(
        url, _add_form(compliance, residual_likelihood=3, residual_impact=4, change_reason="Seen twice in May")
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    risk.refresh_from_db()
    assert (risk.residual_score, risk.residual_band) == (12, "high")
    row = risk.history.first()
    assert (row.history_user, row.history_source, row.history_change_reason) == (
        compliance,
        Source.ADMIN,
        "Seen twice in May",
    )


# --- Actions ---------------------------------------------------------------------------------------------------------


def test_it_marks_a_risk_reviewed(admin_client, compliance, risk):
    before = timezone.now()

    response = _act(admin_client, "mark_reviewed", [risk], reason="Quarterly review with the model owner")

    assert response.status_code == 200
    risk.refresh_from_db()
    assert risk.last_reviewed_at >= before
    assert risk.next_review_at == matrix().next_review(risk.residual_band, risk.last_reviewed_at)
    row = risk.history.first()
    assert row.history_user == compliance
    assert "Quarterly review with the model owner" in row.history_change_reason


def test_it_asks_for_the_acceptance_before_accepting(admin_client, risk):
    response = admin_client.post(reverse(CHANGELIST), {"action": "accept", "_selected_action": [risk.pk]})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="rationale"' in page and 'name="expires_at"' in page
    risk.refresh_from_db()
    assert risk.status == RiskStatus.OPEN


def test_it_accepts_a_risk_with_a_rationale_until_a_date(admin_client, compliance, risk):
    expires = timezone.localtime(in_days(90)).replace(second=0, microsecond=0)

    _act(
        admin_client,
        "accept",
        [risk],
        rationale="Within appetite once the guard examples ship",
        conditions="Review after the next release",
        expires_at=expires.strftime("%Y-%m-%d %H:%M"),
    )

    risk.refresh_from_db()
    acceptance = risk.acceptances.get()
    assert risk.status == RiskStatus.ACCEPTED
    assert (acceptance.status, acceptance.accepted_by, acceptance.expires_at) == (
        AcceptanceStatus.ACTIVE,
        compliance,
        expires,
    )
    assert acceptance.rationale == "Within appetite once the guard examples ship"


def test_it_refuses_to_accept_a_critical_risk(admin_client, compliance):
    critical = _new_risk(compliance, inherent_likelihood=5, inherent_impact=5, residual_likelihood=5, residual_impact=5)

    response = _act(
        admin_client,
        "accept",
        [critical],
        rationale="We can live with it",
        expires_at=timezone.localtime(in_days(30)).strftime("%Y-%m-%d %H:%M"),
    )

    assert any("a Critical risk cannot be accepted" in m for m in _messages(response))
    critical.refresh_from_db()
    assert critical.status == RiskStatus.OPEN
    assert not Acceptance.objects.exists()


def test_it_closes_a_risk_with_the_reason_in_its_history(admin_client, compliance, risk):
    response = _act(admin_client, "close", [risk], reason="The model was retired")

    assert any("closed" in m for m in _messages(response))
    risk.refresh_from_db()
    assert risk.status == RiskStatus.CLOSED
    row = risk.history.first()
    assert row.history_user == compliance
    assert "The model was retired" in row.history_change_reason


# --- Who may do what -------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_executive(db):
    return make_user("eva-executive", Role.EXECUTIVE, is_staff=True)


def test_it_keeps_an_executive_out_of_the_risk_register(staff_executive, risk):
    """Executives read the register through the monthly report; the admin gives them the report archive only."""
    client = _client(staff_executive)

    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse("admin:risks_risk_change", args=[risk.pk])).status_code == 403
    assert client.get(reverse("admin:risks_risk_heatmap")).status_code == 403


def test_it_refuses_an_executive_adding_a_risk(staff_executive):
    response = _client(staff_executive).post(reverse("admin:risks_risk_add"), _add_form(staff_executive))

    assert response.status_code == 403
    assert not Risk.objects.exists()


def test_it_refuses_the_heat_map_to_staff_without_a_role(db):
    outsider = make_user("otto-outsider", is_staff=True)

    assert _client(outsider).get(reverse("admin:risks_risk_heatmap")).status_code == 403


# --- Incidents -------------------------------------------------------------------------------------------------------


def test_it_refuses_to_close_a_serious_incident_without_root_cause_and_fix(admin_client, compliance, production_model):
    incident = _incident(compliance, production_model.versions.get(), serious=True, serious_kind="other")

    response = _act(admin_client, "close", [incident], reason="Handled")

    assert any("root cause and fix" in m for m in _messages(response))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN
    assert incident.closed_at is None
