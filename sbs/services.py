"""Writes on side-by-side runs: a run with its verdicts, its per-item results and its evaluation, at once.

Every verdict is checked before the first write: an item the golden set version does not hold, a
second verdict on an item by the same rater, or an outcome other than win, tie and loss refuses
the whole run, naming the verdict and its item. Then, in one transaction, the evaluation the run
supports is recorded (registry.services.evaluation_record, with the computed figures as its
evidence), and the run, its verdicts and its item results are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from core.audit import audited_save
from core.errors import PermissionDenied, ValidationFailed
from core.parsers import HostileInput, TooLarge, json_loads
from core.roles import Role, has_role
from datasets.models import Dataset, DatasetKind, GoldenItem
from registry import services as registry_services
from registry.models import ModelVersion
from sbs import stats
from sbs.models import SbsRun, SbsRunItem, SbsVerdict

VERDICT_KEYS = {"item", "outcome", "judge", "rater", "comment"}
MAX_JUDGE = 200
MAX_RATER = 100
MAX_COMMENT = 2000
MAX_PROBLEMS_SHOWN = 50
BATCH = 2000
RECORDERS = (Role.ENGINEER, Role.COMPLIANCE)


def verdicts_parse(*, upload) -> list[Any]:
    """The verdicts of a JSONL upload, one JSON object per line (blank lines skipped), as sbs_run_create takes them.

    A line that is not JSON, or holds what no field may (a NUL, a number past the input limits),
    refuses the whole file: ValidationFailed naming each such line (up to 50). Past
    SBS_MAX_UPLOAD_BYTES: TooLarge (the API's parser stops such an upload before it gets here).
    """
    limit = settings.SBS_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise TooLarge(
            f"The verdicts file is larger than {limit} bytes.",
            fields={"verdicts": [f"At most {limit} bytes."]},
            extra={"limit_bytes": limit},
        )
    verdicts: list[Any] = []
    problems: list[str] = []
    count = 0
    upload.seek(0)
    for number, raw in enumerate(upload, start=1):
        if not raw.strip():
            continue
        try:
            verdicts.append(json_loads(raw.decode("utf-8")))
            continue
        except UnicodeDecodeError:
            reason = "not UTF-8"
        except HostileInput as exc:
            reason = "; ".join(f"{path}: {' '.join(why)}" for path, why in exc.fields.items())
        except ValueError as exc:
            reason = f"not JSON ({exc})"
        count += 1
        if len(problems) < MAX_PROBLEMS_SHOWN:
            problems.append(f"line {number}: {reason}")
    if count:
        more = count - len(problems)
        raise ValidationFailed(
            f"{count} line(s) of the verdicts file are not JSON objects; nothing was stored.",
            fields={"verdicts": problems + ([f"... and {more} more."] if more else [])},
        )
    return verdicts


@dataclass(frozen=True)
class _Checked:
    verdicts: list[stats.Verdict]
    comments: list[str]


def _text(value, *, limit: int, allow_empty: bool) -> str | None:
    if not isinstance(value, str) or len(value) > limit or (not allow_empty and not value.strip()):
        return None
    return value


def _label(value) -> str | None:
    """A judge or rater name: printable, no surrounding spaces."""
    return value if isinstance(value, str) and value.isprintable() and value == value.strip() else None


def _judge(value) -> str | None:
    """'human', or a model's name; "human:..." is how a human rater is shown (sbs.stats), so no model is named so."""
    name = _label(_text(value, limit=MAX_JUDGE, allow_empty=False))
    return None if name is None or (name != stats.HUMAN and name.startswith(f"{stats.HUMAN}:")) else name


def golden_name(golden: Dataset) -> str:
    return f"golden set {golden.golden_set.name} v{golden.golden_version}"


def _checked_verdicts(raw: Iterable[Any], *, judge: str, items: Mapping[str, Any], golden: Dataset) -> _Checked:
    """The verdicts as sbs.stats reads them, or ValidationFailed naming every bad one (up to 50) and its item."""
    problems: list[str] = []
    count = 0
    seen: set[tuple[str, str, str]] = set()
    verdicts: list[stats.Verdict] = []
    comments: list[str] = []

    def problem(index: int, message: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS_SHOWN:
            problems.append(f"verdict {index}: {message}")

    for index, entry in enumerate(raw):
        if index >= settings.SBS_MAX_VERDICTS:
            problem(index, f"more than {settings.SBS_MAX_VERDICTS} verdicts in one run (SBS_MAX_VERDICTS)")
            break
        if not isinstance(entry, Mapping):
            problem(index, "not an object with item and outcome")
            continue
        unknown = set(entry) - VERDICT_KEYS
        if unknown:
            problem(index, f"unknown keys {', '.join(sorted(map(str, unknown)))}")
            continue
        item = entry.get("item")
        item = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(item, str) or not item:
            problem(index, "no item id")
            continue
        outcome = entry.get("outcome")
        if outcome not in stats.OUTCOMES:
            problem(index, f"item {item!r}: unknown outcome {outcome!r} (win, tie or loss)")
            continue
        who = entry.get("judge", judge)
        if _judge(who) is None:
            problem(index, f"item {item!r}: judge is 'human' or a model name (1 to {MAX_JUDGE} characters)")
            continue
        rater = entry.get("rater", "")
        if _label(_text(rater, limit=MAX_RATER, allow_empty=True)) is None:
            problem(index, f"item {item!r}: rater is an id of at most {MAX_RATER} printable characters")
            continue
        comment = entry.get("comment", "")
        if _text(comment, limit=MAX_COMMENT, allow_empty=True) is None:
            problem(index, f"item {item!r}: comment is text of at most {MAX_COMMENT} characters")
            continue
        if item not in items:
            problem(index, f"item {item!r} is not in {golden_name(golden)}")
            continue
        key = (item, who, rater)
        if key in seen:
            rated_by = f"{who}:{rater}" if rater else who
            problem(index, f"item {item!r} rated twice by {rated_by} (one verdict per item per rater)")
            continue
        seen.add(key)
        verdicts.append(stats.Verdict(item=item, outcome=outcome, judge=who, rater=rater))
        comments.append(comment)
    if not verdicts and not count:
        problem(0, "no verdicts: a run needs at least one")
    if count:
        more = count - len(problems)
        raise ValidationFailed(
            f"{count} verdict(s) are invalid; nothing was stored.",
            fields={"verdicts": problems + ([f"... and {more} more."] if more else [])},
        )
    return _Checked(verdicts=verdicts, comments=comments)


def _golden_version(golden: Dataset | None) -> Dataset:
    if golden is None or golden.kind != DatasetKind.GOLDEN or golden.golden_set_id is None:
        raise ValidationFailed(
            "A run compares on a version of a golden set.",
            fields={
                "golden_set_sha256": ["Not a golden set version: upload it to /api/v1/golden-sets/{name}/versions/."]
            },
        )
    return golden


def evaluation_metrics(figures: dict) -> tuple[dict, dict]:
    """The evaluation's metrics and per-intent win rates, from a run's figures."""
    overall = figures["overall"]
    metrics = {
        "win_rate": overall["win_rate"],
        "win_rate_lower": overall["lower"],
        "win_rate_upper": overall["upper"],
        "comparisons": overall["n"],
        "human_rated_share": figures["human_share"],
    }
    kappa = figures["agreement"]["judge_human"]["kappa"]
    if kappa is not None:
        metrics["judge_human_kappa"] = kappa
    per_intent = {intent: tally["win_rate"] for intent, tally in figures["per_intent"].items()}
    return metrics, per_intent


@transaction.atomic
def sbs_run_create(
    *,
    version: ModelVersion,
    actor,
    golden: Dataset | None,
    baseline: str,
    judge: str,
    verdicts: Iterable[Any],
    suite: str = "sbs",
    ran_at: datetime | None = None,
    reason: str = "",
) -> SbsRun:
    """Record a side-by-side run of `version` against `baseline` and the evaluation its verdicts support."""
    if not has_role(actor, *RECORDERS):
        raise PermissionDenied(f"Only {' or '.join(RECORDERS)} may record side-by-side runs.")
    golden = _golden_version(golden)
    if _judge(judge) is None:
        raise ValidationFailed(
            "Invalid judge.", fields={"judge": [f"'human', or the judging model's name (1 to {MAX_JUDGE} characters)."]}
        )
    items = {
        row["item_id"]: row
        for row in GoldenItem.objects.filter(dataset=golden).values("id", "item_id", "intents").order_by("position")
    }
    checked = _checked_verdicts(verdicts, judge=judge, items=items, golden=golden)
    results = stats.item_results(checked.verdicts, {key: row["intents"] for key, row in items.items()})
    figures = stats.run_figures(checked.verdicts, results, golden_items=len(items))
    metrics, per_intent = evaluation_metrics(figures)
    overall = figures["overall"]
    summary = (
        f"{len(checked.verdicts)} verdicts on {overall['n']} items of {golden_name(golden)}, judged by {judge}: "
        f"win rate {overall['win_rate']:.3f} [{overall['lower']:.3f}, {overall['upper']:.3f}]"
    )
    evaluation = registry_services.evaluation_record(
        version=version,
        actor=actor,
        suite=suite,
        golden_set_sha256=golden.sha256,
        metrics=metrics,
        baseline_version=baseline,
        per_intent=per_intent,
        ran_at=ran_at,
        reason=reason or f"Side-by-side run: {summary}",
        evidence=figures,
    )
    run = SbsRun(
        version=version,
        golden=golden,
        suite=evaluation.suite,
        baseline=evaluation.baseline,
        baseline_version=evaluation.baseline_version,
        judge=judge,
        figures=figures,
        comparisons=overall["n"],
        verdict_count=len(checked.verdicts),
        win_rate=overall["win_rate"],
        win_rate_lower=overall["lower"],
        win_rate_upper=overall["upper"],
        evaluation=evaluation,
        created_by=actor,
        ran_at=evaluation.ran_at,
    )
    audited_save(run, actor=actor, reason=reason or f"Recorded: {summary}")
    SbsVerdict.objects.bulk_create(
        [
            SbsVerdict(
                run=run,
                item_id=items[v.item]["id"],
                outcome=v.outcome,
                judge=v.judge,
                rater=v.rater,
                comment=comment,
            )
            for v, comment in zip(checked.verdicts, checked.comments, strict=True)
        ],
        batch_size=BATCH,
    )
    SbsRunItem.objects.bulk_create(
        [
            SbsRunItem(
                run=run,
                item_id=items[r.item]["id"],
                outcome=r.outcome,
                score=r.score,
                verdicts=r.verdicts,
                human_rated=r.human_rated,
            )
            for r in results
        ],
        batch_size=BATCH,
    )
    return run
