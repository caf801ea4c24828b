"""The model card shows a side-by-side run's evidence per intent (win rate, interval, n), and marks typed win rates.

The fixture: 6 billing items and 4 returns items, rated by a model judge, 4 of them also by a
human who agrees with it. Expected figures are counted from the verdicts below and the Wilson
interval is written out on its own, never read from the code under test.
"""

from __future__ import annotations

import html
import io
import re

import pypdf
import pytest

from registry import cards
from tests.registry.test_model_card import rendered_text
from tests.sbs.helpers import golden_version, run

pytestmark = pytest.mark.django_db

ITEMS = [(f"b{i}", ["billing"]) for i in range(1, 7)] + [(f"r{i}", ["returns"]) for i in range(1, 5)]
JUDGE = {
    "b1": "win", "b2": "win", "b3": "win", "b4": "win", "b5": "tie", "b6": "loss",
    "r1": "win", "r2": "tie", "r3": "loss", "r4": "loss",
}  # fmt: skip
HUMAN = {"b1": "win", "b5": "tie", "r3": "loss", "r4": "loss"}  # the same outcomes: each item keeps its outcome


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every table row, as a Markdown reader shows them."""
    page, _ = rendered_text(markdown)
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[dh]>(.*?)</t[dh]>", tr)]
        for tr in re.findall(r"<tr>(.*?)</tr>", page, re.S)
    ]


def hand_wilson(successes: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = (z / denominator) * ((p * (1 - p) / n) + (z * z) / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def row(intent: str, successes: float, n: int, wins: int, ties: int, losses: int) -> list[str]:
    lower, upper = hand_wilson(successes, n)
    return [intent, f"{successes / n:.4f}", f"[{lower:.4f}, {upper:.4f}]", str(n), str(wins), str(ties), str(losses)]


# overall: wins b1-b4 r1 = 5, ties b5 r2 = 2, losses b6 r3 r4 = 3: (5 + 1) / 10.
# billing: 4 wins, 1 tie, 1 loss: (4 + 0.5) / 6. returns: 1 win, 1 tie, 2 losses: (1 + 0.5) / 4.
EXPECTED = [
    row("overall", 6, 10, 5, 2, 3),
    row("billing", 4.5, 6, 4, 1, 1),
    row("returns", 1.5, 4, 1, 1, 2),
]


@pytest.fixture
def card(registered_version, engineer):
    """registered_version carries an evaluation typed in by hand (win_rate 0.61); a run adds one with evidence."""
    golden = golden_version(engineer, ITEMS, name="support-golden")
    verdicts = [{"item": item, "outcome": outcome} for item, outcome in JUDGE.items()]
    verdicts += [{"item": item, "outcome": o, "judge": "human", "rater": "hana"} for item, o in HUMAN.items()]
    run(registered_version, engineer, golden, verdicts, baseline="gpt-4.1-nano-2025-04-14")
    data = cards.card_data(registered_version)
    pdf = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(cards.card_pdf(data))).pages)
    return data, cards.card_markdown(data), " ".join(pdf.split())


def test_it_gives_each_intent_its_win_rate_interval_and_counts_overall_first(card):
    data, markdown, pdf = card

    typed, supported = data["evaluations"]
    assert typed["evidence"] is None
    evidence = supported["evidence"]
    assert [[r[k] for k in cards.EVIDENCE_COLUMNS] for r in evidence["rows"]] == EXPECTED
    rows = table_rows(markdown)
    header = ["intent", "win rate", "95% interval", "n", "wins", "ties", "losses"]
    assert rows[rows.index(header) + 1 : rows.index(header) + 4] == EXPECTED
    for expected in EXPECTED:
        assert " ".join(expected) in pdf
    assert "intent win rate 95% interval n wins ties losses" in pdf


def test_it_names_the_golden_set_version_the_baseline_and_the_agreement(card):
    data, markdown, pdf = card

    facts = data["evaluations"][1]["evidence"]["facts"]
    assert facts["Golden set"] == "support-golden v1"
    assert facts["Baseline"] == "gpt-4.1-nano-2025-04-14"
    assert facts["Verdicts"] == "14 on 10 of 10 items"
    assert facts["Human-rated share"] == "0.40"  # 4 of 10 items
    # 4 pairs, all agreeing: chance agreement (1·1 + 1·1 + 2·2) / 16 = 0.375, kappa (1 - 0.375) / (1 - 0.375) = 1.
    agreement = "1.00 of 4 judge-human pairs agree, on 4 items rated by both; Cohen's kappa 1.00"
    assert facts["Judge-human agreement"] == agreement
    rows = table_rows(markdown)
    assert ["Golden set", "support-golden v1"] in rows
    assert ["Baseline", "gpt-4.1-nano-2025-04-14"] in rows
    assert ["Judge-human agreement", agreement] in rows
    for text in ("support-golden v1", agreement):
        assert text in pdf


def test_a_run_without_a_human_says_nothing_of_agreement(registered_version, engineer):
    golden = golden_version(engineer, ITEMS, name="judge-only")
    run(registered_version, engineer, golden, [{"item": i, "outcome": o} for i, o in JUDGE.items()])

    data = cards.card_data(registered_version)

    assert "Judge-human agreement" not in data["evaluations"][1]["evidence"]["facts"]
    assert "judge-human pairs" not in cards.card_markdown(data)


def test_it_marks_a_typed_win_rate_as_unsupported_and_only_that_one(card):
    data, markdown, pdf = card

    typed, supported = data["evaluations"]
    assert "win rate 0.61 (typed in, not supported by verdicts)" in typed["metrics"]
    assert "typed in" not in supported["metrics"]
    assert "win rate 0.6," in supported["metrics"]
    assert markdown.count("typed in, not supported by verdicts") == 1
    assert "win rate 0.61 (typed in, not supported by verdicts)" in pdf
