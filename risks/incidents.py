"""Incidents: reporting, examples and evidence, updates, closing; the freeze of a serious incident's version.

A serious incident holds its version's record as evidence (registry.services.version_hold_set):
the record's changes, new evaluations, promotions and retirement are refused until
compliance closes the incident. The SHA-256 of the record when it was frozen is kept
on the incident, so anyone can check later that the evidence is what it was.

An incident without a version is about Fineprint's audit trail: only the system opens one,
when the verifier finds a broken link (audit_chain_incident_open); people always name a
version. It is never serious (there is no version to freeze) and closes like any other.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.audit import audited_save, mark_change, service_user
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import AuditVerification, TaskLease
from core.references import reference_next
from core.roles import Role, has_role
from core.validation import full_clean
from registry.models import EvaluationResult, ModelVersion
from registry.releases import version_record_sha256
from registry.services import version_hold_set
from risks.models import Incident, IncidentExample, IncidentStatus, Risk, Severity
from risks.models.incidents import AUDIT_TRAIL_SUBJECT
from risks.redaction import redact
from risks.services import require_compliance, require_reason

logger = logging.getLogger(__name__)

INCIDENT_EDITABLE_FIELDS = frozenset(
    {
        "title",
        "occurred_at",
        "aware_at",
        "description",
        "impact",
        "affected_stakeholders",
        "severity",
        "serious",
        "serious_kind",
        "reported_to_authority_at",
        "root_cause",
        "fix",
        "guard_examples",
        "guard_version",
        "status",
        "risks",
    }
)


def _require_reporter(actor) -> None:
    if not has_role(actor, Role.ENGINEER, Role.COMPLIANCE):
        raise PermissionDenied("Only engineers and compliance staff may report incidents.")


def _require_open(incident: Incident) -> None:
    if incident.status == IncidentStatus.CLOSED:
        raise Conflict(f"{incident.reference} is closed; its record no longer changes.")


def _hold_text(references: list[str]) -> str:
    return "serious incident " + ", ".join(references) + " open"


def _hold_refresh(version: ModelVersion, *, actor, reason: str) -> str:
    """Set the version's hold from its open serious incidents; the record's SHA-256 afterwards."""
    references = list(
        Incident.objects.filter(version=version, serious=True)
        .exclude(status=IncidentStatus.CLOSED)
        .order_by("reference")
        .values_list("reference", flat=True)
    )
    version_hold_set(version=version, actor=actor, hold=_hold_text(references) if references else "", reason=reason)
    return version_record_sha256(version)


def _serious_errors(serious: bool, serious_kind: str, *, has_version: bool = True) -> dict[str, list[str]]:
    if serious and not has_version:
        return {"serious": [f"An incident about the {AUDIT_TRAIL_SUBJECT.lower()} has no version to freeze."]}
    if serious and not serious_kind:
        return {"serious_kind": ["A serious incident says which kind: it sets the reporting deadline."]}
    if serious_kind and not serious:
        return {"serious_kind": ["Only a serious incident has a kind."]}
    return {}


def _example(incident: Incident, *, actor, data: Mapping[str, str]) -> IncidentExample:
    return IncidentExample(
        incident=incident,
        prompt=redact(data.get("prompt") or ""),
        bad_answer=redact(data.get("bad_answer") or ""),
        expected_answer=redact(data.get("expected_answer") or ""),
        added_by=actor,
    )


@transaction.atomic
def incident_report(
    *,
    actor,
    title: str,
    version: ModelVersion,
    occurred_at: datetime,
    aware_at: datetime,
    description: str,
    severity: str,
    impact: str = "",
    affected_stakeholders: str = "",
    serious: bool = False,
    serious_kind: str = "",
    risks: Iterable[Risk] = (),
    examples: Iterable[Mapping[str, str]] = (),
    reason: str = "",
) -> Incident:
    """Record an incident with its example failures (redacted). A serious one freezes its version."""
    _require_reporter(actor)
    if version is None:
        # Only the system reports an incident without a version (audit_chain_incident_open).
        raise ValidationFailed("The incident is invalid.", fields={"version": ["Name the version it concerns."]})
    incident = Incident(
        title=title,
        version=version,
        reporter=actor,
        occurred_at=occurred_at,
        aware_at=aware_at,
        description=description,
        impact=impact,
        affected_stakeholders=affected_stakeholders,
        severity=severity,
        serious=serious,
        serious_kind=serious_kind or "",
    )
    errors = _serious_errors(serious, incident.serious_kind)
    if occurred_at and aware_at and aware_at < occurred_at:
        errors["aware_at"] = ["We become aware of an incident after it occurs."]
    if aware_at and aware_at > timezone.now():
        errors["aware_at"] = ["Cannot be in the future."]
    built = [_example(incident, actor=actor, data=data) for data in examples]
    for index, example in enumerate(built):
        for field in ("prompt", "bad_answer"):
            if not getattr(example, field).strip():
                errors[f"examples.{index}.{field}"] = ["This field may not be blank."]
    if errors:
        raise ValidationFailed("The incident is invalid.", fields=errors)
    full_clean(incident, exclude=["reference", "version", "reporter", "guard_version"], validate_constraints=False)
    incident.reference = reference_next("INC")
    reason = reason.strip() or f"Incident {incident.reference} reported"
    audited_save(incident, actor=actor, reason=reason)
    for example in built:
        example.incident = incident
        audited_save(example, actor=actor, reason=f"Example failure recorded for {incident.reference}")
    risks = list(risks)
    if risks:
        mark_change(incident, actor=actor, reason=reason)
        incident.risks.set(risks)
    if serious:
        _freeze(incident, actor=actor)
    return incident


def _freeze(incident: Incident, *, actor) -> None:
    incident.frozen_record_sha256 = _hold_refresh(
        incident.version, actor=actor, reason=f"Frozen as evidence of serious incident {incident.reference}"
    )
    audited_save(
        incident, actor=actor, reason=f"Version {incident.version} frozen as evidence ({incident.frozen_record_sha256})"
    )


@transaction.atomic
def incident_update(*, incident: Incident, actor, data: Mapping[str, Any], reason: str = "") -> Incident:
    require_compliance(actor, "change incidents")
    unknown = set(data) - INCIDENT_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed("These fields cannot be changed.", fields={f: ["Cannot be changed."] for f in unknown})
    # Only the incident's row is locked: its version is an outer join now that an incident may have none.
    incident = Incident.objects.select_for_update(of=("self",)).select_related("version").get(pk=incident.pk)
    _require_open(incident)
    if data.get("status") == IncidentStatus.CLOSED:
        raise ValidationFailed(
            "Close an incident with its own decision.", fields={"status": ["Use close, with a reason."]}
        )
    changed = {f: v for f, v in data.items() if f != "risks" and getattr(incident, f) != v}
    reason = reason.strip() or "Changed " + ", ".join(sorted([*changed, *(["risks"] if "risks" in data else [])]))
    was_serious = incident.serious
    for field, value in changed.items():
        setattr(incident, field, value)
    errors = _serious_errors(incident.serious, incident.serious_kind, has_version=incident.version_id is not None)
    if incident.aware_at < incident.occurred_at:
        errors["aware_at"] = ["We become aware of an incident after it occurs."]
    if errors:
        raise ValidationFailed("The incident is invalid.", fields=errors)
    if changed:
        full_clean(incident, exclude=["reference", "version", "reporter", "guard_version"], validate_constraints=False)
        audited_save(incident, actor=actor, reason=reason)
    if "risks" in data:
        mark_change(incident, actor=actor, reason=reason)
        incident.risks.set(list(data["risks"]))
    if incident.serious and not was_serious:
        _freeze(incident, actor=actor)
    elif was_serious and not incident.serious:
        _hold_refresh(incident.version, actor=actor, reason=f"{incident.reference} is no longer serious: {reason}")
    return incident


@transaction.atomic
def incident_example_add(
    *, incident: Incident, actor, prompt: str, bad_answer: str, expected_answer: str = ""
) -> IncidentExample:
    _require_reporter(actor)
    _require_open(incident)
    example = _example(
        incident, actor=actor, data={"prompt": prompt, "bad_answer": bad_answer, "expected_answer": expected_answer}
    )
    full_clean(example, exclude=["incident", "added_by"])
    audited_save(example, actor=actor, reason=f"Example failure recorded for {incident.reference}")
    return example


@transaction.atomic
def incident_evidence_attach(*, incident: Incident, actor, evaluation: EvaluationResult, reason: str = "") -> Incident:
    """Attach an evaluation result as evidence (the run that reproduced the failure, or showed the fix)."""
    _require_reporter(actor)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    _require_open(incident)
    if incident.evaluations.filter(pk=evaluation.pk).exists():
        return incident
    mark_change(
        incident,
        actor=actor,
        reason=reason.strip() or f"Evaluation '{evaluation.suite}' of {evaluation.version} attached as evidence",
    )
    incident.evaluations.add(evaluation)
    return incident


@transaction.atomic
def incident_close(*, incident: Incident, actor, reason: str) -> Incident:
    """Close the incident (compliance, with a reason); a serious one releases its version's freeze."""
    require_compliance(actor, "close incidents")
    reason = require_reason(reason)
    incident = Incident.objects.select_for_update(of=("self",)).select_related("version").get(pk=incident.pk)
    _require_open(incident)
    if incident.serious:
        missing = {
            f: ["Record it before closing a serious incident."]
            for f in ("root_cause", "fix")
            if not getattr(incident, f).strip()
        }
        if missing:
            raise ValidationFailed("A serious incident is closed with its root cause and fix recorded.", fields=missing)
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = timezone.now()
    incident.closed_by = actor
    audited_save(incident, actor=actor, reason=f"Closed: {reason}")
    if incident.serious:
        _hold_refresh(incident.version, actor=actor, reason=f"Serious incident {incident.reference} closed: {reason}")
    return incident


def audit_chain_incident_open_first() -> Incident | None:
    """The open incident about the audit trail, if any (the oldest, should there be more)."""
    return (
        Incident.objects.filter(version__isnull=True)
        .exclude(status=IncidentStatus.CLOSED)
        .order_by("created_at", "id")
        .first()
    )


def _audit_chain_description(verification: AuditVerification) -> str:
    lines = [
        f"The audit trail's verifier ({verification.get_scope_display().lower()}) found the chain broken "
        f"at {verification.started_at:%Y-%m-%d %H:%M:%S} UTC, after checking {verification.rows_checked} rows.",
        "",
        f"First broken link: {verification.problem or 'not named'}",
        f"Table: {verification.break_table or '-'}",
        f"Row: {verification.break_row_id if verification.break_row_id is not None else '-'}",
        f"Object: {verification.break_object_id or '-'}",
        f"Link (chain_seq): {verification.break_seq if verification.break_seq is not None else '-'}",
        f"Expected hash: {verification.expected_hash or '-'}",
        f"Found hash: {verification.found_hash or '-'}",
        "",
        "A history row was changed, removed or inserted outside Fineprint, or the chain's key changed. "
        "Compare with the latest checkpoint kept outside the database (docs/audit.md) before closing.",
    ]
    return "\n".join(lines)


# Serialises openers (the daily and the hourly run may fail at the same moment): the row lock on
# this lease row is held until the opening transaction commits, so the second opener sees the first's incident.
_OPEN_LOCK = "risks.audit_chain_incident_open"


@transaction.atomic
def audit_chain_incident_open(*, verification: AuditVerification) -> tuple[Incident, bool]:
    """Open the Critical incident about a failed verification of the audit trail, unless one is open.

    Reported by the service account: the system found it. Returns the incident and whether it is new.
    """
    now = timezone.now()
    TaskLease.objects.select_for_update().get_or_create(name=_OPEN_LOCK, defaults={"expires_at": now})
    existing = audit_chain_incident_open_first()
    if existing is not None:
        return existing, False
    actor = service_user()
    incident = Incident(
        title="Audit trail verification failed",
        version=None,
        reporter=actor,
        occurred_at=min(verification.started_at, now),
        aware_at=min(verification.finished_at, now),
        description=_audit_chain_description(verification),
        impact="The history of governed records can no longer be shown to be unaltered since the broken link.",
        severity=Severity.CRITICAL,
    )
    full_clean(incident, exclude=["reference", "version", "reporter", "guard_version"], validate_constraints=False)
    incident.reference = reference_next("INC")
    audited_save(
        incident,
        actor=actor,
        reason=f"Incident {incident.reference} opened by the audit trail's verifier: {verification.problem}",
    )
    return incident, True


def audit_chain_failure_record(*, verification: AuditVerification) -> Incident:
    """A failed verification: the open incident (opened now if none is), named on the run; Compliance emailed once.

    The mail goes out after the incident is committed: a failed send is logged and the
    banner on the admin's pages still says it. An incident already open is not announced again.
    """
    incident, created = audit_chain_incident_open(verification=verification)
    # Bookkeeping on the run (AuditVerification is not a tracked model): which incident answers it.
    AuditVerification.objects.filter(pk=verification.pk).update(incident_reference=incident.reference)
    verification.incident_reference = incident.reference
    if created:
        _audit_chain_failure_mail(incident, verification)
    return incident


def _compliance_emails() -> list[str]:
    people = (
        get_user_model()
        .objects.filter(groups__name=Role.COMPLIANCE, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(people)


def _audit_chain_failure_mail(incident: Incident, verification: AuditVerification) -> None:
    recipients = _compliance_emails()
    if not recipients:
        logger.warning("Nobody in Compliance has an email address: %s is not announced.", incident.reference)
        return
    body = (
        f"Fineprint's audit trail failed verification at {verification.started_at:%Y-%m-%d %H:%M} UTC.\n\n"
        f"{incident.description}\n\n"
        f"Critical incident {incident.reference} is open in the risk register (admin > Risks > Incidents). "
        "Every admin page shows it until compliance closes the incident.\n"
    )
    try:
        send_mail(
            subject=f"{incident.reference}: Fineprint's audit trail failed verification",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except (OSError, smtplib.SMTPException):
        logger.exception("Could not email Compliance about %s; the admin shows it.", incident.reference)
