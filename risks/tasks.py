"""Celery tasks of the risk register: thin, idempotent, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core import audit_runs
from core.audit import Source, audit_source
from risks import controls, incidents, lifecycle, services


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


@shared_task(name="risks.tasks.audit_chain_verify")
def audit_chain_verify(scope: str = "full") -> dict:
    """Daily (full) and hourly (scope "since": from the last verified checkpoint): verify the audit trail.

    A failure opens one Critical incident (none if one about the audit trail is still open)
    and emails Compliance; the admin shows it until the incident is closed.
    """
    with audit_source(Source.TASK):
        verification = audit_runs.verification_run(scope=scope)
        if not verification.ok:
            incidents.audit_chain_failure_record(verification=verification)
    return {
        "ok": verification.ok,
        "rows_checked": verification.rows_checked,
        "problem": verification.problem,
        "incident": verification.incident_reference,
    }


def lifecycle_risks_after_deployment(sender, deployment, **kwargs) -> None:
    """A new deployment may end (or start) a runway risk: update them once it is committed, not in an hour."""
    lifecycle_risks_update_task.delay_on_commit()
