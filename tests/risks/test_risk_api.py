"""The risk register over REST: create, read, filter, review, close, reopen; one error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from risks import services
from risks.models import Risk
from tests.risks.conftest import risk_payload

pytestmark = pytest.mark.django_db


def _create(api, user, **overrides):
    return api(user).post("/api/v1/risks/", {"owner": "carla-compliance", **risk_payload(**overrides)}, format="json")


def test_it_creates_a_risk_with_its_reference_scores_bands_and_review_date(api, compliance, registered_model):
    response = _create(api, compliance, models=[registered_model.name])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference"].startswith("RISK-") and len(body["reference"]) == 9
    assert (body["inherent_score"], body["inherent_band"]) == (16, "high")
    assert (body["residual_score"], body["residual_band"]) == (6, "medium")
    assert body["models"] == [registered_model.name]
    assert body["owner"] == "carla-compliance"
    assert body["status"] == "open"
    assert body["overdue"] is False
    assert body["next_review_at"] > timezone.now().isoformat()
    assert body["matrix_version"]


def test_it_never_reuses_a_reference(api, compliance):
    first = _create(api, compliance).json()["reference"]
    refused = _create(api, compliance, inherent_likelihood=9)
    assert refused.status_code == 400
    second = _create(api, compliance).json()["reference"]
    assert int(second.split("-")[1]) == int(first.split("-")[1]) + 1
    assert Risk.objects.filter(reference=first).count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"inherent_likelihood": 6}, "inherent_likelihood"),
        ({"residual_impact": 0}, "residual_impact"),
        ({"category": "bad-luck"}, "category"),
        ({"owner": "nobody-here"}, "owner"),
        ({"models": ["no-such-model"]}, "models.0"),
        ({"versions": ["just-a-name"]}, "versions.0"),
        ({"status": "closed"}, "status"),
        ({"residual_likelihood": 5}, "residual_likelihood"),  # residual above inherent
        ({"statement": ""}, "statement"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_it_refuses_bad_input_with_the_field_and_reason(api, compliance, overrides, field):
    response = _create(api, compliance, **overrides)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert Risk.objects.count() == 0


def test_it_answers_404_for_an_unknown_risk(api, executive):
    response = api(executive).get("/api/v1/risks/RISK-9999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_shows_a_risk_with_actions_controls_evidence_and_incidents(api, executive, risk, control, compliance):
    services.action_create(
        risk=risk, actor=compliance, action="Add 50 guard chats", owner=compliance, due_on=timezone.localdate()
    )
    body = api(executive).get(f"/api/v1/risks/{risk.reference}/").json()
    assert body["status"] == "in_treatment"  # planning an action puts an open risk in treatment
    assert [a["action"] for a in body["actions"]] == ["Add 50 guard chats"]
    assert [c["reference"] for c in body["controls"]] == [control.reference]
    assert body["incidents"] == []
    assert body["acceptances"] == []


def test_it_changes_scores_and_moves_the_review_date_with_the_band(api, compliance, risk):
    before = risk.next_review_at
    response = api(compliance).patch(
        f"/api/v1/risks/{risk.reference}/",
        {"residual_likelihood": 4, "residual_impact": 4, "reason": "Drift seen in October"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["residual_score"], body["residual_band"]) == (16, "high")
    # Medium reviews half-yearly, High quarterly: the next review comes closer.
    assert body["next_review_at"] < before.isoformat()
    last = risk.history.first()
    assert (last.history_user, last.history_change_reason) == (compliance, "Drift seen in October")


def test_it_marks_a_risk_reviewed_and_it_stops_being_overdue(api, compliance, risk):
    Risk.objects.filter(pk=risk.pk).update(next_review_at=timezone.now() - timedelta(days=1))  # time passes
    overdue = api(compliance).get("/api/v1/risks/?overdue=true").json()["results"]
    assert [r["reference"] for r in overdue] == [risk.reference]
    assert overdue[0]["overdue"] is True
    response = api(compliance).post(
        f"/api/v1/risks/{risk.reference}/review/", {"reason": "Quarterly review"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["overdue"] is False
    assert api(compliance).get("/api/v1/risks/?overdue=true").json()["results"] == []
    assert risk.history.first().history_change_reason.endswith("Quarterly review")


def test_it_closes_with_a_reason_and_reopens(api, compliance, risk):
    refused = api(compliance).post(f"/api/v1/risks/{risk.reference}/close/", {}, format="json")
    assert refused.status_code == 400
    assert "reason" in refused.json()["error"]["fields"]
    closed = api(compliance).post(f"/api/v1/risks/{risk.reference}/close/", {"reason": "Model retired"}, format="json")
    assert closed.json()["status"] == "closed"
    again = api(compliance).post(f"/api/v1/risks/{risk.reference}/close/", {"reason": "Twice"}, format="json")
    assert again.status_code == 409
    edit = api(compliance).patch(f"/api/v1/risks/{risk.reference}/", {"title": "New"}, format="json")
    assert edit.status_code == 409
    reopened = api(compliance).post(f"/api/v1/risks/{risk.reference}/reopen/", {"reason": "Back in use"}, format="json")
    assert reopened.json()["status"] == "open"
    reasons = list(risk.history.values_list("history_change_reason", flat=True)[:2])
    assert reasons == ["Reopened: Back in use", "Closed: Model retired"]


def test_it_tracks_treatment_actions_and_their_overdue_flag(api, compliance, risk):
    created = api(compliance).post(
        f"/api/v1/risks/{risk.reference}/actions/",
        {"action": "Retrain with guards", "owner": "carla-compliance", "due_on": "2020-01-01"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["overdue"] is True
    done = api(compliance).patch(
        f"/api/v1/risks/{risk.reference}/actions/{created.json()['id']}/", {"status": "done"}, format="json"
    )
    assert done.status_code == 200
    assert done.json()["overdue"] is False
    assert done.json()["completed_at"]
    missing = api(compliance).patch(
        f"/api/v1/risks/{risk.reference}/actions/999999/", {"status": "done"}, format="json"
    )
    assert missing.status_code == 404


def test_it_filters_the_register_like_the_admin(api, compliance, executive, registered_model, other_engineer):
    services.risk_create(
        actor=compliance,
        owner=compliance,
        registered_models=[registered_model],
        **risk_payload(title="Leaks card numbers", category="data_leak", residual_likelihood=3, residual_impact=4),
    )
    services.risk_create(
        actor=compliance, owner=other_engineer, **risk_payload(title="Slow at peak", category="latency_spikes")
    )
    client = api(executive)

    def titles(query: str) -> list[str]:
        response = client.get(f"/api/v1/risks/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(r["title"] for r in response.json()["results"])

    assert titles("residual_band=high") == ["Leaks card numbers"]
    assert titles("category=latency_spikes") == ["Slow at peak"]
    assert titles("owner=eli-engineer") == ["Slow at peak"]
    assert titles(f"model={registered_model.name}") == ["Leaks card numbers"]
    assert titles("over_appetite=true") == ["Leaks card numbers"]
    assert titles("q=card") == ["Leaks card numbers"]
    assert titles("status=open") == ["Leaks card numbers", "Slow at peak"]
    assert titles("breached=true") == []
    bad = client.get("/api/v1/risks/?residual_band=purple&colour=red")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"residual_band", "colour"}


def test_it_lists_in_a_fixed_number_of_queries(api, compliance, executive, registered_model):
    client = api(executive)
    client.get("/api/v1/risks/")  # authenticate once
    services.risk_create(actor=compliance, owner=compliance, registered_models=[registered_model], **risk_payload())
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/risks/")
    for _ in range(5):
        services.risk_create(actor=compliance, owner=compliance, registered_models=[registered_model], **risk_payload())
    with CaptureQueriesContext(connection) as six:
        response = client.get("/api/v1/risks/")
    assert len(response.json()["results"]) == 6
    assert len(six.captured_queries) == len(one.captured_queries)


def test_it_counts_the_heat_map_by_likelihood_rows_and_impact_columns(api, compliance, executive):
    cells = [((5, 5), (4, 3)), ((5, 5), (4, 3)), ((3, 2), (1, 2)), ((2, 5), (1, 5))]
    for (il, ii), (rl, ri) in cells:
        services.risk_create(
            actor=compliance,
            owner=compliance,
            **risk_payload(inherent_likelihood=il, inherent_impact=ii, residual_likelihood=rl, residual_impact=ri),
        )
    closed = services.risk_create(actor=compliance, owner=compliance, **risk_payload())
    services.risk_close(risk=closed, actor=compliance, reason="Not on the map")
    body = api(executive).get("/api/v1/risks/heatmap/").json()
    assert {"inherent", "residual"} <= set(body)  # the axes and bands are named beside them
    assert [len(row) for row in body["inherent"]] == [5] * 5
    assert body["inherent"][4][4] == 2  # likelihood 5, impact 5
    assert body["inherent"][2][1] == 1
    assert body["inherent"][1][4] == 1
    assert sum(map(sum, body["inherent"])) == 4
    assert body["residual"][3][2] == 2  # likelihood 4, impact 3
    assert body["residual"][0][1] == 1
    assert body["residual"][0][4] == 1
    assert sum(map(sum, body["residual"])) == 4
    filtered = api(executive).get("/api/v1/risks/heatmap/?residual_band=high").json()
    assert sum(map(sum, filtered["residual"])) == 3  # 4x3 (12) twice, and 1x5 lifted to High


def test_it_lists_controls_and_incidents_in_a_fixed_number_of_queries(
    api, compliance, engineer, executive, registered_version
):
    from risks import controls, incidents

    client = api(executive)
    client.get("/api/v1/controls/")  # authenticate once
    model = registered_version.model

    def add_one(n: int) -> None:
        risk = services.risk_create(actor=compliance, owner=compliance, **risk_payload(title=f"Risk {n}"))
        control = controls.control_create(actor=compliance, name=f"Control {n}", description="d", risks=[risk])
        controls.metric_check_create(
            control=control, actor=compliance, metric="refusal_rate", maximum=0.1, watched_models=[model]
        )
        incidents.incident_report(
            actor=engineer,
            title=f"Incident {n}",
            version=registered_version,
            occurred_at=timezone.now() - timedelta(hours=2),
            aware_at=timezone.now() - timedelta(hours=1),
            description="d",
            severity="low",
            risks=[risk],
            examples=[{"prompt": "p", "bad_answer": "b"}],
        )

    add_one(0)
    controls.metric_checks_evaluate()
    counts = {}
    for path in ("/api/v1/controls/", "/api/v1/incidents/"):
        with CaptureQueriesContext(connection) as one:
            client.get(path)
        counts[path] = len(one.captured_queries)
    for n in range(1, 5):
        add_one(n)
    controls.metric_checks_evaluate()
    for path, expected in counts.items():
        with CaptureQueriesContext(connection) as five:
            response = client.get(path)
        assert len(response.json()["results"]) == 5
        assert len(five.captured_queries) == expected, path
