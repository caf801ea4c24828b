from __future__ import annotations

import pytest

from registry import services
from registry.models import EvaluationResult
from tests.conftest import evaluation_payload, version_payload


def url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/evaluations/"


def test_it_records_an_evaluation_against_a_baseline_version(api, engineer, registered_version):
    newer = services.version_register(model=registered_version.model, actor=engineer, **version_payload())
    payload = evaluation_payload(baseline_version=registered_version.version)

    response = api(engineer).post(url(newer), payload, format="json")

    assert response.status_code == 201, response.json()
    evaluation = EvaluationResult.objects.get(pk=response.json()["id"])
    assert evaluation.baseline_version == registered_version
    assert evaluation.ran_by == engineer


def test_it_lists_a_version_evaluations_newest_first(api, executive, engineer, registered_version):
    services.evaluation_record(version=registered_version, actor=engineer, **evaluation_payload(suite="second"))

    response = api(executive).get(url(registered_version))

    assert response.status_code == 200
    assert [e["suite"] for e in response.json()["results"]] == ["second", "golden-v1"]


@pytest.mark.parametrize(
    ("metrics", "field", "reason"),
    [
        ({"win_rate": 1.01}, "metrics.win_rate", "Must be within [0.0, 1.0]."),
        ({"refusal_rate": -0.1}, "metrics.refusal_rate", "Must be within [0.0, 1.0]."),
        ({"golden_score": 2}, "metrics.golden_score", "Must be within [0.0, 1.0]."),
        ({"custom_accuracy": 3}, "metrics.custom_accuracy", "Must be within [0.0, 1.0]."),
        ({"p95_latency_ms": -5}, "metrics.p95_latency_ms", "Must be within [0.0, ∞]."),
        ({"win_rate": "0.6"}, "metrics.win_rate", "Must be a number."),
        ({"win_rate": True}, "metrics.win_rate", "Must be a number."),
        ({"win_rate": None}, "metrics.win_rate", "Must be a number."),
        ({"Bad-Name": 0.5}, "metrics.Bad-Name", None),
        ({}, "metrics", "At least one metric is required."),
    ],
)
def test_it_range_checks_every_metric(api, engineer, registered_version, metrics, field, reason):
    payload = evaluation_payload(metrics=metrics)

    response = api(engineer).post(url(registered_version), payload, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert field in fields
    if reason:
        assert fields[field] == [reason]
    assert EvaluationResult.objects.filter(version=registered_version).count() == 1


def test_it_rejects_numbers_json_cannot_carry(api, engineer, registered_version):
    body = '{"suite": "s", "golden_set_sha256": "%s", "metrics": {"win_rate": NaN}}' % ("a" * 64)

    response = api(engineer).post(url(registered_version), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_it_rejects_an_overflowing_number(api, engineer, registered_version):
    body = '{"suite": "s", "golden_set_sha256": "%s", "metrics": {"p95_latency_ms": 1e400}}' % ("a" * 64)

    response = api(engineer).post(url(registered_version), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"metrics.p95_latency_ms": ["Must be a finite number."]}


def test_it_requires_a_baseline_for_a_win_rate(api, engineer, registered_version):
    payload = evaluation_payload(baseline_version="")

    response = api(engineer).post(url(registered_version), payload, format="json")

    assert response.status_code == 400
    assert "baseline_version" in response.json()["error"]["fields"]


def test_it_accepts_metrics_without_a_baseline_when_there_is_no_win_rate(api, engineer, registered_version):
    payload = evaluation_payload(baseline_version="", metrics={"refusal_rate": 0.05}, per_intent={})

    response = api(engineer).post(url(registered_version), payload, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize("baseline", ["v-unknown", "SELF"])
def test_it_rejects_an_unknown_or_circular_baseline(api, engineer, registered_version, baseline):
    baseline = registered_version.version if baseline == "SELF" else baseline

    response = api(engineer).post(url(registered_version), evaluation_payload(baseline_version=baseline), format="json")

    assert response.status_code == 400
    assert "baseline_version" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("per_intent", "field"),
    [
        ({"billing": 1.2}, "per_intent.billing"),
        ({"billing": "high"}, "per_intent.billing"),
        ({" padded ": 0.5}, "per_intent. padded "),
        ({"x" * 65: 0.5}, "per_intent." + "x" * 65),
        ({"nul\u0000": 0.5}, "per_intent"),  # a hostile key is never echoed back
        (["billing"], "per_intent"),
    ],
)
def test_it_checks_the_per_intent_breakdown(api, engineer, registered_version, per_intent, field):
    response = api(engineer).post(url(registered_version), evaluation_payload(per_intent=per_intent), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_it_rejects_a_malformed_golden_set_hash(api, engineer, registered_version):
    response = api(engineer).post(url(registered_version), evaluation_payload(golden_set_sha256="abc"), format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["golden_set_sha256"]


def test_it_refuses_evaluations_of_a_retired_version(api, engineer, compliance, registered_version):
    services.version_retire(version=registered_version, actor=compliance, reason="Superseded")

    response = api(engineer).post(url(registered_version), evaluation_payload(), format="json")

    assert response.status_code == 409
