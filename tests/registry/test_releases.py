"""Promotions with four eyes, deployments, rollback, and which version served when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from core.audit import mark_change
from core.roles import Role
from registry import releases, services
from registry.models import Deployment, ModelVersion, Promotion, PromotionStatus, VersionStatus
from tests.conftest import evaluation_payload, make_user, version_payload
from tests.registry.test_data_card import with_clean_data


def evaluated(model, engineer, label: str, baseline: str | None = None, **metrics) -> ModelVersion:
    """A version whose job finished: status evaluating, with an evaluation and clean checked data that pass the default
    gate."""
    evaluation = evaluation_payload(baseline_version=baseline or model.base_model)
    evaluation["metrics"] = {**evaluation["metrics"], **metrics}
    version = services.version_register(
        model=model, actor=engineer, evaluations=[evaluation], **version_payload(version=label)
    )
    version.status = VersionStatus.EVALUATING  # the job sync does this when a job succeeds
    mark_change(version, actor=engineer, reason="test: job succeeded")
    version.save()
    return with_clean_data(version, engineer)


def promote(version, engineer, compliance, target="production", traffic=None, **approval) -> Promotion:
    promotion = releases.promotion_request(
        version=version, actor=engineer, target=target, traffic_percent=traffic, justification="Beats baseline"
    )
    return releases.promotion_approve(
        promotion=promotion, actor=compliance, reason=approval.pop("reason", "Gate passed"), **approval
    )


def status(version) -> str:
    return ModelVersion.objects.get(pk=version.pk).status


def url(version, suffix=""):
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/promotions/{suffix}"


def test_a_requested_and_approved_promotion_takes_effect(api, engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")

    requested = api(engineer).post(
        url(v1), {"target": "production", "justification": "Wins 61% against the base model"}, format="json"
    )
    promotion_id = requested.json()["id"]
    approved = api(compliance).post(url(v1, f"{promotion_id}/approve/"), {"reason": "Gate passed"}, format="json")

    assert requested.status_code == 201
    assert requested.json()["status"] == "pending"
    assert requested.json()["gate"]["passed"] is True
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert body["status"] == "approved"
    assert body["signature_meaning"] == "approved for production"
    assert body["decided_by"] == compliance.username
    assert body["gate"]["passed"] is True
    assert body["policy_version"] is None
    assert len(body["record_sha256"]) == 64
    assert body["overridden"] is False
    assert status(v1) == VersionStatus.PRODUCTION
    live = Deployment.objects.get(ended_at=None)
    assert (live.environment, live.version, live.traffic_percent, live.approved_by) == (
        "production",
        v1,
        100,
        compliance,
    )


@pytest.mark.parametrize("who", ["engineer_with_compliance_role", "superuser"])
def test_nobody_approves_their_own_request(api, registered_model, engineer, who):
    if who == "superuser":
        actor = make_user("root", is_superuser=True, is_staff=True)
    else:
        actor = make_user("dual-role", Role.ENGINEER)
        actor.groups.add(Group.objects.get(name=Role.COMPLIANCE))
    version = evaluated(registered_model, engineer, "v1")
    requested = api(actor).post(url(version), {"target": "production", "justification": "mine"}, format="json")

    response = api(actor).post(url(version, f"{requested.json()['id']}/approve/"), {"reason": "ok"}, format="json")

    assert response.status_code == 403
    assert "Four eyes" in response.json()["error"]["message"]
    assert Promotion.objects.get().status == PromotionStatus.PENDING
    assert not Deployment.objects.exists()


def test_a_failed_gate_needs_a_written_override_which_is_flagged(api, engineer, compliance, registered_model):
    version = evaluated(registered_model, engineer, "v1", p95_latency_ms=2500)
    requested = api(engineer).post(url(version), {"target": "production", "justification": "Urgent"}, format="json")
    approve = url(version, f"{requested.json()['id']}/approve/")

    refused = api(compliance).post(approve, {"reason": "ok"}, format="json")
    overridden = api(compliance).post(
        approve, {"reason": "ok", "override_justification": "Latency SLA waived for the pilot"}, format="json"
    )

    assert refused.status_code == 400
    assert "override_justification" in refused.json()["error"]["fields"]
    assert refused.json()["error"]["gate"]["passed"] is False
    assert overridden.status_code == 200
    assert overridden.json()["overridden"] is True
    assert overridden.json()["gate"]["passed"] is False
    assert "gate overridden" in Promotion.history.first().history_change_reason


def test_a_rejection_records_who_and_why(api, engineer, compliance, registered_model):
    version = evaluated(registered_model, engineer, "v1")
    requested = api(engineer).post(url(version), {"target": "production", "justification": "x"}, format="json")

    response = api(compliance).post(
        url(version, f"{requested.json()['id']}/reject/"), {"reason": "Not before the audit"}, format="json"
    )

    assert response.json()["status"] == "rejected"
    row = Promotion.history.first()
    assert (row.history_user, row.history_change_reason) == (
        compliance,
        "Rejected for production: Not before the audit",
    )
    assert status(version) == VersionStatus.EVALUATING


def test_a_canary_carries_its_share_and_ends_when_its_version_goes_to_production(
    engineer, compliance, registered_model
):
    v1 = evaluated(registered_model, engineer, "v1")
    promote(v1, engineer, compliance, target="canary", traffic=10)
    canary = Deployment.objects.get(environment="canary")

    promote(v1, engineer, compliance, target="production")

    assert canary.traffic_percent == 10
    assert Deployment.objects.get(pk=canary.pk).ended_at is not None
    assert status(v1) == VersionStatus.PRODUCTION
    assert Promotion.objects.filter(target="canary").get().signature_meaning == "approved for canary at 10% of traffic"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"target": "canary", "justification": "x"}, "traffic_percent"),
        ({"target": "canary", "traffic_percent": 51, "justification": "x"}, "traffic_percent"),
        ({"target": "production", "traffic_percent": 10, "justification": "x"}, "traffic_percent"),
        ({"target": "staging", "justification": "x"}, "target"),
        ({"target": "production"}, "justification"),
    ],
)
def test_it_names_a_bad_promotion_request(api, engineer, registered_model, data, field):
    version = evaluated(registered_model, engineer, "v1")

    response = api(engineer).post(url(version), data, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("state", [VersionStatus.TRAINING, VersionStatus.FAILED, VersionStatus.RETIRED])
def test_a_version_still_training_or_out_of_the_running_is_not_promoted(api, engineer, registered_version, state):
    registered_version.status = state
    mark_change(registered_version, actor=engineer, reason="test setup")
    registered_version.save()

    response = api(engineer).post(
        url(registered_version), {"target": "production", "justification": "x"}, format="json"
    )

    assert response.status_code == 409
    assert "cannot be promoted" in response.json()["error"]["message"]


def test_one_pending_promotion_per_version_and_environment(api, engineer, registered_version):
    client = api(engineer)
    first = client.post(url(registered_version), {"target": "production", "justification": "x"}, format="json")
    again = client.post(url(registered_version), {"target": "production", "justification": "x"}, format="json")

    assert (first.status_code, again.status_code) == (201, 409)


def test_a_new_production_version_replaces_the_old_one(engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")
    promote(v1, engineer, compliance)
    v2 = evaluated(registered_model, engineer, "v2", baseline="v1")

    promote(v2, engineer, compliance)

    assert Deployment.objects.filter(environment="production", ended_at=None).get().version == v2
    assert (status(v1), status(v2)) == (VersionStatus.APPROVED, VersionStatus.PRODUCTION)


def test_approving_after_production_changed_is_refused(engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")
    v2 = evaluated(registered_model, engineer, "v2")
    first = releases.promotion_request(version=v1, actor=engineer, target="production", justification="a")
    second = releases.promotion_request(version=v2, actor=engineer, target="production", justification="b")
    releases.promotion_approve(promotion=first, actor=compliance, reason="ok")

    with pytest.raises(Exception, match="changed since this promotion was requested"):
        releases.promotion_approve(promotion=second, actor=compliance, reason="ok")
    assert status(v2) == VersionStatus.EVALUATING


def test_rollback_puts_back_the_previous_version_and_chains(api, engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")
    promote(v1, engineer, compliance)
    v2 = evaluated(registered_model, engineer, "v2", baseline="v1")
    promote(v2, engineer, compliance)
    v3 = evaluated(registered_model, engineer, "v3", baseline="v2")
    promote(v3, engineer, compliance)
    rollback_url = f"/api/v1/models/{registered_model.name}/rollback/"

    first = api(engineer).post(rollback_url, {"reason": "Refund answers regressed"}, format="json")
    second = api(compliance).post(rollback_url, {"reason": "v2 also regressed"}, format="json")
    third = api(engineer).post(rollback_url, {"reason": "again"}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["version"], first.json()["kind"]) == ("v2", "rollback")
    assert first.json()["approved_by"] == compliance.username  # who approved v2 for production
    assert second.json()["version"] == "v1"
    assert (status(v1), status(v2), status(v3)) == (
        VersionStatus.PRODUCTION,
        VersionStatus.ROLLED_BACK,
        VersionStatus.ROLLED_BACK,
    )
    assert third.status_code == 409
    assert "no earlier approved production version" in third.json()["error"]["message"]
    reasons = [r.history_change_reason for r in ModelVersion.history.filter(id=v3.pk, status="rolled_back")]
    assert reasons == ["Rolled back: Refund answers regressed"]


def test_rollback_without_production_is_a_clear_409(api, engineer, registered_model):
    response = api(engineer).post(f"/api/v1/models/{registered_model.name}/rollback/", {"reason": "x"}, format="json")

    assert response.status_code == 409
    assert "no version in production" in response.json()["error"]["message"]


def test_it_answers_what_ran_when_at_the_exact_boundaries(api, executive, engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")
    promote(v1, engineer, compliance)
    v2 = evaluated(registered_model, engineer, "v2", baseline="v1")
    promote(v2, engineer, compliance)
    first, second = Deployment.objects.filter(environment="production").order_by("started_at")
    client = api(executive)

    def serving(at) -> list[str]:
        response = client.get(f"/api/v1/models/{registered_model.name}/deployments/", {"at": at.isoformat()})
        assert response.status_code == 200, response.json()
        return [f"{d['environment']}:{d['version']}" for d in response.json()["environments"]]

    assert serving(first.started_at - timedelta(microseconds=1)) == []
    assert serving(first.started_at) == ["production:v1"]
    assert serving(second.started_at - timedelta(microseconds=1)) == ["production:v1"]
    assert first.ended_at == second.started_at
    assert serving(second.started_at) == ["production:v2"]
    timeline = client.get(f"/api/v1/models/{registered_model.name}/deployments/").json()["timeline"]
    assert [(d["version"], d["approved_by"]) for d in timeline] == [
        ("v1", compliance.username),
        ("v2", compliance.username),
    ]


def test_it_names_a_bad_instant(api, executive, registered_model):
    response = api(executive).get(f"/api/v1/models/{registered_model.name}/deployments/", {"at": "yesterday"})

    assert response.status_code == 400
    assert "at" in response.json()["error"]["fields"]


def test_every_decision_leaves_history_with_user_and_reason(engineer, compliance, registered_model):
    v1 = evaluated(registered_model, engineer, "v1")
    promote(v1, engineer, compliance, reason="Signed off in CAB-17")

    promotion_rows = list(Promotion.history.order_by("history_date", "history_id"))
    deployment_row = Deployment.history.get()
    assert [(r.history_user, r.status) for r in promotion_rows] == [(engineer, "pending"), (compliance, "approved")]
    assert promotion_rows[-1].history_change_reason == "Approved for production: Signed off in CAB-17"
    assert deployment_row.history_user == compliance
    assert "Signed off in CAB-17" in deployment_row.history_change_reason


@pytest.mark.parametrize(
    ("persona", "request_status", "approve_status", "rollback_status"),
    [
        ("engineer", 201, 403, 409),
        ("compliance", 403, None, 409),
        ("executive", 403, 403, 403),
        ("outsider", 403, 403, 403),
        ("anonymous", 401, 401, 401),
    ],
)
def test_who_may_request_approve_and_roll_back(
    api,
    engineer,
    other_engineer,
    compliance,
    executive,
    outsider,
    registered_model,
    persona,
    request_status,
    approve_status,
    rollback_status,
):
    user = {
        "engineer": other_engineer,
        "compliance": compliance,
        "executive": executive,
        "outsider": outsider,
        "anonymous": None,
    }[persona]
    version = evaluated(registered_model, engineer, "v1")
    pending = releases.promotion_request(
        version=version, actor=engineer, target="canary", traffic_percent=5, justification="x"
    )
    client = api(user)

    requested = client.post(url(version), {"target": "production", "justification": "x"}, format="json")
    approved = client.post(url(version, f"{pending.pk}/approve/"), {"reason": "ok"}, format="json")
    rolled = client.post(f"/api/v1/models/{registered_model.name}/rollback/", {"reason": "x"}, format="json")

    assert requested.status_code == request_status
    assert approved.status_code == (approve_status or 200)
    assert rolled.status_code == rollback_status


def test_compliance_approves_in_the_admin_and_the_model_page_shows_the_timeline(engineer, compliance, registered_model):
    from django.test import Client

    version = evaluated(registered_model, engineer, "v1", p95_latency_ms=5000)  # the gate fails
    promotion = releases.promotion_request(version=version, actor=engineer, target="production", justification="x")
    client = Client()
    client.force_login(compliance)
    action = {"action": "approve", "_selected_action": [promotion.pk], "apply": "1", "reason": "CAB-9"}

    client.post("/admin/registry/promotion/", action)
    refused = Promotion.objects.get(pk=promotion.pk).status
    client.post("/admin/registry/promotion/", {**action, "override_justification": "Pilot only"})
    listing = client.get("/admin/registry/promotion/").content.decode()
    page = client.get(f"/admin/registry/registeredmodel/{registered_model.pk}/change/").content.decode()

    assert refused == PromotionStatus.PENDING  # no override, no approval
    assert Promotion.objects.get(pk=promotion.pk).status == PromotionStatus.APPROVED
    assert Promotion.objects.get(pk=promotion.pk).override_justification == "Pilot only"
    assert "Failed, overridden" in listing  # the override flag, in words
    assert "Deployment timeline" in page
    assert "Approved for production" in page or "approved for production" in page


def test_an_approval_fingerprints_the_record_it_approved(engineer, compliance, registered_model):
    version = evaluated(registered_model, engineer, "v1")
    promotion = releases.promotion_request(
        version=version, actor=engineer, target="canary", traffic_percent=5, justification="x"
    )
    before = releases.version_record_sha256(version)

    approved = releases.promotion_approve(promotion=promotion, actor=compliance, reason="ok")
    services.evaluation_record(version=version, actor=engineer, **evaluation_payload(suite="later"))

    assert approved.record_sha256 == before  # the record as the approver saw it
    assert releases.version_record_sha256(version) != approved.record_sha256  # later changes show
