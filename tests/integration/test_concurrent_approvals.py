"""One production version at a time, under real concurrent approvals on PostgreSQL."""

from __future__ import annotations

import threading

from core.audit import mark_change
from core.roles import Role
from core.services import token_issue
from registry import releases, services
from registry.models import Deployment, Promotion, PromotionStatus, VersionStatus
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload
from tests.integration.test_concurrent_registration import _post
from tests.registry.test_data_card import with_clean_data

APPROVERS = 6


def test_exactly_one_of_concurrent_production_approvals_wins(live_server, transactional_db):
    engineer = make_user("race-engineer", Role.ENGINEER)
    model = services.model_create(actor=engineer, **model_payload())
    promotions = []
    for n in range(APPROVERS):
        version = services.version_register(
            model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload(version=f"v{n}")
        )
        with_clean_data(version, engineer)  # the gate asks for checked data; this race is about approvals
        version.status = VersionStatus.EVALUATING
        mark_change(version, actor=engineer, reason="test: job succeeded")
        version.save()
        promotions.append(
            releases.promotion_request(version=version, actor=engineer, target="production", justification="race")
        )
    approvers = [make_user(f"approver-{n}", Role.COMPLIANCE) for n in range(APPROVERS)]
    tokens = [token_issue(user=u, name="race", issued_by=u, via="tests").secret for u in approvers]
    start = threading.Barrier(APPROVERS)
    results: list = [None] * APPROVERS

    def approve(index: int) -> None:
        promotion = promotions[index]
        start.wait()
        results[index] = _post(
            f"{live_server.url}/api/v1/models/{model.name}/versions/{promotion.version.version}/promotions/"
            f"{promotion.pk}/approve/",
            tokens[index],
            {"reason": "race"},
        )

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(APPROVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (APPROVERS - 1), results
    assert Deployment.objects.filter(environment="production").count() == 1
    assert Deployment.objects.filter(environment="production", ended_at=None).count() == 1
    assert Promotion.objects.filter(status=PromotionStatus.APPROVED).count() == 1
