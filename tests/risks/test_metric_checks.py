"""Metric checks: live control evidence from the production versions' latest evaluations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import service_user
from registry import releases, services
from risks import controls
from risks.models import Control, MetricCheckResult, Outcome, Risk
from risks.tasks import metric_checks_evaluate
from tests.conftest import version_payload

pytestmark = pytest.mark.django_db


def _check(control, compliance, model, **bounds):
    return controls.metric_check_create(
        control=control,
        actor=compliance,
        metric="refusal_rate",
        watched_models=[model],
        **(bounds or {"minimum": 0.02, "maximum": 0.08}),
    )


def _evaluate(version, engineer, **metrics):
    return services.evaluation_record(
        version=version,
        actor=engineer,
        suite="golden-v1",
        golden_set_sha256="b" * 64,
        metrics=metrics,
        baseline_version=version.model.base_model,
    )


def _production(model):
    return releases.live_deployment(model, "production").version


def test_it_passes_when_the_latest_production_evaluation_is_in_range(compliance, control, production_model):
    check = _check(control, compliance, production_model)
    run = controls.metric_checks_evaluate()
    result = MetricCheckResult.objects.get(metric_check=check)
    assert result.outcome == Outcome.PASS
    assert result.value == pytest.approx(0.04)
    assert result.version == _production(production_model)
    assert "refusal_rate = 0.04" in result.detail
    assert run.outcomes == {"pass": 1, "fail": 0, "no_data": 0}
    control.refresh_from_db()
    assert control.breached is False


def test_it_fails_flags_the_control_and_its_risks_and_says_why(compliance, control, risk, production_model, engineer):
    _check(control, compliance, production_model)
    controls.metric_checks_evaluate()
    version = _production(production_model)
    _evaluate(version, engineer, refusal_rate=0.12)
    run = controls.metric_checks_evaluate()
    assert run.breached == [control.reference]
    control.refresh_from_db()
    risk.refresh_from_db()
    assert control.breached and risk.breached
    assert "above the maximum 0.08" in control.breach_detail
    control_row = control.history.first()
    assert control_row.history_user == service_user()
    assert control_row.history_change_reason.startswith("Breached: refusal_rate = 0.12")
    risk_row = risk.history.first()
    assert control.reference in risk_row.history_change_reason
    assert "0.12" in risk_row.history_change_reason
    assert risk.breached_since is not None


def test_it_clears_the_breach_when_the_metric_is_back_in_range(compliance, control, risk, production_model, engineer):
    _check(control, compliance, production_model)
    version = _production(production_model)
    _evaluate(version, engineer, refusal_rate=0.12)
    controls.metric_checks_evaluate()
    _evaluate(version, engineer, refusal_rate=0.05)
    run = controls.metric_checks_evaluate()
    assert run.cleared == [control.reference]
    control.refresh_from_db()
    risk.refresh_from_db()
    assert not control.breached and not risk.breached
    assert risk.history.first().history_change_reason == "No control breached any more"


def test_it_records_no_data_without_a_production_version(compliance, control, registered_version, registered_model):
    check = _check(control, compliance, registered_model)
    controls.metric_checks_evaluate()
    result = MetricCheckResult.objects.get(metric_check=check)
    assert (result.outcome, result.value, result.version) == (Outcome.NO_DATA, None, None)
    assert "no version in production" in result.detail


def test_it_records_no_data_when_no_evaluation_reports_the_metric(compliance, control, production_model):
    check = controls.metric_check_create(
        control=control, actor=compliance, metric="toxicity_rate", maximum=0.01, watched_models=[production_model]
    )
    controls.metric_checks_evaluate()
    result = MetricCheckResult.objects.get(metric_check=check)
    assert result.outcome == Outcome.NO_DATA
    assert "reporting toxicity_rate" in result.detail


def test_it_uses_the_latest_evaluation_of_the_production_version_only(
    compliance, control, production_model, engineer, approver
):
    check = _check(control, compliance, production_model)
    # A newer version that is not in production fails the range: it does not count.
    candidate = services.version_register(model=production_model, actor=engineer, **version_payload())
    _evaluate(candidate, engineer, refusal_rate=0.5)
    # An older evaluation of the production version, run before the current one, does not count either.
    production = _production(production_model)
    services.evaluation_record(
        version=production,
        actor=engineer,
        suite="golden-v1",
        golden_set_sha256="a" * 64,
        metrics={"refusal_rate": 0.3},
        ran_at=timezone.now() - timedelta(days=30),
    )
    controls.metric_checks_evaluate()
    assert MetricCheckResult.objects.get(metric_check=check).outcome == Outcome.PASS


def test_it_records_a_finding_only_when_it_changes(compliance, control, production_model, eager_celery):
    check = _check(control, compliance, production_model)
    first = metric_checks_evaluate.delay().get()
    second = metric_checks_evaluate.delay().get()
    assert (first["recorded"], second["recorded"]) == (1, 0)
    assert MetricCheckResult.objects.filter(metric_check=check).count() == 1


def test_it_shows_the_latest_results_on_the_control_over_rest(api, executive, compliance, control, production_model):
    _check(control, compliance, production_model)
    controls.metric_checks_evaluate()
    body = api(executive).get(f"/api/v1/controls/{control.reference}/").json()
    [check] = body["metric_checks"]
    assert check["models"] == [production_model.name]
    [latest] = check["latest"]
    assert (latest["model"], latest["version"], latest["outcome"]) == (production_model.name, "v-prod", "pass")
    risk_body = api(executive).get(f"/api/v1/risks/{control.risks.get().reference}/").json()
    assert risk_body["controls"][0]["metric_checks"][0]["latest"][0]["outcome"] == "pass"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"metric": "Refusal Rate!", "maximum": 0.1}, "metric"),
        ({"metric": "refusal_rate"}, "minimum"),
        ({"metric": "refusal_rate", "minimum": 0.5, "maximum": 0.1}, "maximum"),
        ({"metric": "refusal_rate", "maximum": 0.1, "models": []}, "models"),
        ({"metric": "refusal_rate", "maximum": 0.1, "models": ["nope"]}, "models.0"),
    ],
)
def test_it_refuses_a_bad_metric_check(api, compliance, control, registered_model, payload, field):
    body = {"models": [registered_model.name], **payload}
    response = api(compliance).post(f"/api/v1/controls/{control.reference}/metric-checks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_it_creates_a_metric_check_over_rest(api, compliance, control, registered_model):
    response = api(compliance).post(
        f"/api/v1/controls/{control.reference}/metric-checks/",
        {"metric": "win_rate", "minimum": 0.5, "models": [registered_model.name]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["models"] == [registered_model.name]


def test_it_keeps_a_breach_on_the_risk_while_another_control_is_breached(compliance, risk, production_model, engineer):
    first = controls.control_create(actor=compliance, name="Refusal in range", description="d", risks=[risk])
    second = controls.control_create(actor=compliance, name="Win rate held", description="d", risks=[risk])
    _check(first, compliance, production_model)
    controls.metric_check_create(
        control=second, actor=compliance, metric="win_rate", minimum=0.7, watched_models=[production_model]
    )
    version = _production(production_model)
    _evaluate(version, engineer, refusal_rate=0.2, win_rate=0.6)
    controls.metric_checks_evaluate()
    assert Risk.objects.get(pk=risk.pk).breached
    _evaluate(version, engineer, refusal_rate=0.05, win_rate=0.6)
    controls.metric_checks_evaluate()
    assert not Control.objects.get(pk=first.pk).breached
    assert Control.objects.get(pk=second.pk).breached
    assert Risk.objects.get(pk=risk.pk).breached
