"""Every write on the registry. Views, the admin, commands and tasks call these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import create_tracked, mark_change
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.roles import Role, has_role
from core.validation import full_clean
from lifecycle.models import Provider
from providers.base import ProviderNotConfigured
from providers.registry import provider_api
from registry import runway
from registry.data_cards import data_checks
from registry.metrics import COMPUTED_METRICS, metrics_errors, per_intent_errors
from registry.models import EvaluationResult, ModelVersion, RegisteredModel, VersionStatus

MODEL_EDITABLE_FIELDS = frozenset(
    {
        "display_name",
        "purpose",
        "permitted_uses",
        "out_of_scope_uses",
        "base_model",
        "provider",
        *RegisteredModel.GOVERNANCE_FIELDS,
    }
)
VERSION_EDITABLE_FIELDS = frozenset({"changelog", "training_file_id", "validation_file_id", "fine_tuned_model"})


def _require_compliance_for_governance(actor, fields: Iterable[str]) -> None:
    governed = sorted(set(fields) & RegisteredModel.GOVERNANCE_FIELDS)
    if governed and not has_role(actor, Role.COMPLIANCE):
        raise PermissionDenied(
            "Only compliance staff may set governance fields.",
            fields={field: ["Governance field: compliance staff only."] for field in governed},
        )


@transaction.atomic
def model_create(
    *, actor, name: str, display_name: str, purpose: str, base_model: str, reason: str = "", **fields: Any
) -> RegisteredModel:
    unknown = set(fields) - MODEL_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={f: ["Unknown field."] for f in sorted(unknown)})
    # Naming owners and the provider at creation is part of registering; changing them later is governance.
    _require_compliance_for_governance(actor, set(fields) - {"business_owner", "technical_owner", "provider"})
    model = RegisteredModel(
        name=name, display_name=display_name, purpose=purpose, base_model=base_model, created_by=actor, **fields
    )
    # New versions would train on it: a base that has shut down cannot serve them.
    runway.refuse_shut_down_base(provider=model.provider, base_model=base_model, work="register a model")
    if model.technical_owner_id is None:
        model.technical_owner = actor
    full_clean(model, validate_unique=False)
    mark_change(model, actor=actor, reason=reason or "Model registered")
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        raise Conflict(f"A model named '{name}' already exists.", fields={"name": ["Already exists."]}) from None
    return model


@transaction.atomic
def model_update(*, model: RegisteredModel, actor, data: Mapping[str, Any], reason: str = "") -> RegisteredModel:
    unknown = set(data) - MODEL_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed.", fields={f: ["Cannot be changed."] for f in sorted(unknown)}
        )
    changed = {field: value for field, value in data.items() if getattr(model, field) != value}
    _require_compliance_for_governance(actor, changed)
    if not changed:
        return model
    if "provider" in changed:
        _refuse_provider_move(model=model, provider=changed["provider"], reason=reason)
    if "base_model" in changed or "provider" in changed:
        runway.refuse_shut_down_base(
            provider=data.get("provider", model.provider),
            base_model=data.get("base_model", model.base_model),
            work="move the model to this base model",
        )
    for field, value in changed.items():
        setattr(model, field, value)
    full_clean(model, validate_unique=False)
    mark_change(model, actor=actor, reason=reason or "Changed " + ", ".join(sorted(changed)))
    model.save()
    return model


def _refuse_provider_move(*, model: RegisteredModel, provider: str, reason: str) -> None:
    """Moving a model to another provider: a reason, and a provider Fineprint can call.

    Its next versions train there; the versions it has keep the provider they were trained on.
    """
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required to move a model to another provider.",
            fields={"reason": ["Say why the model moves (e.g. OpenAI closes fine-tuning)."]},
        )
    if provider not in Provider.values:
        return  # full_clean names the valid choices
    try:
        provider_api(provider)
    except ProviderNotConfigured as exc:
        raise ValidationFailed(
            f"Cannot move model '{model.name}': {exc.message}",
            fields={"provider": [f"{exc.setting} is not set."]},
            extra={"provider": exc.provider, "setting": exc.setting},
        ) from None


def _evaluation_build(*, version: ModelVersion, actor, data: Mapping[str, Any], prefix: str = "") -> EvaluationResult:
    errors: dict[str, list[str]] = {}
    metrics = data.get("metrics")
    per_intent = data.get("per_intent") or {}
    evidence = data.get("evidence")
    errors |= metrics_errors(metrics)
    errors |= per_intent_errors(per_intent)
    if evidence is None and isinstance(metrics, dict):
        for name in sorted(set(metrics) & set(COMPUTED_METRICS)):
            errors[f"metrics.{name}"] = [
                "Computed from a side-by-side run's verdicts, never typed in: post the verdicts to "
                ".../versions/{version}/sbs-runs/."
            ]
    baseline = (data.get("baseline_version") or "").strip()
    baseline_version = None
    if baseline:
        if baseline == version.version:
            errors["baseline_version"] = ["A version cannot be its own baseline."]
        elif baseline not in (version.model.base_model, version.base_model):
            baseline_version = ModelVersion.objects.filter(model_id=version.model_id, version=baseline).first()
            if baseline_version is None:
                errors["baseline_version"] = [
                    f"No version '{baseline}' of model '{version.model.name}' (nor its base model)."
                ]
    if isinstance(metrics, dict) and ("win_rate" in metrics or per_intent) and not baseline:
        errors["baseline_version"] = ["A win rate needs the baseline version it was compared against."]
    evaluation = EvaluationResult(
        version=version,
        suite=data.get("suite") or "",
        golden_set_sha256=data.get("golden_set_sha256") or "",
        baseline=baseline,
        baseline_version=baseline_version,
        metrics=metrics if isinstance(metrics, dict) else {},
        per_intent=per_intent if isinstance(per_intent, dict) else {},
        evidence=evidence,
        ran_by=actor,
        ran_at=data.get("ran_at") or timezone.now(),
    )
    try:
        # Relations are instances already (no existence queries needed), metrics were
        # checked above, and the database enforces the check constraints again.
        evaluation.full_clean(
            exclude=["version", "ran_by", "metrics", "per_intent", "baseline_version", "evidence"],
            validate_constraints=False,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationFailed(
            "The evaluation is invalid.", fields={f"{prefix}{field}": msgs for field, msgs in errors.items()}
        )
    return evaluation


def _evaluation_save(evaluation: EvaluationResult, *, actor, reason: str) -> EvaluationResult:
    mark_change(evaluation, actor=actor, reason=reason or f"Evaluation '{evaluation.suite}' recorded")
    evaluation.save()
    return evaluation


@transaction.atomic
def evaluation_record(
    *,
    version: ModelVersion,
    actor,
    suite: str,
    golden_set_sha256: str,
    metrics: dict,
    baseline_version: str = "",
    per_intent: dict | None = None,
    ran_at: datetime | None = None,
    reason: str = "",
    evidence: dict | None = None,
) -> EvaluationResult:
    """Record an evaluation of a version; `evidence` only from a side-by-side run (sbs.services), never typed."""
    if version.status == VersionStatus.RETIRED:
        raise Conflict(f"Version '{version.version}' is retired; it takes no new evaluations.")
    version.refuse_if_held()
    evaluation = _evaluation_build(
        version=version,
        actor=actor,
        data={
            "suite": suite,
            "golden_set_sha256": golden_set_sha256,
            "metrics": metrics,
            "baseline_version": baseline_version,
            "per_intent": per_intent,
            "ran_at": ran_at,
            "evidence": evidence,
        },
    )
    return _evaluation_save(evaluation, actor=actor, reason=reason)


def version_register(
    *,
    model: RegisteredModel,
    actor,
    version: str,
    training_file_sha256: str,
    changelog: str,
    validation_file_sha256: str = "",
    training_file_id: str = "",
    validation_file_id: str = "",
    provider_job_id: str | None = None,
    fine_tuned_model: str = "",
    base_model: str = "",
    evaluations: list[Mapping[str, Any]] | None = None,
    reason: str = "",
) -> ModelVersion:
    """Register a version (status draft), optionally with its first evaluations, in one transaction.

    Everything is validated before the first write, so a bad inline evaluation
    leaves nothing behind. The returned version carries its evaluations in
    `evaluation_list`, as the selectors load it, so the caller can answer
    without reading them back.
    """
    if model.is_retired:
        raise Conflict(f"Model '{model.name}' is retired; it takes no new versions.")
    base_model = base_model or model.base_model
    base_runway = runway.refuse_shut_down_base(
        provider=model.provider, base_model=base_model, work="register a version"
    )
    instance = ModelVersion(
        model=model,
        version=version,
        base_model=base_model,
        # Fixed from now on: a later move of the model leaves this version where it was trained.
        provider=model.provider,
        training_file_sha256=training_file_sha256,
        validation_file_sha256=validation_file_sha256 or "",
        training_file_id=training_file_id or "",
        validation_file_id=validation_file_id or "",
        changelog=changelog,
        provider_job_id=provider_job_id or None,
        fine_tuned_model=fine_tuned_model or "",
        status=VersionStatus.DRAFT,
        created_by=actor,
    )
    # The unique constraints are left to the database, which decides races.
    full_clean(instance, exclude=["model", "created_by"], validate_unique=False, validate_constraints=False)
    built = [
        _evaluation_build(version=instance, actor=actor, data=data, prefix=f"evaluations.{index}.")
        for index, data in enumerate(evaluations or [])
    ]
    mark_change(instance, actor=actor, reason=reason or f"Version {version} registered")
    for evaluation in built:
        mark_change(evaluation, actor=actor, reason=f"Evaluation '{evaluation.suite}' recorded at registration")
    hashes = (instance.training_file_sha256, instance.validation_file_sha256)
    try:
        # One transaction (a savepoint under the caller's), its history rows linked into the chain together. The
        # answer's data card is read in it, with the ids: a registration writes no dataset.
        checks = create_tracked([instance, *built], read_along=lambda: data_checks(hashes))
    except IntegrityError:
        if ModelVersion.objects.filter(model=model, version=version).exists():
            raise Conflict(
                f"Version '{version}' of model '{model.name}' already exists.", fields={"version": ["Already exists."]}
            ) from None
        if instance.provider_job_id and ModelVersion.objects.filter(provider_job_id=instance.provider_job_id).exists():
            raise Conflict(
                "Another version already has this provider job.", fields={"provider_job_id": ["Already registered."]}
            ) from None
        raise
    instance.remember_identity()
    # As the selectors load them (newest first), so answering costs no query.
    instance.evaluation_list = sorted(built, key=lambda e: (e.ran_at, e.pk), reverse=True)
    # A new version has no fine-tuned model yet: its runway is its base model's.
    instance.runway = base_runway
    instance.data_checks = checks
    return instance


@transaction.atomic
def version_update(*, version: ModelVersion, actor, data: Mapping[str, Any], reason: str) -> ModelVersion:
    """Correct a version's descriptive fields; what identifies the training never changes."""
    refused = set(data) - VERSION_EDITABLE_FIELDS
    if refused:
        raise ValidationFailed(
            "These fields are fixed at registration or governed elsewhere.",
            fields={f: ["Cannot be changed."] for f in sorted(refused)},
        )
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why the record changes."]})
    version.refuse_if_held()
    for field, value in data.items():
        setattr(version, field, value)
    full_clean(version, validate_unique=False, validate_constraints=False)
    mark_change(version, actor=actor, reason=reason)
    version.save()
    return version


@transaction.atomic
def version_retire(*, version: ModelVersion, actor, reason: str) -> ModelVersion:
    """Retire a version: it stays on record for good, and takes no new evaluations."""
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why the version is retired."]})
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    version.refuse_if_held()
    if version.status == VersionStatus.RETIRED:
        raise Conflict(f"Version '{version.version}' is already retired.")
    if version.status in (VersionStatus.PRODUCTION, VersionStatus.CANARY):
        raise Conflict(f"Version '{version.version}' is serving ({version.status}); roll it back or replace it first.")
    version.status = VersionStatus.RETIRED
    version.retired_at = timezone.now()
    mark_change(version, actor=actor, reason=reason)
    version.save()
    return version


@transaction.atomic
def version_hold_set(*, version: ModelVersion, actor, hold: str, reason: str) -> ModelVersion:
    """Freeze (`hold` says why) or release (`hold=""`) a version's record as evidence.

    The risk register calls this for serious incidents; while a hold is set, the
    record's changes, retirement and promotions are refused. Rolling it back stays
    possible: taking a harmful version out of service is never blocked.
    """
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.evidence_hold == hold:
        return version
    version.evidence_hold = hold
    mark_change(version, actor=actor, reason=reason)
    version.save()
    return version
