"""The demo's side-by-side verdicts: a model judge on every item and a human pass over some, from a seed.

`make run` shows runs whose figures read like real ones (seed_sbs_demo), so the verdicts are drawn
from per-intent odds, deterministically: the same seed gives the same verdicts, and seeding twice
finds the same runs. Humans agree with the judge most of the time, as raters of a decent judge do;
where they disagree they pick one of the two other outcomes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sbs.stats import OUTCOMES

HUMAN_RATERS = ("ana", "ben", "chloe")


@dataclass(frozen=True)
class Profile:
    """How a candidate fares against its baseline: per intent, the odds of (win, tie, loss)."""

    odds: Mapping[str, tuple[float, float, float]]
    human_share: float = 0.12  # of the items, rated by a human too
    human_agreement: float = 0.8  # chance a human gives the judge's outcome


def verdicts(items: Sequence[tuple[str, Sequence[str]]], *, profile: Profile, seed: str, judge: str) -> list[dict]:
    """The judge's verdict on every item, then a human's on a sample of them (raters taking turns).

    `items` are (item id, intents) in the golden set's order; an item with several intents is
    judged by the odds of its first.
    """
    rng = random.Random(seed)
    judged = {}
    for item_id, intents in items:
        win, tie, _ = profile.odds[intents[0]]
        draw = rng.random()
        judged[item_id] = "win" if draw < win else "tie" if draw < win + tie else "loss"
    out = [{"item": item_id, "outcome": outcome, "judge": judge} for item_id, outcome in judged.items()]
    sample = sorted(rng.sample(sorted(judged), round(len(judged) * profile.human_share)))
    for index, item_id in enumerate(sample):
        outcome = judged[item_id]
        if rng.random() >= profile.human_agreement:
            outcome = rng.choice([o for o in OUTCOMES if o != outcome])
        out.append(
            {
                "item": item_id,
                "outcome": outcome,
                "judge": "human",
                "rater": HUMAN_RATERS[index % len(HUMAN_RATERS)],
                "comment": "" if outcome == judged[item_id] else f"Judge said {judged[item_id]}; I read it otherwise.",
            }
        )
    return out
