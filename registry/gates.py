"""Release gates: a model's rules over evaluation metrics, and how a version fares against them.

A rule is `{"metric": "win_rate", "min": 0.55}`, `{"metric": "refusal_rate",
"min": 0.02, "max": 0.08}`, `{"metric": "p95_latency_ms", "max": 1200}`, or,
for the win rate of every intent, `{"metric": "win_rate", "per_intent": true,
"min": 0.5}`. Each is judged on the version's latest evaluation that measured
the metric; a win rate counts only against the production version (when the
model has one). Missing evidence fails the gate, and says so.

Every gate also holds one rule no policy can drop, metric `lifecycle`: a version
whose base model shuts down within LIFECYCLE_GATE_DAYS days (or has shut down)
fails it, so promoting it needs an approver's override justification.

A version whose provider serves a fine-tuned model only once deployed (Azure) also gets a
rule `serving_deployment`, before the lifecycle rule: it fails unless the version's
deployment is `succeeded`. OpenAI versions do not get it.

Two rules judge the version's data, as the datasets app checked it (registry.data_cards):
`{"metric": "dataset_check"}` fails while a training or validation file the version names has
blocking findings (unless Compliance overrode them for that report), and
`{"metric": "golden_leakage", "max": 0}` fails when more than `max` golden-set prompts leaked
into that data. Data never checked is missing evidence, like an unmeasured metric; so is
leakage never compared against a golden set the version's evaluations cite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from core.audit import mark_change
from core.errors import Conflict, ValidationFailed
from lifecycle.selectors import Runway
from registry.data_cards import DataFile, version_data_files
from registry.fine_tuning import needs_deployment
from registry.metrics import METRIC_NAME
from registry.models import (
    EvaluationResult,
    GatePolicy,
    ModelVersion,
    RegisteredModel,
    ServingState,
    VersionStatus,
)
from registry.runway import versions_runway

MAX_RULES = 50
PASS, FAIL, MISSING = "pass", "fail", "missing"
LIFECYCLE = "lifecycle"
SERVING_DEPLOYMENT = "serving_deployment"
DATASET_CHECK = "dataset_check"
GOLDEN_LEAKAGE = "golden_leakage"
DATA_RULES = (DATASET_CHECK, GOLDEN_LEAKAGE)


def rules_errors(rules: Any) -> dict[str, list[str]]:
    """Field errors of a rules list; empty when valid."""
    if not isinstance(rules, list) or not rules:
        return {"rules": ["A non-empty list of rules."]}
    if len(rules) > MAX_RULES:
        return {"rules": [f"At most {MAX_RULES} rules."]}
    errors: dict[str, list[str]] = {}
    for index, rule in enumerate(rules):
        where = f"rules.{index}"
        if not isinstance(rule, dict):
            errors[where] = ["A rule is an object."]
            continue
        unknown = set(rule) - {"metric", "min", "max", "per_intent"}
        if unknown:
            errors[where] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
            continue
        metric = rule.get("metric")
        if metric in DATA_RULES:
            errors.update(_data_rule_errors(rule, where))
            continue
        if not isinstance(metric, str) or not METRIC_NAME.match(metric):
            errors[f"{where}.metric"] = ["A metric name, e.g. win_rate."]
        bounds = {k: rule[k] for k in ("min", "max") if k in rule}
        if not bounds:
            errors[where] = ["Give min, max or both."]
        for key, value in bounds.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                errors[f"{where}.{key}"] = ["A finite number."]
        if (
            all(isinstance(v, (int, float)) for v in bounds.values())
            and len(bounds) == 2
            and bounds["min"] > bounds["max"]
        ):
            errors[where] = ["min is above max."]
        if "per_intent" in rule and (rule["per_intent"] is not True or metric != "win_rate"):
            errors[f"{where}.per_intent"] = ['Only {"metric": "win_rate", "per_intent": true}.']
    return errors


def _data_rule_errors(rule: dict, where: str) -> dict[str, list[str]]:
    if rule["metric"] == DATASET_CHECK:
        if set(rule) != {"metric"}:
            return {where: ['Exactly {"metric": "dataset_check"}: no blocking finding is ever tolerated.']}
        return {}
    if set(rule) != {"metric", "max"}:
        return {where: ['Exactly {"metric": "golden_leakage", "max": N}, N leaked items tolerated.']}
    value = rule["max"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return {f"{where}.max": ["A whole number of leaked items, 0 or more."]}
    return {}


def describe(rule: dict) -> str:
    if rule["metric"] == DATASET_CHECK:
        return f"{DATASET_CHECK}: no blocking finding in the version's data"
    if rule["metric"] == GOLDEN_LEAKAGE:
        return f"{GOLDEN_LEAKAGE}: at most {rule['max']} golden-set prompts leaked into the version's data"
    name = f"{rule['metric']} per intent" if rule.get("per_intent") else rule["metric"]
    if "min" in rule and "max" in rule:
        return f"{name} within [{rule['min']:g}, {rule['max']:g}]"
    if "min" in rule:
        return f"{name} >= {rule['min']:g}"
    return f"{name} <= {rule['max']:g}"


def _within(value: float, rule: dict) -> bool:
    return rule.get("min", -math.inf) <= value <= rule.get("max", math.inf)


@dataclass(frozen=True)
class PolicyInEffect:
    rules: list[dict]
    version: int | None  # None: the default policy from settings
    source: str  # "model" or "default"


@dataclass
class RuleResult:
    rule: str
    metric: str
    outcome: str
    value: float | None = None
    threshold: dict = field(default_factory=dict)
    evaluation_id: int | None = None
    detail: str = ""
    intents: dict[str, dict] = field(default_factory=dict)


@dataclass
class GateResult:
    passed: bool
    policy: PolicyInEffect
    rules: list[RuleResult]

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "policy": {"version": self.policy.version, "source": self.policy.source},
            "rules": [
                {
                    "rule": r.rule,
                    "metric": r.metric,
                    "outcome": r.outcome,
                    "value": r.value,
                    "threshold": r.threshold,
                    "evaluation_id": r.evaluation_id,
                    "detail": r.detail,
                    "intents": r.intents,
                }
                for r in self.rules
            ],
        }


def policy_in_effect(model: RegisteredModel) -> PolicyInEffect:
    latest = model.gate_policies.order_by("-version").first()
    if latest is not None:
        return PolicyInEffect(rules=latest.rules, version=latest.version, source="model")
    return PolicyInEffect(rules=settings.FINEPRINT_DEFAULT_GATE_RULES, version=None, source="default")


def _production_label(version: ModelVersion) -> str | None:
    label = (
        ModelVersion.objects.filter(model_id=version.model_id, status=VersionStatus.PRODUCTION)
        .exclude(pk=version.pk)
        .values_list("version", flat=True)
        .first()
    )
    return label


def gate_evaluate(version: ModelVersion, *, runway: Runway | None = None) -> GateResult:
    """Judge a version's latest evaluations against its model's policy, rule by rule, then its runway.

    `runway` is the version's runway when the caller has it already (one catalogue query otherwise).
    """
    policy = policy_in_effect(version.model)
    evaluations = list(EvaluationResult.objects.filter(version=version).order_by("-ran_at", "-id"))
    production = _production_label(version)
    files = version_data_files(version) if any(r.get("metric") in DATA_RULES for r in policy.rules) else []
    results = []
    for rule in policy.rules:
        if rule["metric"] == DATASET_CHECK:
            results.append(dataset_check_judge(files))
        elif rule["metric"] == GOLDEN_LEAKAGE:
            results.append(golden_leakage_judge(rule, files, evaluations))
        else:
            results.append(rule_judge(rule, evaluations, production))
    if needs_deployment(version.provider):
        results.append(serving_deployment_judge(version))
    results.append(lifecycle_judge(runway if runway is not None else versions_runway([version])[version.pk]))
    return GateResult(passed=all(r.outcome == PASS for r in results), policy=policy, rules=results)


def _unchecked(files: list[DataFile]) -> str:
    """Why files the version names have no report, and what to do; '' when every one has."""
    reasons = []
    for f in files:
        if f.checked:
            continue
        where = f"The {f.role} file ({f.sha256[:12]}…)"
        status = f.check.check_status if f.check else None
        if f.check is None:
            reasons.append(f"{where} was never checked: upload it to /api/v1/datasets/ to check it.")
        elif status == "failed":
            reasons.append(f"{where} could not be checked (its check failed): check it again.")
        elif status:
            reasons.append(f"{where} is still being checked ({status}, {f.check.check_progress or 0}%).")
        else:
            reasons.append(f"{where} was uploaded but never checked: check it.")
    return " ".join(reasons)


def dataset_check_judge(files: list[DataFile]) -> RuleResult:
    """No blocking finding in the version's training or validation data; Compliance's override of a report passes.

    The value is the number of blocking findings not overridden.
    """
    result = RuleResult(
        rule=describe({"metric": DATASET_CHECK}), metric=DATASET_CHECK, outcome=MISSING, threshold={"max": 0}
    )
    result.detail = _unchecked(files)
    if result.detail:
        return result
    parts, blocking = [], 0
    for f in files:
        check, role = f.check, f.role.capitalize()
        if check.blocking == 0:
            parts.append(f"{role}: no blocking finding ({check.warnings} warnings).")
        elif check.overridden:
            override = check.override
            parts.append(
                f"{role}: {check.blocking} blocking findings OVERRIDDEN by {override.by} on "
                f"{override.at:%Y-%m-%d}: {override.justification}"
            )
        else:
            blocking += check.blocking
            codes = sorted({finding["code"] for finding in check.blocking_findings()})
            parts.append(f"{role}: {check.blocking} blocking findings ({', '.join(codes)}).")
    result.value = float(blocking)
    result.outcome = PASS if blocking == 0 else FAIL
    result.detail = " ".join(parts)
    return result


def golden_leakage_judge(rule: dict, files: list[DataFile], evaluations: list[EvaluationResult]) -> RuleResult:
    """At most `max` golden-set prompts leaked into the version's data, compared against every golden set cited.

    A golden set one of the version's evaluations cites but the check never compared against
    leaves the leakage unknown: missing, naming it.
    """
    result = RuleResult(rule=describe(rule), metric=GOLDEN_LEAKAGE, outcome=MISSING, threshold={"max": rule["max"]})
    result.detail = _unchecked(files)
    if result.detail:
        return result
    cited = sorted({e.golden_set_sha256 for e in evaluations if e.golden_set_sha256})
    uncompared = [f"{f.role} {sha[:12]}…" for f in files for sha in cited if sha not in f.check.goldens]
    if uncompared:
        result.detail = (
            "Leakage unknown: the check never compared the data against golden sets the evaluations cite "
            f"({', '.join(uncompared)}); upload each golden set (kind golden) and check the data again."
        )
        return result
    total = sum(f.check.leaked for f in files)
    result.value = float(total)
    result.outcome = PASS if total <= rule["max"] else FAIL
    counts = ", ".join(f"{f.role} {f.check.leaked}" for f in files)
    against = (
        f"{len(cited)} golden set{'s' if len(cited) != 1 else ''} the evaluations cite"
        if cited
        else ("no golden set (no evaluation cites one yet)")
    )
    result.detail = (
        f"{total} leaked golden-set prompts, exact or near ({counts}), compared against {against}; "
        f"at most {rule['max']} tolerated."
    )
    return result


def serving_deployment_judge(version: ModelVersion) -> RuleResult:
    """The deployment rule (Azure): a version serves only through a deployment whose state is succeeded."""
    result = RuleResult(
        rule=f"{SERVING_DEPLOYMENT}: a succeeded deployment serves it",
        metric=SERVING_DEPLOYMENT,
        outcome=FAIL,
    )
    name, state = version.serving_deployment, version.serving_deployment_state
    if state == ServingState.SUCCEEDED:
        result.outcome = PASS
        result.detail = f"Deployment {name} serves {version.fine_tuned_model}."
    elif not name:
        result.detail = "Azure serves a fine-tuned model only once it is deployed: deploy it first."
    elif state == ServingState.MISSING:
        result.detail = (
            f"Deployment {name} no longer exists (Azure deletes a deployment unused for 15 days): deploy it again."
        )
    elif state == ServingState.FAILED:
        result.detail = f"Deployment {name} failed: deploy it again."
    else:
        result.detail = f"Deployment {name} is still {state}: wait until it has succeeded."
    return result


def lifecycle_judge(found: Runway, *, gate_days: int | None = None) -> RuleResult:
    """The lifecycle rule: fails when the version's model shuts down within `gate_days` (LIFECYCLE_GATE_DAYS) days.

    A model the catalogue does not know, or without an announced shutdown, passes: the
    gate judges what is known, and says what is not.
    """
    days = settings.LIFECYCLE_GATE_DAYS if gate_days is None else gate_days
    result = RuleResult(
        rule=f"{LIFECYCLE}: more than {days} days before the base model shuts down",
        metric=LIFECYCLE,
        outcome=PASS,
        value=float(found.days_left) if found.days_left is not None else None,
        threshold={"min": days + 1},
    )
    name = found.model_id if found.model_id == found.base_model else f"{found.model_id} (on {found.base_model})"
    if not found.known:
        result.detail = f"The provider catalogue does not know {name}: no shutdown date to judge."
    elif found.shutdown_date is None:
        result.detail = f"{name}: no shutdown announced."
    elif found.days_left <= 0:
        result.outcome = FAIL
        ago = f"{-found.days_left} days ago" if found.days_left else "today"
        result.detail = f"{name} shut down on {found.shutdown_date.isoformat()} ({ago})."
    else:
        within = found.days_left <= days
        result.outcome = FAIL if within else PASS
        result.detail = f"{name} shuts down on {found.shutdown_date.isoformat()}: {found.days_left} days left" + (
            f", within the {days}-day window." if within else "."
        )
    if found.replacement and result.outcome == FAIL:
        result.detail += f" Its replacement: {found.replacement}."
    return result


def rule_judge(rule: dict, evaluations: list[EvaluationResult], production: str | None) -> RuleResult:
    metric = rule["metric"]
    result = RuleResult(
        rule=describe(rule), metric=metric, outcome=MISSING, threshold={k: rule[k] for k in ("min", "max") if k in rule}
    )
    candidates = [e for e in evaluations if metric in e.metrics]
    if metric == "win_rate" and production:
        candidates = [e for e in candidates if e.baseline == production]
    if not candidates:
        against = f" against the production version {production}" if metric == "win_rate" and production else ""
        result.detail = f"No evaluation of this version measured {metric}{against}."
        return result
    evaluation = candidates[0]
    result.evaluation_id = evaluation.pk
    if rule.get("per_intent"):
        if not evaluation.per_intent:
            result.detail = f"Evaluation {evaluation.pk} ({evaluation.suite}) has no per-intent breakdown."
            return result
        result.intents = {
            intent: {"value": value, "outcome": PASS if _within(value, rule) else FAIL}
            for intent, value in sorted(evaluation.per_intent.items())
        }
        failing = [intent for intent, v in result.intents.items() if v["outcome"] == FAIL]
        result.value = min(evaluation.per_intent.values())
        result.outcome = FAIL if failing else PASS
        result.detail = f"Below the threshold: {', '.join(failing)}." if failing else "Every intent passes."
        return result
    result.value = evaluation.metrics[metric]
    result.outcome = PASS if _within(result.value, rule) else FAIL
    result.detail = f"From evaluation {evaluation.pk} ({evaluation.suite}), baseline {evaluation.baseline or 'none'}."
    return result


@transaction.atomic
def gate_policy_create(*, model: RegisteredModel, actor, rules: list[dict], reason: str) -> GatePolicy:
    """A new version of the model's gate policy; earlier versions stay as they were."""
    errors = rules_errors(rules)
    if not reason.strip():
        errors["reason"] = ["Say why the gate changes."]
    if errors:
        raise ValidationFailed("The gate policy is invalid.", fields=errors)
    latest = model.gate_policies.order_by("-version").values_list("version", flat=True).first() or 0
    policy = GatePolicy(model=model, version=latest + 1, rules=rules, reason=reason, created_by=actor)
    mark_change(policy, actor=actor, reason=reason)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict("Someone changed this gate policy at the same time; read it again and retry.") from None
    return policy
