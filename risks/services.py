"""Every write on the risk register: risks, treatment actions and acceptances.

Controls and their evidence are in risks.controls, incidents in risks.incidents.
Views, the admin, commands and tasks call these; each write leaves a history row
with the acting user and a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import audited_save, mark_change, service_user
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.references import reference_next
from core.roles import Role, has_role, roles_of
from core.validation import full_clean
from risks.models import (
    Acceptance,
    AcceptanceStatus,
    ActionStatus,
    Risk,
    RiskStatus,
    Treatment,
    TreatmentAction,
)
from risks.scoring import Band, matrix

# Statuses set by editing; accepted and closed are decisions with their own services.
EDITABLE_STATUSES = (RiskStatus.DRAFT, RiskStatus.OPEN, RiskStatus.IN_TREATMENT)
RISK_EDITABLE_FIELDS = frozenset(
    {
        "title",
        "statement",
        "category",
        "owner",
        "delegate",
        "inherent_likelihood",
        "inherent_impact",
        "residual_likelihood",
        "residual_impact",
        "treatment",
        "mitigation",
        "status",
        "registered_models",
        "model_versions",
    }
)
RELATION_FIELDS = ("registered_models", "model_versions")
# The longest an acceptance may run before someone decides again.
ACCEPTANCE_MAX_DAYS = 366


def require_compliance(actor, what: str = "change the risk register") -> None:
    if not has_role(actor, Role.COMPLIANCE):
        raise PermissionDenied(f"Only compliance staff may {what}.")


def require_reason(reason: str, field: str = "reason") -> str:
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", fields={field: ["Say why: it is recorded in the history."]})
    return reason.strip()


# Shared with risks.lifecycle, where Fineprint keeps its own runway risks by the same rules.


def relations_set(instance, relations: Mapping[str, Iterable], *, actor, reason: str) -> None:
    # simple-history records an m2m change as another history row of the instance,
    # with the user and reason still attached to it by mark_change.
    mark_change(instance, actor=actor, reason=reason)
    for name, values in relations.items():
        getattr(instance, name).set(list(values))


def risk_lock(risk: Risk) -> Risk:
    return Risk.objects.select_for_update().get(pk=risk.pk)


def acceptance_active(risk: Risk) -> Acceptance | None:
    return risk.acceptances.select_for_update().filter(status=AcceptanceStatus.ACTIVE).first()


def acceptance_end(acceptance: Acceptance, *, status: str, actor, reason: str, now: datetime) -> None:
    acceptance.status = status
    acceptance.ended_at = now
    audited_save(acceptance, actor=actor, reason=reason)


def risk_scores_settle(risk: Risk, *, previous_band: str, actor, reason: str) -> str:
    """The rules after a risk's scores change (before it is saved); returns the reason to record.

    The review cadence follows the residual band (a worse band brings the next review
    closer), and a Critical residual risk cannot stay accepted.
    """
    if risk.residual_band != previous_band:
        since = risk.last_reviewed_at or risk.created_at
        risk.next_review_at = matrix(risk.matrix_version).next_review(risk.residual_band, since)
    acceptance = acceptance_active(risk) if risk.residual_band == Band.CRITICAL else None
    if acceptance is not None:
        acceptance_end(
            acceptance,
            status=AcceptanceStatus.REVOKED,
            actor=actor,
            reason=f"Revoked: the residual risk is now Critical, which cannot be accepted ({reason})",
            now=timezone.now(),
        )
        risk.status = RiskStatus.OPEN
        reason = f"{reason}; the acceptance no longer holds (Critical residual risk), the risk is open again"
    return reason


# --- Risks ----------------------------------------------------------------------------


@transaction.atomic
def risk_create(
    *,
    actor,
    title: str,
    statement: str,
    category: str,
    owner,
    inherent_likelihood: int,
    inherent_impact: int,
    residual_likelihood: int,
    residual_impact: int,
    treatment: str = Treatment.MITIGATE,
    mitigation: str = "",
    delegate=None,
    status: str = RiskStatus.OPEN,
    registered_models: Iterable = (),
    model_versions: Iterable = (),
    reason: str = "",
) -> Risk:
    require_compliance(actor, "record risks")
    if status not in EDITABLE_STATUSES:
        raise ValidationFailed(
            "A new risk is draft, open or in treatment.",
            fields={"status": ["Accept or close a risk with its own decision, after recording it."]},
        )
    now = timezone.now()
    risk = Risk(
        title=title,
        statement=statement,
        category=category,
        owner=owner,
        delegate=delegate,
        inherent_likelihood=inherent_likelihood,
        inherent_impact=inherent_impact,
        residual_likelihood=residual_likelihood,
        residual_impact=residual_impact,
        treatment=treatment,
        mitigation=mitigation,
        status=status,
        next_review_at=now,
        created_by=actor,
    )
    full_clean(risk, exclude=["reference", "owner", "delegate", "created_by"], validate_unique=False)
    risk.next_review_at = matrix(risk.matrix_version).next_review(risk.residual_band, now)
    risk.reference = reference_next("RISK")
    reason = reason or f"Risk {risk.reference} recorded"
    audited_save(risk, actor=actor, reason=reason)
    relations = {
        name: values
        for name, values in zip(RELATION_FIELDS, (registered_models, model_versions), strict=True)
        if values
    }
    if relations:
        relations_set(risk, relations, actor=actor, reason=reason)
    return risk


@transaction.atomic
def risk_update(*, risk: Risk, actor, data: Mapping[str, Any], reason: str = "") -> Risk:
    require_compliance(actor)
    unknown = set(data) - RISK_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed("These fields cannot be changed.", fields={f: ["Cannot be changed."] for f in unknown})
    risk = risk_lock(risk)
    relations = {name: list(data[name]) for name in RELATION_FIELDS if name in data}
    changed = {
        field: value for field, value in data.items() if field not in RELATION_FIELDS and getattr(risk, field) != value
    }
    if "status" in changed:
        if risk.status in (RiskStatus.ACCEPTED, RiskStatus.CLOSED):
            raise Conflict(f"{risk.reference} is {risk.status}; reopen it first.", fields={"status": ["Reopen first."]})
        if changed["status"] not in EDITABLE_STATUSES:
            raise ValidationFailed(
                "Use the accept or close decision.", fields={"status": ["Accept or close with their own decision."]}
            )
    if risk.status == RiskStatus.CLOSED and changed:
        raise Conflict(f"{risk.reference} is closed; reopen it to change it.")
    reason = reason.strip() or "Changed " + ", ".join(sorted([*changed, *relations]))
    if changed:
        previous_band = risk.residual_band
        for field, value in changed.items():
            setattr(risk, field, value)
        full_clean(risk, exclude=["reference", "owner", "delegate", "created_by"], validate_unique=False)
        reason = risk_scores_settle(risk, previous_band=previous_band, actor=actor, reason=reason)
        audited_save(risk, actor=actor, reason=reason)
    if relations:
        relations_set(risk, relations, actor=actor, reason=reason)
    return risk


@transaction.atomic
def risk_review(*, risk: Risk, actor, reason: str = "", reviewed_at: datetime | None = None) -> Risk:
    """Record a review (now, or when the committee met): the next review follows the residual band's cadence."""
    require_compliance(actor, "review risks")
    risk = risk_lock(risk)
    if risk.status == RiskStatus.CLOSED:
        raise Conflict(f"{risk.reference} is closed; it has no reviews.")
    now = timezone.now()
    reviewed_at = reviewed_at or now
    if reviewed_at > now:
        raise ValidationFailed("A review is recorded once held.", fields={"reviewed_at": ["Cannot be in the future."]})
    if risk.last_reviewed_at and reviewed_at < risk.last_reviewed_at:
        raise ValidationFailed(
            "A later review is already recorded.", fields={"reviewed_at": ["Before the last recorded review."]}
        )
    risk.last_reviewed_at = reviewed_at
    risk.next_review_at = matrix(risk.matrix_version).next_review(risk.residual_band, reviewed_at)
    held, due = timezone.localdate(reviewed_at), timezone.localdate(risk.next_review_at)
    note = f"Reviewed on {held:%Y-%m-%d}; next review by {due:%Y-%m-%d}"
    audited_save(risk, actor=actor, reason=f"{note}: {reason.strip()}" if reason.strip() else note)
    return risk


@transaction.atomic
def risk_accept(*, risk: Risk, actor, rationale: str, expires_at: datetime, conditions: str = "") -> Acceptance:
    """Accept the risk at its residual score until `expires_at`. A Critical residual risk cannot be accepted."""
    require_compliance(actor, "accept risks")
    rationale = require_reason(rationale, "rationale")
    risk = risk_lock(risk)
    now = timezone.now()
    if risk.status == RiskStatus.CLOSED:
        raise Conflict(f"{risk.reference} is closed; reopen it before accepting it.")
    if risk.residual_band == Band.CRITICAL:
        raise Conflict(
            f"{risk.reference} has a Critical residual score ({risk.residual_score}); a Critical risk cannot be "
            "accepted. Reduce it with controls or treatment actions first.",
            fields={"residual_band": ["Critical: cannot be accepted."]},
        )
    if expires_at is None or expires_at <= now:
        raise ValidationFailed(
            "An acceptance expires in the future.", fields={"expires_at": ["Must be in the future."]}
        )
    if expires_at > now + timedelta(days=ACCEPTANCE_MAX_DAYS):
        raise ValidationFailed(
            "An acceptance runs at most a year.", fields={"expires_at": [f"At most {ACCEPTANCE_MAX_DAYS} days ahead."]}
        )
    previous = acceptance_active(risk)
    if previous is not None:
        acceptance_end(
            previous, status=AcceptanceStatus.REVOKED, actor=actor, reason="Replaced by a new acceptance", now=now
        )
    acceptance = Acceptance(
        risk=risk,
        accepted_by=actor,
        authority=", ".join(sorted(roles_of(actor))),
        rationale=rationale,
        conditions=conditions.strip(),
        accepted_at=now,
        expires_at=expires_at,
        residual_score=risk.residual_score,
        residual_band=risk.residual_band,
    )
    full_clean(acceptance, exclude=["risk", "accepted_by"], validate_constraints=False)
    until = timezone.localdate(expires_at)
    audited_save(acceptance, actor=actor, reason=f"Accepted until {until:%Y-%m-%d}: {rationale}")
    risk.status = RiskStatus.ACCEPTED
    risk.treatment = Treatment.ACCEPT
    audited_save(risk, actor=actor, reason=f"Accepted by {actor.get_username()} until {until:%Y-%m-%d}: {rationale}")
    return acceptance


def acceptances_expire(*, now: datetime | None = None) -> int:
    """Expire every acceptance past its date: the risk is open again and its history says why. Safe to run twice."""
    now = now or timezone.now()
    actor = service_user()
    expired = 0
    due = Acceptance.objects.filter(status=AcceptanceStatus.ACTIVE, expires_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            acceptance = (
                Acceptance.objects.select_for_update()
                .select_related("risk", "accepted_by")
                .filter(pk=pk, status=AcceptanceStatus.ACTIVE)
                .first()
            )
            if acceptance is None:
                continue  # another run got there first
            on = timezone.localdate(acceptance.expires_at)
            acceptance_end(
                acceptance, status=AcceptanceStatus.EXPIRED, actor=actor, reason=f"Expired on {on:%Y-%m-%d}", now=now
            )
            risk = risk_lock(acceptance.risk)
            if risk.status == RiskStatus.ACCEPTED:
                risk.status = RiskStatus.OPEN
                audited_save(
                    risk,
                    actor=actor,
                    reason=(
                        f"The acceptance by {acceptance.accepted_by.get_username()} expired on {on:%Y-%m-%d}; "
                        "the risk is open again and needs a decision"
                    ),
                )
            expired += 1
    return expired


@transaction.atomic
def risk_close(*, risk: Risk, actor, reason: str) -> Risk:
    require_compliance(actor, "close risks")
    reason = require_reason(reason)
    risk = risk_lock(risk)
    if risk.status == RiskStatus.CLOSED:
        raise Conflict(f"{risk.reference} is already closed.")
    now = timezone.now()
    acceptance = acceptance_active(risk)
    if acceptance is not None:
        acceptance_end(
            acceptance, status=AcceptanceStatus.REVOKED, actor=actor, reason=f"Risk closed: {reason}", now=now
        )
    risk.status = RiskStatus.CLOSED
    audited_save(risk, actor=actor, reason=f"Closed: {reason}")
    return risk


@transaction.atomic
def risk_reopen(*, risk: Risk, actor, reason: str) -> Risk:
    require_compliance(actor, "reopen risks")
    reason = require_reason(reason)
    risk = risk_lock(risk)
    if risk.status not in (RiskStatus.CLOSED, RiskStatus.ACCEPTED):
        raise Conflict(f"{risk.reference} is {risk.status}; only a closed or accepted risk is reopened.")
    acceptance = acceptance_active(risk)
    if acceptance is not None:
        acceptance_end(
            acceptance,
            status=AcceptanceStatus.REVOKED,
            actor=actor,
            reason=f"Risk reopened: {reason}",
            now=timezone.now(),
        )
    risk.status = RiskStatus.OPEN
    audited_save(risk, actor=actor, reason=f"Reopened: {reason}")
    return risk


# --- Treatment actions ----------------------------------------------------------------


@transaction.atomic
def action_create(*, risk: Risk, actor, action: str, owner, due_on: date, reason: str = "") -> TreatmentAction:
    require_compliance(actor, "plan treatment actions")
    risk = risk_lock(risk)
    if risk.status == RiskStatus.CLOSED:
        raise Conflict(f"{risk.reference} is closed; it takes no new actions.")
    item = TreatmentAction(risk=risk, action=action, owner=owner, due_on=due_on, created_by=actor)
    full_clean(item, exclude=["risk", "owner", "created_by"])
    reason = reason.strip() or f"Treatment action for {risk.reference} planned"
    audited_save(item, actor=actor, reason=reason)
    if risk.status == RiskStatus.OPEN:
        risk.status = RiskStatus.IN_TREATMENT
        audited_save(risk, actor=actor, reason=f"In treatment: action planned ({action[:80]})")
    return item


ACTION_EDITABLE_FIELDS = frozenset({"action", "owner", "due_on", "status"})


@transaction.atomic
def action_update(*, item: TreatmentAction, actor, data: Mapping[str, Any], reason: str = "") -> TreatmentAction:
    require_compliance(actor, "change treatment actions")
    unknown = set(data) - ACTION_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed("These fields cannot be changed.", fields={f: ["Cannot be changed."] for f in unknown})
    item = TreatmentAction.objects.select_for_update().get(pk=item.pk)
    changed = {field: value for field, value in data.items() if getattr(item, field) != value}
    if not changed:
        return item
    for field, value in changed.items():
        setattr(item, field, value)
    if "status" in changed:
        item.completed_at = timezone.now() if item.status == ActionStatus.DONE else None
    full_clean(item, exclude=["risk", "owner", "created_by"])
    audited_save(item, actor=actor, reason=reason.strip() or "Changed " + ", ".join(sorted(changed)))
    return item
