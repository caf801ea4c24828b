"""The evaluation metrics the registry knows, and how their values are checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_METRICS = 50
MAX_INTENTS = 200
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    minimum: float | None = 0.0
    maximum: float | None = None


KNOWN_METRICS = {
    m.name: m
    for m in [
        Metric("win_rate", "Side-by-side win rate against the baseline version", 0.0, 1.0),
        Metric("refusal_rate", "Share of answers that refuse", 0.0, 1.0),
        Metric("golden_score", "Score on the versioned golden set", 0.0, 1.0),
        Metric("p95_latency_ms", "95th percentile latency in milliseconds", 0.0, None),
        # Computed by Fineprint from a side-by-side run's verdicts (sbs.stats), never typed in.
        Metric("win_rate_lower", "Lower bound of the win rate's Wilson 95% interval", 0.0, 1.0),
        Metric("win_rate_upper", "Upper bound of the win rate's Wilson 95% interval", 0.0, 1.0),
        Metric("comparisons", "Golden items compared side by side (n)", 0.0, None),
        Metric("human_rated_share", "Share of the compared items a human rated", 0.0, 1.0),
        Metric("judge_human_kappa", "Cohen's kappa between the model judge and the humans", -1.0, 1.0),
    ]
}
# The metrics only a side-by-side run's verdicts may give: an evaluation typed in by hand cannot.
COMPUTED_METRICS = ("win_rate_lower", "win_rate_upper", "comparisons", "human_rated_share", "judge_human_kappa")


def metric_bounds(name: str) -> tuple[float | None, float | None]:
    if name in KNOWN_METRICS:
        return KNOWN_METRICS[name].minimum, KNOWN_METRICS[name].maximum
    # Any other rate or score is a share, like the known ones.
    if name.endswith(("_rate", "_score", "_accuracy")):
        return 0.0, 1.0
    return None, None


def _check_value(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "Must be a number."
    # Floats only: math.isfinite(10**400) raises OverflowError, and an int is finite anyway.
    if isinstance(value, float) and not math.isfinite(value):
        return "Must be a finite number."
    # No metric comes near this; an exact int-to-float comparison, so a 400-digit int is safe here.
    if abs(value) > MAX_MAGNITUDE:
        return f"Must be within ±{MAX_MAGNITUDE:.0e}."
    return None


def metrics_errors(metrics) -> dict[str, list[str]]:
    """Field errors for a metrics mapping (name -> number); empty when valid."""
    if not isinstance(metrics, dict):
        return {"metrics": ["Must be an object of metric name to number."]}
    if not metrics:
        return {"metrics": ["At least one metric is required."]}
    if len(metrics) > MAX_METRICS:
        return {"metrics": [f"At most {MAX_METRICS} metrics."]}
    errors: dict[str, list[str]] = {}
    for name, value in metrics.items():
        field = f"metrics.{name}"
        if not METRIC_NAME.match(name):
            errors[field] = ["Metric names are lowercase letters, digits and underscores, starting with a letter."]
            continue
        problem = _check_value(value)
        if problem:
            errors[field] = [problem]
            continue
        low, high = metric_bounds(name)
        if (low is not None and value < low) or (high is not None and value > high):
            errors[field] = [f"Must be within [{low}, {high if high is not None else '∞'}]."]
    return errors


def per_intent_errors(per_intent) -> dict[str, list[str]]:
    """Field errors for a per-intent win-rate breakdown (intent -> rate in [0, 1])."""
    if not isinstance(per_intent, dict):
        return {"per_intent": ["Must be an object of intent to win rate."]}
    if len(per_intent) > MAX_INTENTS:
        return {"per_intent": [f"At most {MAX_INTENTS} intents."]}
    errors: dict[str, list[str]] = {}
    for intent, value in per_intent.items():
        field = f"per_intent.{intent}"
        if not 1 <= len(intent) <= 64 or not intent.isprintable() or intent != intent.strip():
            errors[field] = ["Intent tags are 1 to 64 printable characters without surrounding spaces."]
            continue
        problem = _check_value(value)
        if problem is None and not 0 <= value <= 1:
            problem = "Must be within [0, 1]."
        if problem:
            errors[field] = [problem]
    return errors
