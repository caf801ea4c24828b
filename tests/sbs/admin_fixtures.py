"""A small run for the admin tests, with every figure worked out by hand in the comments.

Items: b1..b6 billing, r1 r2 returns, x1 both. A model judge rates all nine; a human (hana)
rates b1, b4, r1 and x1.

Item outcomes (mean of the verdicts' scores): b1 win, b2 win, b3 win, b4 loss, b5 tie, b6 win,
r1 (loss + win) / 2 = tie, r2 win, x1 loss.
- overall: 9 items, 5 wins, 2 ties, 2 losses: (5 + 1) / 9 = 0.667
- billing (b1..b6, x1): 7 items, 4 wins, 1 tie, 2 losses: 4.5 / 7 = 0.643
- returns (r1, r2, x1): 3 items, 1 win, 1 tie, 1 loss: 1.5 / 3 = 0.500
Lost: b4 and x1 (r1 was lost by the judge alone: a tie). Rated by a human: 4 of 9 items (44.4%).
Judge and human on b1, b4, r1, x1: same outcome 3 of 4 (75%); chance = (1·2 + 3·2) / 16 = 0.5
(judge: 1 win, 3 losses; human: 2 wins, 2 losses), kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5, moderate.
"""

from __future__ import annotations

from django.test import Client

from tests.sbs.helpers import golden_version, run

ITEMS = [(f"b{i}", ["billing"]) for i in range(1, 7)] + [("r1", ["returns"]), ("r2", ["returns"])]
ITEMS.append(("x1", ["billing", "returns"]))
JUDGE = {"b1": "win", "b2": "win", "b3": "win", "b4": "loss", "b5": "tie", "b6": "win", "r1": "loss", "r2": "win"}
JUDGE["x1"] = "loss"
HUMAN = {"b1": "win", "b4": "loss", "r1": "win", "x1": "loss"}
COMMENT = "Promised a refund the policy forbids"


def verdicts() -> list[dict]:
    found = [{"item": item, "outcome": outcome} for item, outcome in JUDGE.items()]
    for item, outcome in HUMAN.items():
        entry = {"item": item, "outcome": outcome, "judge": "human", "rater": "hana"}
        if item == "b4":
            entry["comment"] = COMMENT
        found.append(entry)
    return found


def small_run(version, actor, *, name: str = "support-golden"):
    golden = golden_version(actor, ITEMS, name=name)
    return run(version, actor, golden, verdicts(), judge="gpt-judge")


def admin_for(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client
