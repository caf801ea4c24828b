"""The risk register on PostgreSQL: references under concurrency, metric checks on a real Celery worker."""

from __future__ import annotations

import time

from core.roles import Role
from core.services import token_issue
from registry import releases, services
from risks import controls
from risks import services as risk_services
from risks.models import Control, MetricCheckResult, Risk
from risks.tasks import metric_checks_evaluate
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload
from tests.integration.test_concurrent_registration import _race
from tests.risks.conftest import risk_payload

CLIENTS = 20


def test_concurrent_risks_get_distinct_consecutive_references(live_server, transactional_db):
    users = [make_user(f"officer-{i}", Role.COMPLIANCE) for i in range(CLIENTS)]
    tokens = [token_issue(user=u, name="race", issued_by=u, via="tests").secret for u in users]
    bodies = [{"owner": "officer-0", **risk_payload(title=f"Risk {i}")} for i in range(CLIENTS)]

    results = _race(f"{live_server.url}/api/v1/risks/", tokens, bodies)

    assert [status for status, _ in results] == [201] * CLIENTS, results
    numbers = sorted(int(body["reference"].split("-")[1]) for _, body in results)
    assert numbers == list(range(numbers[0], numbers[0] + CLIENTS))
    assert Risk.objects.count() == CLIENTS


def test_a_real_worker_flags_a_breached_control(worker):
    engineer = make_user("kri-engineer", Role.ENGINEER)
    compliance = make_user("kri-compliance", Role.COMPLIANCE)
    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(metrics={"win_rate": 0.61, "refusal_rate": 0.11, "p95_latency_ms": 950})],
        **version_payload(),
    )
    promotion = releases.promotion_request(version=version, actor=engineer, target="production", justification="Go")
    releases.promotion_approve(promotion=promotion, actor=compliance, reason="CAB", override_justification="Test")
    risk = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())
    control = controls.control_create(actor=compliance, name="Refusal rate", description="2-8%", risks=[risk])
    controls.metric_check_create(
        control=control, actor=compliance, metric="refusal_rate", minimum=0.02, maximum=0.08, watched_models=[model]
    )

    result = metric_checks_evaluate.delay(on_behalf_of_id=compliance.pk)
    deadline = time.monotonic() + 60
    while not result.ready() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)

    assert worker.poll() is None, "the worker died"
    assert result.get(timeout=1)["breached"] == [control.reference]
    assert Control.objects.get(pk=control.pk).breached
    assert Risk.objects.get(pk=risk.pk).breached
    assert MetricCheckResult.objects.get().outcome == "fail"
    row = Risk.history.filter(id=risk.pk).first()
    assert (row.history_source, row.history_on_behalf_of_id) == ("task", compliance.pk)
    assert "refusal_rate = 0.11" in row.history_change_reason
