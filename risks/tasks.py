"""Celery tasks of the risk register: thin, idempotent, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core.audit import Source, audit_source
from risks import controls, lifecycle, services


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


@shared_task(name="risks.tasks.lifecycle_risks_update_task")
def lifecycle_risks_update_task() -> dict:
    """Hourly: open, raise and close the runway risks of live deployments; email the owners what is owed."""
    with audit_source(Source.TASK):
        return lifecycle.lifecycle_risks_update().as_dict()


def lifecycle_risks_after_deployment(sender, deployment, **kwargs) -> None:
    """A new deployment may end (or start) a runway risk: update them once it is committed, not in an hour."""
    lifecycle_risks_update_task.delay_on_commit()
