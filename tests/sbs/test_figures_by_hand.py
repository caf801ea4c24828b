"""The figures of a run equal a hand computation, to 4 decimals: win rate, ties, Wilson bounds, kappa.

The fixture: 10 billing items and 6 returns items (two of them also billing), rated by a model
judge, with a human pass over 8 of them. Every expected number below is worked out in the
comments from the verdicts, with the Wilson formula written out on its own
(centre ± half-width, z = 1.96), not with the code under test.
"""

from __future__ import annotations

import pytest

from sbs.stats import cohen_kappa, wilson
from tests.sbs.helpers import golden_version, run

# 14 items: b1..b8 billing only, r1..r4 returns only, x1 and x2 both billing and returns.
ITEMS = (
    [(f"b{i}", ["billing"]) for i in range(1, 9)]
    + [(f"r{i}", ["returns"]) for i in range(1, 5)]
    + [("x1", ["billing", "returns"]), ("x2", ["billing", "returns"])]
)
# The model judge's verdicts on all 14 items.
JUDGE = {
    "b1": "win", "b2": "win", "b3": "win", "b4": "win", "b5": "win",
    "b6": "tie", "b7": "loss", "b8": "loss",
    "r1": "loss", "r2": "loss", "r3": "tie", "r4": "win",
    "x1": "win", "x2": "tie",
}  # fmt: skip
# A human's verdicts on 8 of them.
HUMAN = {
    "b1": "win", "b2": "win", "b3": "loss", "b6": "tie",
    "b7": "loss", "r1": "win", "r2": "loss", "x2": "win",
}  # fmt: skip


def hand_wilson(x: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = (z / denominator) * ((p * (1 - p) / n) + (z * z) / (4 * n * n)) ** 0.5
    return centre - half, centre + half


@pytest.fixture
def figures(registered_version, engineer):
    golden = golden_version(engineer, ITEMS)
    verdicts = [{"item": item, "outcome": outcome} for item, outcome in JUDGE.items()]
    verdicts += [
        {"item": item, "outcome": outcome, "judge": "human", "rater": "hana"} for item, outcome in HUMAN.items()
    ]
    return run(registered_version, engineer, golden, verdicts).figures


def test_it_scores_each_item_once_by_the_mean_of_its_verdicts(figures):
    # Items with two verdicts: b1 win+win = 1 (win), b2 = 1 (win), b3 win+loss = 0.5 (tie),
    # b6 tie+tie = 0.5 (tie), b7 loss+loss = 0 (loss), r1 loss+win = 0.5 (tie), r2 = 0 (loss),
    # x2 tie+win = 0.75 (win). The rest keep the judge's verdict.
    # billing (b1..b8, x1, x2): wins b1 b2 b4 b5 x1 x2 = 6, ties b3 b6 = 2, losses b7 b8 = 2.
    # returns (r1..r4, x1, x2): wins r4 x1 x2 = 3, ties r1 r3 = 2, losses r2 = 1.
    # overall (14 items): wins b1 b2 b4 b5 r4 x1 x2 = 7, ties b3 b6 r1 r3 = 4, losses b7 b8 r2 = 3.
    assert {k: figures["overall"][k] for k in ("n", "wins", "ties", "losses")} == {
        "n": 14, "wins": 7, "ties": 4, "losses": 3
    }  # fmt: skip
    billing, returns = figures["per_intent"]["billing"], figures["per_intent"]["returns"]
    assert (billing["n"], billing["wins"], billing["ties"], billing["losses"]) == (10, 6, 2, 2)
    assert (returns["n"], returns["wins"], returns["ties"], returns["losses"]) == (6, 3, 2, 1)
    assert figures["verdicts"] == 22
    assert figures["items_rated"] == 14


def test_it_counts_a_tie_as_half_a_win(figures):
    assert figures["overall"]["win_rate"] == pytest.approx(9 / 14, abs=5e-5)  # (7 + 4/2) / 14 = 0.6429
    assert figures["per_intent"]["billing"]["win_rate"] == pytest.approx(0.7, abs=5e-5)  # (6 + 1) / 10
    assert figures["per_intent"]["returns"]["win_rate"] == pytest.approx(4 / 6, abs=5e-5)  # (3 + 1) / 6


def test_its_intervals_are_wilson_score_intervals(figures):
    # Worked out by hand for billing, x = 7, n = 10, z² = 3.8415:
    # centre = (0.7 + 0.19207) / 1.38415 = 0.64449; half = 1.41601 · sqrt(0.021 + 0.0096036) = 0.24772
    # -> [0.3968, 0.8922].
    billing = figures["per_intent"]["billing"]
    assert round(billing["lower"], 4) == 0.3968
    assert round(billing["upper"], 4) == 0.8922
    for group, (x, n) in {"overall": (9, 14), "returns": (4, 6)}.items():
        tally = figures["overall"] if group == "overall" else figures["per_intent"][group]
        low, high = hand_wilson(x, n)
        assert round(tally["lower"], 4) == round(low, 4)
        assert round(tally["upper"], 4) == round(high, 4)


def test_it_measures_how_far_the_judge_and_the_human_agree(figures):
    # Pairs (judge, human) on the 8 shared items: b1 w/w, b2 w/w, b3 w/l, b6 t/t, b7 l/l, r1 l/w,
    # r2 l/l, x2 t/w. Agreeing: b1 b2 b6 b7 r2 = 5 of 8 = 0.625.
    # Judge's mix: win 3 (b1 b2 b3), tie 2 (b6 x2), loss 3 (b7 r1 r2).
    # Human's mix: win 4 (b1 b2 r1 x2), tie 1 (b6), loss 3 (b3 b7 r2).
    # Chance: (3·4 + 2·1 + 3·3) / 64 = 23/64 = 0.359375; kappa = (0.625 - 0.359375) / 0.640625 = 0.41463.
    pair = figures["agreement"]["judge_human"]
    assert pair["items"] == 8
    assert round(pair["agreement"], 4) == 0.625
    assert round(pair["kappa"], 4) == 0.4146
    assert figures["human_items"] == 8
    assert round(figures["human_share"], 4) == round(8 / 14, 4)


def test_kappa_is_undefined_when_both_raters_only_ever_say_the_same_thing():
    assert cohen_kappa([("win", "win")] * 5)["kappa"] is None
    assert cohen_kappa([("win", "win"), ("loss", "loss")])["kappa"] == 1.0


def test_wilson_stays_inside_the_unit_interval_at_the_edges():
    low, high = wilson(0, 5)
    assert low == 0.0 and 0 < high < 1
    low, high = wilson(5, 5)
    assert 0 < low < 1 and high == 1.0
    assert wilson(0, 0) is None
