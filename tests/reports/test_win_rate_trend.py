"""The report's win-rate trend: one baseline only (and why the others are left out), intervals as error bars,
and a regression only when intervals part or a lower bound falls below the gate, never on a drop alone.

Runs are posted through the sbs service on a golden set of 100 items; each expected interval is the
Wilson formula written out here, not read from the code under test.
"""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from core.demo import demo_clock
from registry import gates, services
from reports.builder import data_sha256, report_data
from reports.render import render_pdf
from tests.conftest import model_payload, sha, version_payload
from tests.reports.conftest import OCTOBER, _release, at
from tests.sbs.helpers import golden_version, run

pytestmark = pytest.mark.django_db

NANO = "gpt-4.1-nano-2025-04-14"  # the model's base model (model_payload's default)
ITEMS = [(f"i{n:03d}", ["billing"]) for n in range(100)]


def hand_wilson(successes: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = (z / denominator) * ((p * (1 - p) / n) + (z * z) / (4 * n * n)) ** 0.5
    return centre - half, centre + half


def words(wins: int) -> str:
    """A run of 100 items with `wins` wins and the rest losses, as the builder words it."""
    lower, upper = hand_wilson(wins, 100)
    return f"{wins / 100:.3f} [{lower:.3f}, {upper:.3f}]"


def sbs(version, engineer, golden, wins: int, *, baseline: str = NANO):
    """A run on the 100 items: the first `wins` won, the rest lost."""
    verdicts = [{"item": item, "outcome": "win" if i < wins else "loss"} for i, (item, _) in enumerate(ITEMS)]
    return run(version, engineer, golden, verdicts, baseline=baseline)


def typed(version, engineer, win_rate: float, *, baseline: str = NANO, ran_at=None):
    return services.evaluation_record(
        version=version,
        actor=engineer,
        suite="typed",
        golden_set_sha256=sha("golden-v1"),
        metrics={"win_rate": win_rate, "refusal_rate": 0.04, "p95_latency_ms": 900},
        baseline_version=baseline,
        ran_at=ran_at,
    )


def register(model, engineer, label: str):
    return services.version_register(model=model, actor=engineer, evaluations=[], **version_payload(version=label))


def in_production(engineer, approver) -> dict:
    """September: a model, v1 in production (typed in at 0.62 against its base model), a golden set, v2."""
    with demo_clock(at(9, 3)):
        model = services.model_create(actor=engineer, **model_payload(name="assistant"))
        v1 = register(model, engineer, "v1")
        typed(v1, engineer, 0.62)
        _release(v1, engineer, approver)
        golden = golden_version(engineer, ITEMS, name="assistant-golden")
        v2 = register(model, engineer, "v2")
    return {"model": model, "v1": v1, "v2": v2, "golden": golden}


@pytest.fixture
def world(engineer, compliance):
    return in_production(engineer, compliance)


def trend() -> dict:
    [found] = report_data(OCTOBER, now=at(11, 1, 6))["evaluations"]
    return found


def test_it_plots_only_the_baseline_of_the_latest_evaluation_and_says_why_the_others_are_left_out(world, engineer):
    v2, golden = world["v2"], world["golden"]
    with demo_clock(at(9, 10)) as clock:
        typed(v2, engineer, 0.64)  # against the base model, like v1's
        clock.at(at(9, 20))
        sbs(v2, engineer, golden, 70, baseline="v1")
        clock.at(at(10, 2))
        v3 = register(world["model"], engineer, "v3")
        typed(v3, engineer, 0.51, baseline="v2")
        clock.at(at(10, 5))
        sbs(v3, engineer, golden, 75, baseline="v1")  # the latest of October: its baseline is v1
        clock.at(at(11, 5))
        typed(v3, engineer, 0.58, ran_at=at(10, 20))  # recorded in November, backdated: not October's

    found = trend()

    assert found["baseline"] == "v1"
    assert [(p["version"], p["baseline"], p["win_rate"]) for p in found["points"]] == [
        ("v2", "v1", 0.7),
        ("v3", "v1", 0.75),
    ]
    assert found["left_out"] == [{"baseline": NANO, "evaluations": 2}, {"baseline": "v2", "evaluations": 1}]
    assert found["left_out_note"] == (
        f"3 evaluations against other baselines ({NANO}, v2) are not plotted: "
        "a win rate compares only with the same baseline"
    )
    # Each point carries its interval from the verdicts (100 items, ties none).
    lower, upper = hand_wilson(70, 100)
    assert found["points"][0]["lower"] == pytest.approx(lower, abs=5e-5)
    assert found["points"][0]["upper"] == pytest.approx(upper, abs=5e-5)
    assert (found["points"][0]["n"], found["points"][0]["supported"], found["typed"]) == (100, True, 0)


def test_one_evaluation_left_out_is_said_in_the_singular(world, engineer):
    with demo_clock(at(10, 5)):
        sbs(world["v2"], engineer, world["golden"], 70, baseline="v1")

    found = trend()

    assert [p["version"] for p in found["points"]] == ["v2"]
    assert found["left_out_note"] == (
        f"1 evaluation against another baseline ({NANO}) is not plotted: "
        "a win rate compares only with the same baseline"
    )


def test_a_drop_within_overlapping_intervals_is_not_a_regression(world, engineer):
    with demo_clock(at(9, 10)) as clock:
        sbs(world["v1"], engineer, world["golden"], 80)
        clock.at(at(10, 5))
        sbs(world["v2"], engineer, world["golden"], 74)
    # 0.80 -> 0.74 is a drop of 0.06 (the old rule called 0.02 a regression), but the intervals overlap
    # and both lower bounds are above the default gate's 0.55.
    assert hand_wilson(74, 100)[1] > hand_wilson(80, 100)[0]
    assert hand_wilson(74, 100)[0] > 0.55

    found = trend()

    assert [p["win_rate"] for p in found["points"]] == [0.62, 0.8, 0.74]
    assert found["regressions"] == []


def test_intervals_that_no_longer_overlap_are_a_regression(world, engineer):
    with demo_clock(at(9, 10)) as clock:
        sbs(world["v1"], engineer, world["golden"], 90)
        clock.at(at(10, 5))
        sbs(world["v2"], engineer, world["golden"], 70)
    assert hand_wilson(70, 100)[1] < hand_wilson(90, 100)[0]  # apart
    assert hand_wilson(70, 100)[0] > 0.55  # and still above the gate: only the first reason applies

    found = trend()

    assert found["regressions"] == [
        f"win rate {words(90)} -> {words(70)} against {NANO} (v1 to v2, 2026-10-05): the intervals no longer overlap"
    ]


def test_a_lower_bound_below_the_gate_in_force_then_is_a_regression_naming_the_gate(world, engineer, compliance):
    model = world["model"]
    with demo_clock(at(9, 5)) as clock:
        gates.gate_policy_create(model=model, actor=compliance, rules=[{"metric": "win_rate", "min": 0.6}], reason="Up")
        clock.at(at(9, 10))
        sbs(world["v1"], engineer, world["golden"], 80)
        clock.at(at(10, 5))
        sbs(world["v2"], engineer, world["golden"], 68)
        clock.at(at(11, 5))  # a laxer policy after the month: October's report keeps the one in force then
        gates.gate_policy_create(
            model=model, actor=compliance, rules=[{"metric": "win_rate", "min": 0.5}], reason="Lax"
        )
    lower, upper = hand_wilson(68, 100)
    assert upper > hand_wilson(80, 100)[0] and 0.55 < lower < 0.6  # overlapping, above the default, below 0.6

    found = trend()

    assert found["threshold"] == {"min": 0.6, "rule": "win_rate >= 0.6", "policy": "policy v1"}
    assert found["regressions"] == [
        f"win rate {words(80)} -> {words(68)} against {NANO} (v1 to v2, 2026-10-05): "
        f"lower bound {lower:.3f} below the gate's win_rate >= 0.6 (policy v1)"
    ]


def test_a_lower_bound_already_below_the_gate_is_not_a_new_regression(world, engineer):
    with demo_clock(at(9, 10)) as clock:
        v3 = register(world["model"], engineer, "v3")
        sbs(world["v1"], engineer, world["golden"], 70)
        clock.at(at(10, 1))
        sbs(world["v2"], engineer, world["golden"], 60)  # lower bound 0.502: falls below 0.55
        clock.at(at(10, 5))
        sbs(v3, engineer, world["golden"], 58)  # still below, and overlapping: nothing new

    regressions = trend()["regressions"]

    assert [r.split(" (")[1][:9] for r in regressions] == ["v1 to v2,"]
    assert regressions[0].endswith("below the gate's win_rate >= 0.55 (the default policy)")


def test_a_typed_win_rate_is_never_a_regression_however_far_it_drops(world, engineer):
    with demo_clock(at(10, 5)):
        typed(world["v2"], engineer, 0.3)

    found = trend()

    assert [(p["win_rate"], p["lower"]) for p in found["points"]] == [(0.62, None), (0.3, None)]
    assert found["typed"] == 2
    assert found["regressions"] == []


def test_a_typed_win_rate_between_two_runs_neither_hides_nor_makes_a_regression(world, engineer):
    with demo_clock(at(9, 10)) as clock:
        sbs(world["v1"], engineer, world["golden"], 90)
        clock.at(at(9, 20))
        typed(world["v2"], engineer, 0.3)  # far below the gate, no interval
        clock.at(at(10, 5))
        sbs(world["v2"], engineer, world["golden"], 70)  # apart from the run before it; a rise from 0.3

    found = trend()

    assert [p["win_rate"] for p in found["points"]] == [0.62, 0.9, 0.3, 0.7]
    assert found["regressions"] == [
        f"win rate {words(90)} -> {words(70)} against {NANO} (v1 to v2, 2026-10-05): the intervals no longer overlap"
    ]


def test_the_pdf_says_which_baseline_why_others_are_left_out_and_what_regressed(world, engineer):
    with demo_clock(at(9, 10)) as clock:
        sbs(world["v1"], engineer, world["golden"], 90)
        clock.at(at(9, 20))
        typed(world["v2"], engineer, 0.66, baseline="v1")
        clock.at(at(10, 5))
        sbs(world["v2"], engineer, world["golden"], 70)
    data = report_data(OCTOBER, now=at(11, 1, 6))

    reader = PdfReader(io.BytesIO(render_pdf(data, sha256=data_sha256(data))))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))

    assert f"Against {NANO}; gate win_rate >= 0.55 (the default policy)." in text
    assert (
        "1 of the 3 win rates plotted was typed in, not supported by verdicts: drawn without an interval, "
        "never called a regression by their win rate."
    ) in text
    assert "1 evaluation against another baseline (v1) is not plotted: a win rate compares only with the same" in text
    assert f"Regressions: win rate {words(90)} -> {words(70)} against {NANO} (v1 to v2, 2026-10-05)" in text
    assert "a drop within the interval is not one" in text
