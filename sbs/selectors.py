"""Reads on side-by-side runs: a version's runs, one run, its items with their verdicts, two runs compared."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from core.errors import NotFound, ValidationFailed
from datasets.golden import intent_tag
from registry.models import ModelVersion
from sbs.models import Outcome, SbsRun, SbsRunItem, SbsVerdict

# Primary keys are 64-bit: a larger id from a URL is no run, and never reaches the database.
MAX_ID = 2**63 - 1
# An outcome's rank: a move up is an improvement, a move down a regression.
RANK = {Outcome.LOSS: 0, Outcome.TIE: 1, Outcome.WIN: 2}
IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"
DIRECTIONS = (IMPROVED, REGRESSED)
FLIPS_SHOWN = 1000


def _runs() -> QuerySet[SbsRun]:
    return SbsRun.objects.select_related(
        "version__model", "golden__golden_set", "baseline_version", "created_by"
    ).defer("figures")


def sbs_run_list(*, version: ModelVersion) -> QuerySet[SbsRun]:
    """A version's runs, newest first (by when they ran), each with its golden set and people (one query a page)."""
    return _runs().filter(version=version)


def sbs_run_get(*, version: ModelVersion, run_id: int, bare: bool = False) -> SbsRun:
    """One run of `version`, with its figures (`bare`: only its id, for reading its items); a run of
    another version is not found here."""
    run = None
    if 1 <= run_id <= MAX_ID:
        runs = SbsRun.objects.only("id", "version_id") if bare else _runs().defer(None)
        run = runs.filter(version=version, pk=run_id).first()
    if run is None:
        raise NotFound(f"No side-by-side run {run_id} of {version.model.name} {version.version}.")
    return run


def sbs_run_items(*, run: SbsRun, outcome: str | None = None, intent: str | None = None) -> QuerySet:
    """A run's item results as rows, in golden set order (`position`), optionally one outcome's or one intent's.

    Rows, not model instances: a page of 100 items and their verdicts is mostly Python work, and
    building instances and nested serializers for it cost more than the queries.
    """
    queryset = SbsRunItem.objects.filter(run=run)
    if outcome:
        queryset = queryset.filter(outcome=outcome)
    if intent:
        queryset = queryset.filter(item__intent_tags__contains=intent_tag(intent))
    return queryset.values(
        "item_id",
        "outcome",
        "score",
        "human_rated",
        position=F("item__position"),
        item_key=F("item__item_id"),
        intents=F("item__intents"),
        messages=F("item__messages"),
        reference=F("item__reference"),
    )


def sbs_item_entries(*, run: SbsRun, rows: list[dict]) -> list[dict]:
    """A page of item rows as the API shows them, each with its verdicts (one query, whatever the page's size)."""
    verdicts: dict[int, list[dict]] = defaultdict(list)
    found = (
        SbsVerdict.objects.filter(run=run, item_id__in=[row["item_id"] for row in rows])
        .order_by("item_id", "judge", "rater", "id")
        .values_list("item_id", "judge", "rater", "outcome", "comment")
    )
    for item_id, judge, rater, outcome, comment in found:
        verdicts[item_id].append({"judge": judge, "rater": rater, "outcome": outcome, "comment": comment})
    entries = []
    for row in rows:
        kept = row["messages"] is not None
        entries.append(
            {
                "item": row["item_key"],
                "position": row["position"],
                "intents": row["intents"],
                "outcome": row["outcome"],
                "score": row["score"],
                "human_rated": row["human_rated"],
                "verdicts": verdicts[row["item_id"]],
                "text_kept": kept,
                "messages": row["messages"] if kept else None,
                "reference": row["reference"] if kept else None,
            }
        )
    return entries


def _outcomes(run: SbsRun) -> dict[int, dict]:
    rows = SbsRunItem.objects.filter(run=run).values(
        "item_id", "outcome", item_key=F("item__item_id"), intents=F("item__intents"), position=F("item__position")
    )
    return {row["item_id"]: row for row in rows}


@dataclass(frozen=True)
class Comparison:
    run: SbsRun
    other: SbsRun
    same_baseline: bool
    items_compared: int
    only_in_run: int
    only_in_other: int
    transitions: dict[str, dict[str, int]]  # the other run's outcome -> this run's outcome -> items
    counts: dict[str, int]  # improved, regressed, unchanged
    flips: list[dict]  # item, intents, outcome in each run, direction; in golden set order
    flips_total: int  # of the direction asked for (every flip when none)
    truncated: bool


def sbs_run_compare(
    *, run: SbsRun, other: SbsRun, direction: str | None = None, limit: int = FLIPS_SHOWN
) -> Comparison:
    """`run` against `other` item by item on the same golden set version: which items moved, and which way.

    The items compared are those both runs rated. `transitions[a][b]` counts the items `other`
    judged `a` and `run` judged `b`; a move up (loss -> tie -> win) is an improvement.
    """
    if run.pk == other.pk:
        raise ValidationFailed("A run compared with itself.", fields={"with": ["Name another run."]})
    if run.golden_id != other.golden_id:
        raise ValidationFailed(
            "The two runs are on different golden set versions; compare runs on the same one.",
            fields={
                "with": [
                    f"Run {other.pk} is on {_golden_label(other)}, run {run.pk} on {_golden_label(run)}: "
                    "their items are not the same."
                ]
            },
        )
    ours, theirs = _outcomes(run), _outcomes(other)
    both = sorted(ours.keys() & theirs.keys(), key=lambda item: ours[item]["position"])
    transitions = {a: dict.fromkeys(Outcome.values, 0) for a in Outcome.values}
    counts = {IMPROVED: 0, REGRESSED: 0, UNCHANGED: 0}
    flips: list[dict] = []
    total = 0
    for item in both:
        now, before = ours[item]["outcome"], theirs[item]["outcome"]
        transitions[before][now] += 1
        moved = RANK[now] - RANK[before]
        way = IMPROVED if moved > 0 else REGRESSED if moved < 0 else UNCHANGED
        counts[way] += 1
        if way == UNCHANGED or (direction and way != direction):
            continue
        total += 1
        if len(flips) < limit:
            flips.append(
                {
                    "item": ours[item]["item_key"],
                    "intents": ours[item]["intents"],
                    "outcome": now,
                    "other_outcome": before,
                    "direction": way,
                }
            )
    return Comparison(
        run=run,
        other=other,
        same_baseline=_baseline_key(run) == _baseline_key(other),
        items_compared=len(both),
        only_in_run=len(ours.keys() - theirs.keys()),
        only_in_other=len(theirs.keys() - ours.keys()),
        transitions=transitions,
        counts=counts,
        flips=flips,
        flips_total=total,
        truncated=total > len(flips),
    )


def _baseline_key(run: SbsRun) -> tuple:
    """The baseline a run compared against: the version itself when it was one, else its name."""
    return ("version", run.baseline_version_id) if run.baseline_version_id else ("name", run.baseline)


def _golden_label(run: SbsRun) -> str:
    golden = run.golden
    return f"golden set {golden.golden_set.name} v{golden.golden_version}"


def sbs_run_other(*, run: SbsRun, run_id: int) -> SbsRun | None:
    """Another run of the same model (any of its versions), to compare `run` with; None when there is none."""
    if not 1 <= run_id <= MAX_ID:
        return None
    return _runs().filter(version__model_id=run.version.model_id, pk=run_id).first()


def sbs_run_previous(*, run: SbsRun) -> SbsRun | None:
    """The latest run of the same model on the same golden set version that ran before `run`: what it is compared with
    when no other run is named."""
    earlier = Q(ran_at__lt=run.ran_at) | Q(ran_at=run.ran_at, pk__lt=run.pk)
    return (
        _runs()
        .filter(earlier, version__model_id=run.version.model_id, golden_id=run.golden_id)
        .order_by("-ran_at", "-id")
        .first()
    )
