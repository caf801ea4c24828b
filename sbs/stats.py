"""The statistics of a side-by-side run, in plain Python: win rates, Wilson intervals, rater agreement.

docs/evaluation.md says the same in words, with a worked example. In short:

- Each verdict scores the candidate against the baseline: win 1, tie 1/2, loss 0.
- Each item counts once, however many raters rated it: its score is the mean of its verdicts'
  scores, and its outcome is a win above 1/2, a loss below, a tie at exactly 1/2. Counting every
  verdict instead would pretend five raters of one item were five independent items and make
  the interval too narrow.
- The win rate of a group of n items is (wins + ties / 2) / n: a tie is half a win.
- Its 95% interval is the Wilson score interval of that rate over n (z = 1.959964). Unlike the
  textbook p ± z·sqrt(p(1-p)/n), it stays within [0, 1] and does not collapse to a point at 0 or 1
  or on small n.
- An item tagged with several intents counts in each of them.
- Two raters agree on an item when they gave it the same outcome. Cohen's kappa corrects the
  share of agreement for the agreement expected by chance from each rater's own mix of outcomes:
  kappa = (p_observed - p_chance) / (1 - p_chance); it is undefined (None) when p_chance is 1
  (both raters gave one and the same outcome to every item).
- The judge-human figures pool every pair (a model judge's verdict, a human's verdict) on the
  same item.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

WIN, TIE, LOSS = "win", "tie", "loss"
OUTCOMES = (WIN, TIE, LOSS)
SCORE = {WIN: 1.0, TIE: 0.5, LOSS: 0.0}
HUMAN = "human"
Z_95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
MAX_RATER_PAIRS = 45  # agreement between the 10 most active raters at most
DIGITS = 6


@dataclass(frozen=True)
class Verdict:
    item: str  # the golden item's id
    outcome: str  # win, tie or loss: the candidate against the baseline
    judge: str  # "human", or the judging model's name
    rater: str = ""  # who, among the judge's raters ("" for a model judge's only voice)

    @property
    def rater_key(self) -> str:
        return f"{self.judge}:{self.rater}" if self.rater else self.judge

    @property
    def human(self) -> bool:
        return self.judge == HUMAN


@dataclass(frozen=True)
class ItemResult:
    item: str
    intents: tuple[str, ...]
    outcome: str
    score: float
    verdicts: int
    human_rated: bool


def item_outcome(score: float) -> str:
    return WIN if score > 0.5 else LOSS if score < 0.5 else TIE


def wilson(successes: float, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of successes/n (successes may be fractional: ties count half)."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def tally(outcomes: Iterable[str]) -> dict:
    """n, wins, ties, losses, the win rate (ties half) and its Wilson 95% interval."""
    counts = Counter(outcomes)
    n = sum(counts.values())
    wins, ties, losses = counts[WIN], counts[TIE], counts[LOSS]
    successes = wins + ties / 2
    interval = wilson(successes, n)
    return {
        "n": n,
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "win_rate": round(successes / n, DIGITS) if n else None,
        "lower": round(interval[0], DIGITS) if interval else None,
        "upper": round(interval[1], DIGITS) if interval else None,
    }


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> dict:
    """Agreement between two raters over their pairs of outcomes: items, share agreeing and Cohen's kappa."""
    n = len(pairs)
    if not n:
        return {"items": 0, "agreement": None, "kappa": None}
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[o] * second[o] for o in OUTCOMES) / (n * n)
    kappa = None if chance >= 1 else (observed - chance) / (1 - chance)
    return {
        "items": n,
        "agreement": round(observed, DIGITS),
        "kappa": round(kappa, DIGITS) if kappa is not None else None,
    }


def item_results(verdicts: Sequence[Verdict], intents: dict[str, Sequence[str]]) -> list[ItemResult]:
    """One result per rated item (in the order first rated): its mean score and outcome."""
    by_item: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_item.setdefault(v.item, []).append(v)
    results = []
    for item, found in by_item.items():
        score = sum(SCORE[v.outcome] for v in found) / len(found)
        results.append(
            ItemResult(
                item=item,
                intents=tuple(intents[item]),
                outcome=item_outcome(score),
                score=round(score, DIGITS),
                verdicts=len(found),
                human_rated=any(v.human for v in found),
            )
        )
    return results


def agreement(verdicts: Sequence[Verdict]) -> dict:
    """Judge-human agreement (pooled pairs) and agreement between the most active raters, pair by pair."""
    by_rater: dict[str, dict[str, str]] = {}
    for v in verdicts:
        by_rater.setdefault(v.rater_key, {})[v.item] = v.outcome
    humans: dict[str, list[str]] = {}
    models: dict[str, list[str]] = {}
    for v in verdicts:
        (humans if v.human else models).setdefault(v.item, []).append(v.outcome)
    pooled = [(m, h) for item, found in models.items() for m in found for h in humans.get(item, ())]
    judge_human = cohen_kappa(pooled)
    judge_human["pairs"] = judge_human.pop("items")
    judge_human["items"] = sum(1 for item in models if item in humans)
    active = sorted(by_rater, key=lambda key: (-len(by_rater[key]), key))[:10]
    pairs = []
    for a, b in combinations(sorted(active), 2):
        shared = sorted(set(by_rater[a]) & set(by_rater[b]))
        if shared:
            pairs.append({"a": a, "b": b, **cohen_kappa([(by_rater[a][i], by_rater[b][i]) for i in shared])})
    return {"judge_human": judge_human, "raters": pairs[:MAX_RATER_PAIRS]}


def run_figures(verdicts: Sequence[Verdict], items: Sequence[ItemResult], *, golden_items: int) -> dict:
    """Everything Fineprint computes from a run's verdicts (the run keeps it; its evaluation copies it).

    `items` are item_results() of the same verdicts; `golden_items` is the number of items in the
    golden set version, for coverage.
    """
    per_intent: dict[str, list[str]] = {}
    for result in items:
        for intent in result.intents:
            per_intent.setdefault(intent, []).append(result.outcome)
    raters = Counter(v.rater_key for v in verdicts)
    human = {v.rater_key: v.human for v in verdicts}
    human_items = sum(r.human_rated for r in items)
    return {
        "method": {
            "score": "win 1, tie 0.5, loss 0; an item's outcome is the mean of its verdicts' scores",
            "win_rate": "(wins + ties / 2) / n, n = items rated",
            "interval": "Wilson score, 95% (z = 1.959964)",
            "agreement": "share of items with the same outcome, and Cohen's kappa",
        },
        "overall": tally(r.outcome for r in items),
        "per_intent": {intent: tally(outcomes) for intent, outcomes in sorted(per_intent.items())},
        "verdicts": len(verdicts),
        "items_rated": len(items),
        "golden_items": golden_items,
        "coverage": round(len(items) / golden_items, DIGITS) if golden_items else None,
        "raters": [
            {"rater": key, "human": human[key], "verdicts": count}
            for key, count in sorted(raters.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "human_items": human_items,
        "human_share": round(human_items / len(items), DIGITS) if items else None,
        "agreement": agreement(verdicts),
    }
