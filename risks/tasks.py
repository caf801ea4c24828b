"""Celery tasks of the risk register: thin, idempotent, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core.audit import Source, audit_source
from risks import controls, services


@shared_task(name="risks.tasks.metric_checks_evaluate")
def metric_checks_evaluate(on_behalf_of_id: int | None = None) -> dict:
    """Evaluate every metric check against the production versions' latest evaluations."""
    with audit_source(Source.TASK, on_behalf_of_id=on_behalf_of_id):
        return controls.metric_checks_evaluate().as_dict()


@shared_task(name="risks.tasks.acceptances_expire")
def acceptances_expire() -> int:
    """Reopen the risks whose acceptance expired."""
    with audit_source(Source.TASK):
        return services.acceptances_expire()
