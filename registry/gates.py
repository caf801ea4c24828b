"""Release gates: a model's rules over evaluation metrics, and how a version fares against them.

A rule is `{"metric": "win_rate", "min": 0.55}`, `{"metric": "refusal_rate",
"min": 0.02, "max": 0.08}`, `{"metric": "p95_latency_ms", "max": 1200}`, or,
for the win rate of every intent, `{"metric": "win_rate", "per_intent": true,
"min": 0.5}`. Each is judged on the version's latest evaluation that measured
the metric; a win rate counts only against the production version (when the
model has one). Missing evidence fails the gate, and says so.

A win-rate rule may ask for more than a point estimate: `"bound": "lower_ci"` compares
the lower bound of the Wilson 95% interval with `min` instead of the estimate, and
`"min_n": 30` fails when fewer items were compared (overall, or in any intent with
`per_intent`). `{"metric": "human_rated_share", "min": 0.1}` and `{"metric":
"judge_human_kappa", "min": 0.6}` ask how much of the comparison humans rated and how far
the model judge agrees with them. These rules are judged only on evaluations a
side-by-side run's verdicts support (`EvaluationResult.evidence`): the latest such
evaluation of the win rate against the production version. A win rate typed in by hand
leaves them missing ("typed in, not supported by verdicts"); it still passes plain rules.

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from core.audit import mark_change
from core.errors import Conflict, ValidationFailed
from core.wording import plural
from datasets.models import Dataset, DatasetKind
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
WIN_RATE = "win_rate"
POINT, LOWER_CI = "point", "lower_ci"
BOUNDS = (POINT, LOWER_CI)
# Metrics only a side-by-side run gives, judged on the evaluation its verdicts support.
SBS_METRICS = ("human_rated_share", "judge_human_kappa")
RULE_KEYS = {"metric", "min", "max", "per_intent", "bound", "min_n"}


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
        unknown = set(rule) - RULE_KEYS
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
        if "per_intent" in rule and (rule["per_intent"] is not True or metric != WIN_RATE):
            errors[f"{where}.per_intent"] = ['Only {"metric": "win_rate", "per_intent": true}.']
        errors.update(_evidence_keys_errors(rule, where))
    return errors


def _evidence_keys_errors(rule: dict, where: str) -> dict[str, list[str]]:
    """bound and min_n: win-rate rules only; lower_ci compares the lower bound with a min."""
    errors: dict[str, list[str]] = {}
    if "bound" in rule:
        bound = rule["bound"]
        if rule.get("metric") != WIN_RATE:
            errors[f"{where}.bound"] = ["Only on win_rate rules."]
        elif bound not in BOUNDS:
            errors[f"{where}.bound"] = ['"point" (the estimate, the default) or "lower_ci" (the lower 95% bound).']
        elif bound == LOWER_CI and ("max" in rule or "min" not in rule):
            errors[f"{where}.bound"] = ["lower_ci compares the lower 95% bound with min: give min, and no max."]
    if "min_n" in rule:
        min_n = rule["min_n"]
        if rule.get("metric") != WIN_RATE:
            errors[f"{where}.min_n"] = ["Only on win_rate rules."]
        elif isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
            errors[f"{where}.min_n"] = ["A whole number of comparisons, 1 or more."]
    return errors


def needs_evidence(rule: dict) -> bool:
    """Whether only an evaluation a side-by-side run supports can satisfy the rule."""
    return rule["metric"] in SBS_METRICS or rule.get("bound") == LOWER_CI or "min_n" in rule


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
    if rule.get("bound") == LOWER_CI:
        name += " lower 95% bound"
    if "min" in rule and "max" in rule:
        words = f"{name} within [{rule['min']:g}, {rule['max']:g}]"
    elif "min" in rule:
        words = f"{name} >= {rule['min']:g}"
    else:
        words = f"{name} <= {rule['max']:g}"
    if "min_n" in rule:
        words += f", at least {rule['min_n']} comparisons" + (" each" if rule.get("per_intent") else "")
    return words


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


def _in_effect(policy: GatePolicy | None) -> PolicyInEffect:
    if policy is not None:
        return PolicyInEffect(rules=policy.rules, version=policy.version, source="model")
    return PolicyInEffect(rules=settings.FINEPRINT_DEFAULT_GATE_RULES, version=None, source="default")


def policy_in_effect(model: RegisteredModel) -> PolicyInEffect:
    return _in_effect(model.gate_policies.order_by("-version").first())


def policies_as_of(model_ids: Iterable[int], *, at: datetime, inclusive: bool = True) -> dict[int, PolicyInEffect]:
    """Each model's policy as it stood at `at` (created by then; `inclusive=False`: strictly before), in one query.

    A policy is a new row per change, so the one in force then is the highest version created by
    then; a model without one was judged by the default rules (settings, read as they are now).
    """
    wanted = set(model_ids)
    created = {"created_at__lte" if inclusive else "created_at__lt": at}
    latest: dict[int, GatePolicy] = {}
    for policy in GatePolicy.objects.filter(model_id__in=wanted, **created).order_by("model_id", "-version"):
        latest.setdefault(policy.model_id, policy)
    return {model_id: _in_effect(latest.get(model_id)) for model_id in wanted}


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
            results.append(rule_judge(rule, evaluations, production, version=version))
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
            parts.append(f"{role}: no blocking finding ({plural(check.warnings, 'warning')}).")
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
        ago = f"{plural(-found.days_left, 'day')} ago" if found.days_left else "today"
        result.detail = f"{name} shut down on {found.shutdown_date.isoformat()} ({ago})."
    else:
        within = found.days_left <= days
        result.outcome = FAIL if within else PASS
        left = plural(found.days_left, "day")
        result.detail = f"{name} shuts down on {found.shutdown_date.isoformat()}: {left} left" + (
            f", within the {days}-day window." if within else "."
        )
    if found.replacement and result.outcome == FAIL:
        result.detail += f" Its replacement: {found.replacement}."
    return result


def rule_judge(
    rule: dict, evaluations: list[EvaluationResult], production: str | None, *, version: ModelVersion | None = None
) -> RuleResult:
    """One metric rule on the latest evaluation that measured it (a win rate: against the production version).

    A rule that needs evidence (needs_evidence) is judged by evidence_rule_judge instead. `version`,
    when given, names where to post a side-by-side run in that rule's detail.
    """
    if needs_evidence(rule):
        return evidence_rule_judge(rule, evaluations, production, version=version)
    metric = rule["metric"]
    result = RuleResult(
        rule=describe(rule), metric=metric, outcome=MISSING, threshold={k: rule[k] for k in ("min", "max") if k in rule}
    )
    candidates = [e for e in evaluations if metric in e.metrics]
    if metric == WIN_RATE and production:
        candidates = [e for e in candidates if e.baseline == production]
    if not candidates:
        against = f" against the production version {production}" if metric == WIN_RATE and production else ""
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


def _num(value: float) -> str:
    """A figure in a reason: 4 decimals at most, no trailing zeros (0.41, 0.5, 0.4123)."""
    return f"{round(value, 4):g}"


def _sbs_runs_path(version: ModelVersion | None) -> str:
    if version is None:
        return ".../versions/{version}/sbs-runs/"
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/"


def _tally_reason(where: str, tally: dict, rule: dict) -> str:
    """Why a group (overall, or an intent) fails a win-rate rule; '' when it passes.

    Too few comparisons comes first: a bound over too few items says little either way.
    """
    n, min_n = tally["n"], rule.get("min_n")
    if min_n is not None and n < min_n:
        return f"{where}: {n} comparisons, at least {min_n} required"
    if not n:
        return f"{where}: 0 comparisons"
    if rule.get("bound") == LOWER_CI:
        lower = tally["lower"]
        return "" if lower >= rule["min"] else f"{where}: lower bound {_num(lower)} below {_num(rule['min'])}"
    rate = tally["win_rate"]
    if rate < rule.get("min", -math.inf):
        return f"{where}: win rate {_num(rate)} below {_num(rule['min'])}"
    if rate > rule.get("max", math.inf):
        return f"{where}: win rate {_num(rate)} above {_num(rule['max'])}"
    return ""


def _golden_intents(sha256: str) -> list[str]:
    """The intents the golden set version holds (an intent no rated item carries still counts, with n = 0)."""
    counts = (
        Dataset.objects.filter(sha256=sha256, kind=DatasetKind.GOLDEN).values_list("intent_counts", flat=True).first()
    )
    return sorted(counts or {})


def evidence_rule_judge(
    rule: dict, evaluations: list[EvaluationResult], production: str | None, *, version: ModelVersion | None = None
) -> RuleResult:
    """A rule only verdicts can satisfy: a win rate with bound lower_ci or min_n, a human share, a kappa.

    It is judged on the latest evaluation a side-by-side run supports (its evidence is the run's
    figures) that measured the win rate against the production version (when the model has one):
    human share and kappa come from the same evaluation as the win rate. A win rate typed in by hand
    can pass a plain rule, never this one: it leaves the rule missing, saying so.
    """
    metric = rule["metric"]
    result = RuleResult(
        rule=describe(rule), metric=metric, outcome=MISSING, threshold={k: rule[k] for k in ("min", "max") if k in rule}
    )
    candidates = [e for e in evaluations if WIN_RATE in e.metrics]
    if production:
        candidates = [e for e in candidates if e.baseline == production]
    supported = [e for e in candidates if e.evidence is not None]
    against = f" against the production version {production}" if production else ""
    post = f"post an SBS run to {_sbs_runs_path(version)}"
    if not supported:
        if candidates:
            typed = candidates[0]
            result.evaluation_id = typed.pk
            gives = (
                "who rated the items and how far the judge agrees with the humans"
                if metric in SBS_METRICS
                else "the win rate, its interval and the number of comparisons"
            )
            result.detail = (
                f"Evaluation {typed.pk} ({typed.suite}) was typed in, not supported by verdicts: {post} "
                f"(its verdicts give {gives})."
            )
        else:
            result.detail = f"No side-by-side run of this version measured the win rate{against}: {post}."
        return result
    evaluation = supported[0]
    figures = evaluation.evidence
    result.evaluation_id = evaluation.pk
    source = f"from evaluation {evaluation.pk} ({evaluation.suite}), baseline {evaluation.baseline or 'none'}"
    if candidates[0] is not evaluation:
        source += f"; the newer evaluation {candidates[0].pk} was typed in, not supported by verdicts"
    if metric in SBS_METRICS:
        return _sbs_metric_judge(rule, result, evaluation, source)
    if rule.get("per_intent"):
        return _per_intent_judge(rule, result, evaluation, source)
    overall = figures["overall"]
    reason = _tally_reason("overall", overall, rule)
    result.value = overall["lower"] if rule.get("bound") == LOWER_CI else overall["win_rate"]
    result.outcome = FAIL if reason else PASS
    figures_words = (
        f"Win rate {_num(overall['win_rate'])} [{_num(overall['lower'])}, {_num(overall['upper'])}] "
        f"over {overall['n']} comparisons, {source}."
    )
    result.detail = f"{reason}. {figures_words}" if reason else figures_words
    return result


def _per_intent_judge(rule: dict, result: RuleResult, evaluation: EvaluationResult, source: str) -> RuleResult:
    found = evaluation.evidence["per_intent"]
    empty = {"n": 0, "win_rate": None, "lower": None, "upper": None}
    intents = sorted(set(found) | set(_golden_intents(evaluation.golden_set_sha256)))
    if not intents:
        result.detail = f"Evaluation {evaluation.pk} ({evaluation.suite}) has no per-intent breakdown."
        return result
    reasons = []
    for intent in intents:
        tally = found.get(intent, empty)
        reason = _tally_reason(intent, tally, rule)
        value = tally["lower"] if rule.get("bound") == LOWER_CI else tally["win_rate"]
        result.intents[intent] = {
            "value": value,
            "win_rate": tally["win_rate"],
            "lower": tally["lower"],
            "upper": tally["upper"],
            "n": tally["n"],
            "outcome": FAIL if reason else PASS,
            "reason": reason,
        }
        if reason:
            reasons.append(reason)
    values = [entry["value"] for entry in result.intents.values() if entry["value"] is not None]
    result.value = min(values) if values else None
    result.outcome = FAIL if reasons else PASS
    summary = f"{len(intents)} intents, {source}."
    result.detail = f"{'; '.join(reasons)}. {summary}" if reasons else f"Every intent passes: {summary}"
    return result


def _sbs_metric_judge(rule: dict, result: RuleResult, evaluation: EvaluationResult, source: str) -> RuleResult:
    figures, metric = evaluation.evidence, rule["metric"]
    value = evaluation.metrics.get(metric)
    if metric == "judge_human_kappa":
        pair = figures["agreement"]["judge_human"]
        if value is None:
            result.detail = (
                f"No judge-human kappa in evaluation {evaluation.pk} ({evaluation.suite}): "
                + (
                    "no item was rated by both the model judge and a human"
                    if not pair["pairs"]
                    else "the judge and the humans gave one and the same outcome to every item (kappa undefined)"
                )
                + "; have humans rate some of the items the judge rated."
            )
            return result
        words = f"Judge-human kappa {_num(value)} over {pair['pairs']} pairs on {pair['items']} items"
    else:
        words = f"Human-rated share {_num(value)} ({figures['human_items']} of {figures['items_rated']} items)"
    result.value = value
    result.outcome = PASS if _within(value, rule) else FAIL
    result.detail = f"{words}, {source}."
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
