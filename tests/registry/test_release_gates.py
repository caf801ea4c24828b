"""Gate policies, versioned per model, and a version judged against them rule by rule."""

from __future__ import annotations

import pytest

from core.audit import mark_change
from registry import gates, services
from registry.models import GatePolicy, VersionStatus
from tests.conftest import evaluation_payload, version_payload
from tests.registry.test_data_card import with_clean_data


def gate_of(api, user, version) -> dict:
    response = api(user).get(f"/api/v1/models/{version.model.name}/versions/{version.version}/gate/")
    assert response.status_code == 200, response.content
    return response.json()


def set_policy(model, user, rules):
    return gates.gate_policy_create(model=model, actor=user, rules=rules, reason="test policy")


def outcomes(gate: dict) -> dict[str, str]:
    return {r["rule"]: r["outcome"] for r in gate["rules"]}


def policy_rules(gate: dict) -> list[dict]:
    """The rules of the policy, without the lifecycle rule every gate ends with (test_gate_lifecycle.py)."""
    *rules, lifecycle = gate["rules"]
    assert lifecycle["metric"] == "lifecycle"
    return rules


def test_a_model_without_a_policy_is_judged_by_the_default_shown_as_such(api, engineer, executive, registered_version):
    with_clean_data(registered_version, engineer)

    gate = gate_of(api, executive, registered_version)

    assert gate["policy"] == {"version": None, "source": "default"}
    assert outcomes(gate) == {
        "win_rate >= 0.55": "pass",
        "refusal_rate within [0.02, 0.08]": "pass",
        "p95_latency_ms <= 1200": "pass",
        "dataset_check: no blocking finding in the version's data": "pass",
        "golden_leakage: at most 0 golden-set prompts leaked into the version's data": "pass",
        "lifecycle: more than 14 days before the base model shuts down": "pass",  # the catalogue is empty
    }
    assert gate["passed"] is True


@pytest.mark.parametrize(
    ("rule", "metrics", "outcome"),
    [
        ({"metric": "win_rate", "min": 0.55}, {"win_rate": 0.55}, "pass"),  # the boundary passes
        ({"metric": "win_rate", "min": 0.55}, {"win_rate": 0.549}, "fail"),
        ({"metric": "p95_latency_ms", "max": 1200}, {"p95_latency_ms": 1200}, "pass"),
        ({"metric": "p95_latency_ms", "max": 1200}, {"p95_latency_ms": 1201}, "fail"),
        ({"metric": "refusal_rate", "min": 0.02, "max": 0.08}, {"refusal_rate": 0.019}, "fail"),
        ({"metric": "refusal_rate", "min": 0.02, "max": 0.08}, {"refusal_rate": 0.081}, "fail"),
        ({"metric": "refusal_rate", "min": 0.02, "max": 0.08}, {"refusal_rate": 0.05}, "pass"),
        ({"metric": "golden_score", "min": 0.9}, {"golden_score": 0.91}, "pass"),
        ({"metric": "golden_score", "min": 0.9}, {"win_rate": 0.7}, "missing"),
    ],
)
def test_it_judges_every_rule_kind(api, engineer, compliance, registered_model, rule, metrics, outcome):
    set_policy(registered_model, compliance, [rule])
    version = services.version_register(
        model=registered_model,
        actor=engineer,
        evaluations=[evaluation_payload(metrics=metrics, per_intent={})],
        **version_payload(),
    )

    gate = gate_of(api, engineer, version)

    assert [r["outcome"] for r in policy_rules(gate)] == [outcome]
    assert gate["passed"] is (outcome == "pass")
    assert gate["policy"] == {"version": 1, "source": "model"}
    if outcome == "missing":
        assert "No evaluation of this version measured golden_score" in gate["rules"][0]["detail"]


def test_it_judges_the_win_rate_of_every_intent(api, engineer, compliance, registered_model):
    set_policy(registered_model, compliance, [{"metric": "win_rate", "per_intent": True, "min": 0.5}])
    version = services.version_register(
        model=registered_model,
        actor=engineer,
        evaluations=[evaluation_payload(per_intent={"billing": 0.7, "returns": 0.49, "medical advice": 0.5})],
        **version_payload(),
    )

    [rule] = policy_rules(gate_of(api, engineer, version))

    assert rule["outcome"] == "fail"
    assert rule["intents"] == {
        "billing": {"value": 0.7, "outcome": "pass"},
        "medical advice": {"value": 0.5, "outcome": "pass"},
        "returns": {"value": 0.49, "outcome": "fail"},
    }
    assert rule["detail"] == "Below the threshold: returns."


def test_a_per_intent_rule_without_a_breakdown_is_missing_evidence(api, engineer, compliance, registered_model):
    set_policy(registered_model, compliance, [{"metric": "win_rate", "per_intent": True, "min": 0.5}])
    version = services.version_register(
        model=registered_model, actor=engineer, evaluations=[evaluation_payload(per_intent={})], **version_payload()
    )

    assert gate_of(api, engineer, version)["rules"][0]["outcome"] == "missing"


def test_it_uses_the_latest_evaluation_of_each_metric(api, engineer, registered_version):
    services.evaluation_record(
        version=registered_version, actor=engineer, **evaluation_payload(metrics={"p95_latency_ms": 1500})
    )

    gate = gate_of(api, engineer, registered_version)

    assert outcomes(gate)["p95_latency_ms <= 1200"] == "fail"
    assert outcomes(gate)["win_rate >= 0.55"] == "pass"  # from the earlier evaluation, the latest with a win rate


def test_a_win_rate_counts_only_against_the_production_version(api, engineer, registered_model):
    production = services.version_register(model=registered_model, actor=engineer, **version_payload(version="v1"))
    production.status = VersionStatus.PRODUCTION  # deployments arrive with promotions; a direct save stands in here
    mark_change(production, actor=engineer, reason="test setup")
    production.save()
    candidate = services.version_register(
        model=registered_model, actor=engineer, evaluations=[evaluation_payload()], **version_payload(version="v2")
    )

    before = gate_of(api, engineer, candidate)
    services.evaluation_record(version=candidate, actor=engineer, **evaluation_payload(baseline_version="v1"))
    after = gate_of(api, engineer, candidate)

    assert outcomes(before)["win_rate >= 0.55"] == "missing"
    assert "against the production version v1" in before["rules"][0]["detail"]
    assert outcomes(after)["win_rate >= 0.55"] == "pass"


def test_editing_a_policy_makes_a_new_version_and_keeps_the_old(api, compliance, engineer, registered_version):
    model = registered_version.model
    client = api(compliance)
    url = f"/api/v1/models/{model.name}/gate-policy/"

    first = client.post(url, {"rules": [{"metric": "win_rate", "min": 0.6}], "reason": "Launch gate"}, format="json")
    second = client.post(url, {"rules": [{"metric": "win_rate", "min": 0.7}], "reason": "Stricter"}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert api(engineer).get(url).json()["version"] == 2
    assert list(GatePolicy.objects.filter(model=model).values_list("version", "rules")) == [
        (2, [{"metric": "win_rate", "min": 0.7}]),
        (1, [{"metric": "win_rate", "min": 0.6}]),
    ]
    gate = gate_of(api, engineer, registered_version)
    assert gate["policy"] == {"version": 2, "source": "model"}
    assert gate["passed"] is False  # 0.61 < 0.7
    row = GatePolicy.history.filter(version=2).get()
    assert (row.history_user, row.history_change_reason) == (compliance, "Stricter")


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([], "rules"),
        ([{"metric": "win_rate"}], "rules.0"),
        ([{"metric": "win_rate", "min": 0.7, "max": 0.6}], "rules.0"),
        ([{"metric": "Win Rate", "min": 0.5}], "rules.0.metric"),
        ([{"metric": "win_rate", "min": "high"}], "rules.0.min"),
        ([{"metric": "refusal_rate", "per_intent": True, "min": 0.5}], "rules.0.per_intent"),
        ([{"metric": "win_rate", "min": 0.5, "severity": "high"}], "rules.0"),
    ],
)
def test_it_names_what_is_wrong_with_a_policy(api, compliance, registered_model, rules, field):
    response = api(compliance).post(
        f"/api/v1/models/{registered_model.name}/gate-policy/", {"rules": rules, "reason": "x"}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not GatePolicy.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("engineer", 403), ("executive", 403), ("anonymous", 401)])
def test_only_compliance_changes_a_gate(api, engineer, executive, registered_model, persona, status):
    user = {"engineer": engineer, "executive": executive, "anonymous": None}[persona]

    response = api(user).post(
        f"/api/v1/models/{registered_model.name}/gate-policy/",
        {"rules": [{"metric": "win_rate", "min": 0.1}], "reason": "lower the bar"},
        format="json",
    )

    assert response.status_code == status
    assert not GatePolicy.objects.exists()


def test_compliance_adds_a_policy_version_in_the_admin(compliance, registered_model):
    from django.test import Client

    client = Client()
    client.force_login(compliance)
    set_policy(registered_model, compliance, [{"metric": "win_rate", "min": 0.55}])

    response = client.post(
        "/admin/registry/gatepolicy/add/",
        {
            "model": registered_model.pk,
            "rules": '[{"metric": "p95_latency_ms", "max": 900}]',
            "change_reason": "New SLA",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    latest = GatePolicy.objects.get(model=registered_model, version=2)
    assert latest.rules == [{"metric": "p95_latency_ms", "max": 900}]
    assert latest.reason == "New SLA"
