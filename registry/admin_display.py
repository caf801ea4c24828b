"""How the registry's admin shows a value: status words in badges, and small tables instead of JSON.

A badge carries a word and a tone; the tone says what the value means for the reader (good,
bad, needs a look, neutral), never what the underlying boolean is: "Retired" is neutral, an
overridden gate is bad, a passed gate is good. The word is always there, so colour is never
the only signal.

Tables are built with format_html, like the data card: no template loop, nothing from the
data reaches the page unescaped.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.badges import BAD, GOOD, NEUTRAL, WARN, badge
from registry.metrics import KNOWN_METRICS
from registry.models import Environment, JobStatus, Promotion, PromotionStatus, VersionStatus

VERSION_TONES = {
    VersionStatus.DRAFT: NEUTRAL,
    VersionStatus.TRAINING: NEUTRAL,
    VersionStatus.EVALUATING: WARN,
    VersionStatus.APPROVED: GOOD,
    VersionStatus.CANARY: GOOD,
    VersionStatus.PRODUCTION: GOOD,
    VersionStatus.ROLLED_BACK: BAD,
    VersionStatus.RETIRED: NEUTRAL,
    VersionStatus.FAILED: BAD,
    VersionStatus.CANCELLED: NEUTRAL,
}
JOB_TONES = {
    JobStatus.SUCCEEDED: GOOD,
    JobStatus.FAILED: BAD,
    JobStatus.CANCELLED: NEUTRAL,
    JobStatus.PAUSED: WARN,
}
PROMOTION_TONES = {
    PromotionStatus.PENDING: WARN,
    PromotionStatus.APPROVED: GOOD,
    PromotionStatus.REJECTED: NEUTRAL,
}
OUTCOME_WORDS = {"pass": ("Passed", GOOD), "fail": ("Failed", BAD), "missing": ("No evidence", BAD)}


def number(value: Any) -> str:
    """A metric as a person reads it: rates to three places, counts and milliseconds whole."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) < 10:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:,.1f}"


SHORT_METRIC_NAMES = {
    "p95_latency_ms": "p95 latency (ms)",
    "win_rate_lower": "win rate, lower 95% bound",
    "win_rate_upper": "win rate, upper 95% bound",
    "comparisons": "comparisons (n)",
    "human_rated_share": "human-rated share",
    "judge_human_kappa": "judge-human kappa",
}


def metric_label(name: str) -> str:
    """A metric's name in a few words; its description (for the known ones) is the row's tooltip."""
    return SHORT_METRIC_NAMES.get(name, name.replace("_", " "))


CELL = "padding:1px 10px 1px 0;border:none;font-size:12px"


def pairs_table(
    rows: list[tuple[str, Any]], *, head: tuple[str, str], css: str, titles: dict[str, str] | None = None
) -> SafeString:
    """Two compact columns, one row per pair; the empty case says so rather than drawing an empty table."""
    if not rows:
        return format_html('<span class="quiet">{}</span>', "None recorded.")
    titles = titles or {}
    body = format_html_join(
        "",
        '<tr><td style="{}" title="{}">{}</td><td style="{};text-align:right;white-space:nowrap">{}</td></tr>',
        ((CELL, titles.get(label, ""), label, CELL, number(value)) for label, value in rows),
    )
    return format_html(
        '<table class="{}" style="margin:0"><tr><th style="{}">{}</th><th style="{};text-align:right">{}</th></tr>'
        "{}</table>",
        css,
        CELL,
        head[0],
        CELL,
        head[1],
        body,
    )


def metrics_table(metrics: dict | None) -> SafeString:
    rows = [(metric_label(name), value) for name, value in sorted((metrics or {}).items())]
    titles = {metric_label(name): known.description for name, known in KNOWN_METRICS.items()}
    return pairs_table(rows, head=("Metric", "Value"), css="fp-metrics", titles=titles)


def per_intent_table(per_intent: dict | None) -> SafeString:
    rows = sorted((per_intent or {}).items())
    return pairs_table(rows, head=("Intent", "Win rate"), css="fp-per-intent")


def day(when) -> str:
    """A date as people write it, in the site's time zone: '4 Nov 2026'."""
    return "-" if when is None else f"{timezone.localtime(when):%-d %b %Y}"


def who_and_when(user, when) -> SafeString:
    """A person and a day on two lines: a list column that stays narrow."""
    return format_html("{}<br><small>{}</small>", user or "-", day(when))


def version_label(version) -> str:
    """'support-assistant v4': the model's name and the version's label, as people say it."""
    return f"{version.model.name} {version.version}"


def target_words(promotion: Promotion) -> str:
    if promotion.target == Environment.CANARY:
        return f"canary at {promotion.traffic_percent}% of traffic"
    return promotion.target


def promotion_gate_badge(promotion: Promotion) -> SafeString:
    """The gate as it stood at the decision; a pending promotion is judged on its decision page."""
    if promotion.status == PromotionStatus.PENDING:
        return badge("Judged when decided", NEUTRAL)
    if promotion.gate_passed:
        return badge("Passed", GOOD)
    if promotion.overridden:
        return badge("Failed, overridden", BAD)
    return badge("Failed", BAD) if promotion.gate_passed is False else badge("Not judged", NEUTRAL)


def gate_table(result: dict) -> SafeString:
    """A gate result (`GateResult.as_dict()`, as judged now or as stored at a decision) rule by rule:
    what was measured, against what, the outcome in words, and why."""
    rows = format_html_join(
        "",
        '<tr class="fp-gate-rule fp-gate-{}"><td>{}</td><td style="text-align:right">{}</td><td>{}</td>'
        "<td>{}</td><td>{}</td></tr>",
        (
            (
                rule["outcome"],
                rule["rule"],
                number(rule.get("value")),
                threshold_words(rule.get("threshold")),
                badge(*OUTCOME_WORDS.get(rule["outcome"], (rule["outcome"], NEUTRAL))),
                rule.get("detail") or "-",
            )
            for rule in result.get("rules", [])
        ),
    )
    version = (result.get("policy") or {}).get("version")
    policy = f"policy v{version}" if version else "the default policy (settings)"
    verdict = badge("Gate passed", GOOD) if result.get("passed") else badge("Gate failed", BAD)
    return format_html(
        '<p class="fp-gate-verdict">{} against {}</p><table class="fp-gate"><tr><th>Rule</th>'
        '<th style="text-align:right">Value</th><th>Threshold</th><th>Outcome</th><th>Evidence</th></tr>{}</table>',
        verdict,
        policy,
        rows,
    )


def threshold_words(threshold: dict | None) -> str:
    """{"min": 0.55} as 'at least 0.55'; {"min": a, "max": b} as 'a to b'; other keys after a semicolon."""
    threshold = dict(threshold or {})
    low, high = threshold.pop("min", None), threshold.pop("max", None)
    if low is not None and high is not None:
        words = [f"{number(low)} to {number(high)}"]
    elif low is not None:
        words = [f"at least {number(low)}"]
    elif high is not None:
        words = [f"at most {number(high)}"]
    else:
        words = []
    words += [f"{key.replace('_', ' ')} {value}" for key, value in sorted(threshold.items())]
    return "; ".join(words) or "-"
