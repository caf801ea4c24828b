"""Releases: promotions with four eyes, deployments per environment, one-step rollback, "what ran when".

Every decision is a service here: it takes the model's row lock (one release
decision per model at a time), records who, when, why and against which gate,
and leaves one history row per record it changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.audit import mark_change
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import ApiToken
from core.roles import Role, has_role, is_service_account
from registry import gates
from registry.models import (
    Deployment,
    Environment,
    ModelVersion,
    Promotion,
    PromotionStatus,
    RegisteredModel,
    VersionStatus,
)
from registry.selectors import version_get, version_record, version_row
from registry.signals import deployment_started

# Versions that may be put in front of users: trained (by a job Fineprint followed, or
# registered as trained elsewhere) and not retired, failed or rolled back. The gate decides the rest.
PROMOTABLE = (VersionStatus.DRAFT, VersionStatus.EVALUATING, VersionStatus.APPROVED, VersionStatus.CANARY)


def version_record_sha256(version: ModelVersion) -> str:
    """The SHA-256 of the version's record (registry.selectors.version_record, evaluations included).

    The record, not the API's answer: the runway the API adds is the catalogue's view on a
    given day, and a fingerprint that changed every midnight would prove nothing.
    """
    stored = version_get(model_name=version.model.name, version=version.version)
    record = version_record(version_row(stored))
    record.pop("updated_at", None)
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def live_deployment(model: RegisteredModel, environment: str) -> Deployment | None:
    return Deployment.objects.filter(model=model, environment=environment, ended_at=None).first()


def _lock_model(model: RegisteredModel) -> RegisteredModel:
    return RegisteredModel.objects.select_for_update().get(pk=model.pk)


def _refuse_service_account(actor) -> None:
    if is_service_account(actor):
        raise PermissionDenied("Service accounts cannot request or decide promotions: a release needs a person.")


@transaction.atomic
def promotion_request(
    *,
    version: ModelVersion,
    actor,
    target: str,
    justification: str,
    traffic_percent: int | None = None,
    token: ApiToken | None = None,
) -> Promotion:
    """Ask for a version to go to canary or production; `token` is the API token the request came with."""
    _refuse_service_account(actor)
    if target not in Environment.values:
        raise ValidationFailed("Unknown target.", fields={"target": ["canary or production."]})
    if target == Environment.CANARY and not (traffic_percent and 1 <= traffic_percent <= 50):
        raise ValidationFailed("A canary takes 1 to 50% of traffic.", fields={"traffic_percent": ["1 to 50."]})
    if target == Environment.PRODUCTION and traffic_percent is not None:
        raise ValidationFailed("Production takes all traffic.", fields={"traffic_percent": ["Only for a canary."]})
    if not justification.strip():
        raise ValidationFailed("Say why.", fields={"justification": ["This field may not be blank."]})
    if version.status not in PROMOTABLE:
        raise Conflict(f"Version '{version.version}' is {version.status}; it cannot be promoted.")
    version.refuse_if_held()
    promotion = Promotion(
        version=version,
        target=target,
        traffic_percent=traffic_percent,
        justification=justification.strip(),
        requested_by=actor,
        requested_with_token=token,
        replaces=live_deployment(version.model, target),
    )
    mark_change(promotion, actor=actor, reason=f"Promotion of {version.version} to {target} requested")
    try:
        with transaction.atomic():
            promotion.save()
    except IntegrityError:
        raise Conflict(f"A promotion of '{version.version}' to {target} is already pending.") from None
    return promotion


def _decidable(promotion: Promotion, actor, token: ApiToken | None) -> Promotion:
    """The pending promotion, locked, if `actor` (acting with `token`) is a second pair of eyes.

    Four eyes means two people, so the decider may be neither the requester, nor whoever
    issued the token the request came with (who could have made the request), nor act
    with a token the requester issued (the requester acting under another name).
    """
    _refuse_service_account(actor)
    promotion = (
        # The token is an outer join, which PostgreSQL will not lock: lock the rest as before.
        Promotion.objects.select_for_update(of=("self", "version", "version__model"))
        .select_related("version__model", "requested_with_token")
        .get(pk=promotion.pk)
    )
    if promotion.status != PromotionStatus.PENDING:
        raise Conflict(f"This promotion is already {promotion.status}.")
    if promotion.requested_by_id == actor.pk:
        raise PermissionDenied("Four eyes: the person who requested a promotion cannot decide it.")
    request_token = promotion.requested_with_token
    if request_token is not None and request_token.created_by_id == actor.pk:
        raise PermissionDenied("Four eyes: you issued the token this promotion was requested with.")
    if token is not None and token.created_by_id == promotion.requested_by_id:
        raise PermissionDenied("Four eyes: your token was issued by the person who requested this promotion.")
    if not has_role(actor, Role.COMPLIANCE):
        raise PermissionDenied("Only compliance staff decide promotions.")
    return promotion


@transaction.atomic
def promotion_approve(
    *,
    promotion: Promotion,
    actor,
    reason: str,
    override_justification: str = "",
    token: ApiToken | None = None,
) -> Promotion:
    """Approve and make it effective: the version serves the target environment from now on.

    `token` is the API token the approval came with (None from the admin)."""
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why you approve."]})
    _lock_model(promotion.version.model)
    promotion = _decidable(promotion, actor, token)
    version = ModelVersion.objects.select_for_update().get(pk=promotion.version_id)
    version.refuse_if_held()
    model = version.model
    current = live_deployment(model, promotion.target)
    if (current.pk if current else None) != promotion.replaces_id:
        raise Conflict(
            f"The {promotion.target} deployment changed since this promotion was requested; request it again."
        )
    gate = gates.gate_evaluate(version)
    if not gate.passed and not override_justification.strip():
        raise ValidationFailed(
            "The gate failed: approving needs an override justification.",
            fields={"override_justification": ["Required when the gate fails."]},
            extra={"gate": gate.as_dict()},
        )
    now = timezone.now()
    meaning = f"approved for {promotion.target}" + (
        f" at {promotion.traffic_percent}% of traffic" if promotion.target == Environment.CANARY else ""
    )
    promotion.status = PromotionStatus.APPROVED
    promotion.decided_by = actor
    promotion.decided_with_token = token
    promotion.decided_at = now
    promotion.decision_reason = reason.strip()
    promotion.signature_meaning = meaning
    promotion.gate_passed = gate.passed
    promotion.gate_result = gate.as_dict()
    promotion.policy_version = gate.policy.version
    promotion.override_justification = override_justification.strip()
    promotion.record_sha256 = version_record_sha256(version)
    overridden = " (gate overridden)" if promotion.override_justification else ""
    mark_change(promotion, actor=actor, reason=f"{meaning.capitalize()}{overridden}: {promotion.decision_reason}")
    promotion.save()
    _deploy(
        model=model,
        environment=promotion.target,
        version=version,
        actor=actor,
        now=now,
        traffic_percent=promotion.traffic_percent or 100,
        promotion=promotion,
        reason=f"Promotion {promotion.pk} {meaning}: {promotion.decision_reason}",
    )
    return promotion


def _end(deployment: Deployment, *, actor, now: datetime, reason: str) -> None:
    deployment.ended_at = now
    mark_change(deployment, actor=actor, reason=reason)
    deployment.save()


def _set_status(version: ModelVersion, status: str, *, actor, reason: str) -> None:
    if version.status != status:
        version.status = status
        mark_change(version, actor=actor, reason=reason)
        version.save()


def _deploy(
    *,
    model: RegisteredModel,
    environment: str,
    version: ModelVersion,
    actor,
    now: datetime,
    traffic_percent: int,
    reason: str,
    promotion: Promotion | None = None,
    kind: str = Deployment.Kind.PROMOTION,
) -> Deployment:
    current = live_deployment(model, environment)
    if current is not None:
        _end(current, actor=actor, now=now, reason=f"Replaced by {version.version}: {reason}")
        if current.version_id != version.pk and current.version.status == environment:
            # Still an approved version: it can come back by a rollback.
            _set_status(current.version, VersionStatus.APPROVED, actor=actor, reason=f"No longer in {environment}")
    if environment == Environment.PRODUCTION:
        canary = live_deployment(model, Environment.CANARY)
        if canary is not None and canary.version_id == version.pk:
            _end(canary, actor=actor, now=now, reason=f"{version.version} went to production")
    deployment = Deployment(
        model=model,
        environment=environment,
        version=version,
        traffic_percent=traffic_percent,
        kind=kind,
        promotion=promotion,
        approved_by=actor if promotion else _approver_of(version, environment) or actor,
        reason=reason,
        started_at=now,
    )
    mark_change(deployment, actor=actor, reason=reason)
    try:
        with transaction.atomic():
            deployment.save()
    except IntegrityError:
        raise Conflict(f"Another {environment} deployment started at the same time; try again.") from None
    _set_status(version, environment, actor=actor, reason=reason)
    deployment_started.send(sender=Deployment, deployment=deployment)
    return deployment


def _approver_of(version: ModelVersion, environment: str):
    """Who approved this version for the environment (a rollback puts back what they approved)."""
    approved = (
        Promotion.objects.filter(version=version, target=environment, status=PromotionStatus.APPROVED)
        .select_related("decided_by")
        .order_by("-decided_at")
        .first()
    )
    return approved.decided_by if approved else None


@transaction.atomic
def promotion_reject(*, promotion: Promotion, actor, reason: str, token: ApiToken | None = None) -> Promotion:
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why you reject."]})
    promotion = _decidable(promotion, actor, token)
    gate = gates.gate_evaluate(promotion.version)
    promotion.status = PromotionStatus.REJECTED
    promotion.decided_by = actor
    promotion.decided_with_token = token
    promotion.decided_at = timezone.now()
    promotion.decision_reason = reason.strip()
    promotion.signature_meaning = f"rejected for {promotion.target}"
    promotion.gate_passed = gate.passed
    promotion.gate_result = gate.as_dict()
    promotion.policy_version = gate.policy.version
    mark_change(promotion, actor=actor, reason=f"Rejected for {promotion.target}: {promotion.decision_reason}")
    promotion.save()
    return promotion


@transaction.atomic
def rollback(*, model: RegisteredModel, actor, reason: str) -> Deployment:
    """Put the previous approved production version back, at once, and mark the current one rolled back."""
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why you roll back."]})
    model = _lock_model(model)
    current = live_deployment(model, Environment.PRODUCTION)
    if current is None:
        raise Conflict(f"Model '{model.name}' has no version in production to roll back.")
    previous = (
        Deployment.objects.filter(model=model, environment=Environment.PRODUCTION)
        .exclude(pk=current.pk)
        .exclude(version=current.version)
        .exclude(version__status__in=(VersionStatus.ROLLED_BACK, VersionStatus.RETIRED))
        .select_related("version")
        .order_by("-started_at", "-id")
        .first()
    )
    if previous is None:
        raise Conflict(f"Model '{model.name}' has no earlier approved production version to roll back to.")
    now = timezone.now()
    rolled_back = current.version
    _end(current, actor=actor, now=now, reason=f"Rolled back: {reason}")
    _set_status(rolled_back, VersionStatus.ROLLED_BACK, actor=actor, reason=f"Rolled back: {reason}")
    return _deploy(
        model=model,
        environment=Environment.PRODUCTION,
        version=previous.version,
        actor=actor,
        now=now,
        traffic_percent=100,
        kind=Deployment.Kind.ROLLBACK,
        reason=f"Rollback from {rolled_back.version} to {previous.version.version}: {reason}",
    )


@dataclass(frozen=True)
class WhatRan:
    at: datetime | None
    live: list[Deployment]
    timeline: QuerySet[Deployment]


def deployments_at(*, model: RegisteredModel, at: datetime | None = None) -> WhatRan:
    """What served each environment at `at` (now if None): started at or before, and not yet ended."""
    timeline = Deployment.objects.filter(model=model).select_related("version", "approved_by", "promotion")
    if at is None:
        live = timeline.filter(ended_at=None)
    else:
        live = timeline.filter(started_at__lte=at).filter(Q(ended_at=None) | Q(ended_at__gt=at))
    return WhatRan(
        at=at, live=sorted(live, key=lambda d: d.environment), timeline=timeline.order_by("started_at", "id")
    )
