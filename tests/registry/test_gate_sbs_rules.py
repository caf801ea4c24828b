"""Gate rules only verdicts can satisfy: a win rate's lower 95% bound, a minimum of comparisons, human share, kappa.

Evidence is built as users build it: a golden set version uploaded, then a side-by-side run of
verdicts posted (tests/sbs/helpers.py, the real services). Every expected bound is worked out
with the Wilson formula written out below, not with sbs.stats.
"""

from __future__ import annotations

import pytest

from core.audit import audited_save
from registry import gates, services
from registry.models import VersionStatus
from tests.conftest import evaluation_payload, version_payload
from tests.sbs.helpers import golden_version, run

LOWER_PER_INTENT = {"metric": "win_rate", "per_intent": True, "min": 0.5, "bound": "lower_ci", "min_n": 30}
LOWER_OVERALL = {"metric": "win_rate", "min": 0.55, "bound": "lower_ci", "min_n": 100}


def hand_lower(successes: float, n: int) -> float:
    """The lower end of the Wilson score interval, z = 1.96 (97.5th percentile of the normal)."""
    z2 = 1.959963984540054**2
    p = successes / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z2**0.5 / (1 + z2 / n)) * (p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5
    return centre - half


def shown(value: float) -> str:
    """A figure as a reason shows it: 4 decimals at most."""
    return f"{round(value, 4):g}"


def tagged(intent: str, count: int) -> list[tuple[str, list[str]]]:
    return [(f"{intent}-{i}", [intent]) for i in range(count)]


def verdicts(intent: str, *, wins: int, losses: int = 0, ties: int = 0) -> list[dict]:
    outcomes = ["win"] * wins + ["tie"] * ties + ["loss"] * losses
    return [{"item": f"{intent}-{i}", "outcome": outcome} for i, outcome in enumerate(outcomes)]


def judged(version, compliance, rules) -> list[dict]:
    """The policy's rule results for the version (the lifecycle rule every gate ends with left off)."""
    gates.gate_policy_create(model=version.model, actor=compliance, rules=rules, reason="evidence please")
    *found, lifecycle = gates.gate_evaluate(version).as_dict()["rules"]
    assert lifecycle["metric"] == "lifecycle"
    return found


@pytest.fixture
def golden(engineer):
    """12 billing items and 40 returns items."""
    return golden_version(engineer, tagged("billing", 12) + tagged("returns", 40))


def test_it_fails_an_intent_compared_fewer_times_than_min_n(compliance, engineer, registered_version, golden):
    run(registered_version, engineer, golden, verdicts("billing", wins=12) + verdicts("returns", wins=34, losses=6))

    [rule] = judged(registered_version, compliance, [LOWER_PER_INTENT])

    assert rule["rule"] == "win_rate per intent lower 95% bound >= 0.5, at least 30 comparisons each"
    assert rule["outcome"] == "fail"
    billing, returns = rule["intents"]["billing"], rule["intents"]["returns"]
    assert billing["reason"] == "billing: 12 comparisons, at least 30 required"
    assert (billing["n"], billing["outcome"], billing["win_rate"]) == (12, "fail", 1.0)
    # All 12 won, yet the interval over 12 items reaches down to 0.7575: too few to say.
    assert round(billing["value"], 4) == round(billing["lower"], 4) == round(hand_lower(12, 12), 4)
    assert (returns["n"], returns["outcome"], returns["reason"]) == (40, "pass", "")
    assert round(returns["lower"], 4) == round(hand_lower(34, 40), 4)  # 0.7093
    assert rule["detail"].startswith("billing: 12 comparisons, at least 30 required.")


def test_it_fails_an_intent_whose_lower_bound_is_below_the_threshold(compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 40) + tagged("returns", 40))
    # returns: 24 wins of 40, a point estimate of 0.6 whose lower 95% bound is 0.44596.
    run(
        registered_version,
        engineer,
        golden,
        verdicts("billing", wins=34, losses=6) + verdicts("returns", wins=24, losses=16),
    )

    [rule] = judged(registered_version, compliance, [LOWER_PER_INTENT])

    expected = f"returns: lower bound {shown(hand_lower(24, 40))} below 0.5"
    assert expected == "returns: lower bound 0.446 below 0.5"
    assert rule["outcome"] == "fail"
    assert rule["intents"]["returns"]["reason"] == expected
    assert rule["intents"]["returns"]["win_rate"] == 0.6
    assert rule["intents"]["billing"]["outcome"] == "pass"
    assert rule["value"] == rule["intents"]["returns"]["lower"]
    assert rule["detail"].startswith(expected + ".")


def test_it_passes_when_every_intent_has_the_evidence(api, compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 40) + tagged("returns", 40))
    run(
        registered_version,
        engineer,
        golden,
        verdicts("billing", wins=34, losses=6) + verdicts("returns", wins=33, ties=2, losses=5),
    )
    gates.gate_policy_create(model=registered_version.model, actor=compliance, rules=[LOWER_PER_INTENT], reason="x")

    response = api(engineer).get(
        f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/gate/"
    )

    [rule, _lifecycle] = response.json()["rules"]
    assert rule["outcome"] == "pass"
    assert {intent: entry["outcome"] for intent, entry in rule["intents"].items()} == {
        "billing": "pass",
        "returns": "pass",
    }
    # returns: 33 wins and 2 ties are 34 successes of 40, the same bound as billing's.
    assert round(rule["value"], 4) == round(hand_lower(34, 40), 4)
    assert rule["detail"].startswith("Every intent passes: 2 intents, from evaluation")


def test_an_intent_of_the_golden_set_no_verdict_rated_fails_with_zero_comparisons(
    compliance, engineer, registered_version, golden
):
    run(registered_version, engineer, golden, verdicts("returns", wins=34, losses=6))

    [rule] = judged(registered_version, compliance, [LOWER_PER_INTENT])

    assert rule["intents"]["billing"]["reason"] == "billing: 0 comparisons, at least 30 required"
    assert rule["intents"]["billing"]["n"] == 0
    assert rule["outcome"] == "fail"


def test_it_fails_the_overall_win_rate_on_too_few_comparisons(compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 80))
    run(registered_version, engineer, golden, verdicts("billing", wins=70, losses=10))

    [rule] = judged(registered_version, compliance, [LOWER_OVERALL])

    assert rule["rule"] == "win_rate lower 95% bound >= 0.55, at least 100 comparisons"
    assert rule["outcome"] == "fail"
    assert rule["detail"].startswith("overall: 80 comparisons, at least 100 required. Win rate 0.875 [")
    assert "over 80 comparisons" in rule["detail"]


def test_a_point_estimate_that_passes_can_fail_its_lower_bound(compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 120))
    # 72 wins of 120: 0.6 >= 0.55, but the lower 95% bound is 0.5106.
    run(registered_version, engineer, golden, verdicts("billing", wins=72, losses=48))

    point, lower = judged(
        registered_version, compliance, [{"metric": "win_rate", "min": 0.55, "min_n": 100}, LOWER_OVERALL]
    )

    assert (point["rule"], point["outcome"], point["value"]) == (
        "win_rate >= 0.55, at least 100 comparisons", "pass", 0.6
    )  # fmt: skip
    assert lower["outcome"] == "fail"
    assert round(lower["value"], 4) == round(hand_lower(72, 120), 4)
    assert lower["detail"].startswith(f"overall: lower bound {shown(hand_lower(72, 120))} below 0.55. Win rate 0.6 [")


def test_it_passes_the_overall_lower_bound_with_enough_evidence(compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 120))
    run(registered_version, engineer, golden, verdicts("billing", wins=84, ties=12, losses=24))  # 90 of 120

    [rule] = judged(registered_version, compliance, [LOWER_OVERALL])

    assert rule["outcome"] == "pass"
    assert round(rule["value"], 4) == round(hand_lower(90, 120), 4)  # 0.6656
    assert rule["detail"].startswith(f"Win rate 0.75 [{shown(hand_lower(90, 120))}, ")


def test_a_typed_win_rate_passes_plain_rules_and_leaves_evidence_rules_missing(
    compliance, engineer, registered_version
):
    # registered_version holds one evaluation typed in by hand: win rate 0.61 per intent billing 0.64, returns 0.58.
    plain, per_intent, lower, share = judged(
        registered_version,
        compliance,
        [
            {"metric": "win_rate", "min": 0.55},
            {"metric": "win_rate", "per_intent": True, "min": 0.5},
            LOWER_OVERALL,
            {"metric": "human_rated_share", "min": 0.1},
        ],
    )

    assert (plain["outcome"], per_intent["outcome"]) == ("pass", "pass")
    assert per_intent["intents"] == {
        "billing": {"value": 0.64, "outcome": "pass"},
        "returns": {"value": 0.58, "outcome": "pass"},
    }
    for rule in (lower, share):
        assert rule["outcome"] == "missing"
        assert "typed in, not supported by verdicts: post an SBS run to " in rule["detail"]
        path = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/sbs-runs/"
        assert path in rule["detail"]


def test_evidence_rules_judge_the_latest_run_not_a_newer_typed_win_rate(
    compliance, engineer, registered_version, golden
):
    run(registered_version, engineer, golden, verdicts("billing", wins=12) + verdicts("returns", wins=40))
    typed = services.evaluation_record(version=registered_version, actor=engineer, **evaluation_payload(suite="late"))

    plain, lower = judged(
        registered_version,
        compliance,
        [{"metric": "win_rate", "min": 0.55}, {"metric": "win_rate", "min": 0.5, "bound": "lower_ci"}],
    )

    assert plain["evaluation_id"] == typed.pk
    assert lower["evaluation_id"] != typed.pk
    assert lower["outcome"] == "pass"
    assert f"the newer evaluation {typed.pk} was typed in, not supported by verdicts" in lower["detail"]


def test_evidence_counts_only_against_the_production_version(compliance, engineer, registered_model):
    production = services.version_register(model=registered_model, actor=engineer, **version_payload(version="v1"))
    production.status = VersionStatus.PRODUCTION  # promotions do this; a direct save stands in here
    audited_save(production, actor=engineer, reason="test setup")
    candidate = services.version_register(model=registered_model, actor=engineer, **version_payload(version="v2"))
    golden = golden_version(engineer, tagged("billing", 120))
    run(candidate, engineer, golden, verdicts("billing", wins=100, losses=20))  # against the base model

    [before] = judged(candidate, compliance, [LOWER_OVERALL])
    run(candidate, engineer, golden, verdicts("billing", wins=100, losses=20), baseline="v1")
    [after] = judged(candidate, compliance, [LOWER_OVERALL])

    assert before["outcome"] == "missing"
    assert before["detail"] == (
        "No side-by-side run of this version measured the win rate against the production version v1: "
        f"post an SBS run to /api/v1/models/{registered_model.name}/versions/v2/sbs-runs/."
    )
    assert after["outcome"] == "pass"


def human_pass(intent: str, outcomes: list[str]) -> list[dict]:
    return [
        {"item": f"{intent}-{i}", "outcome": outcome, "judge": "human", "rater": "hana"}
        for i, outcome in enumerate(outcomes)
    ]


def test_it_judges_the_human_share_and_the_judge_human_kappa(compliance, engineer, registered_version):
    golden = golden_version(engineer, tagged("billing", 20))
    # The model judge: items 0-9 win, 10-19 loss. A human rates items 0-4 and 10-14:
    # agreeing on 0-3 (win) and 10-13 (loss), disagreeing on 4 (loss) and 14 (win).
    # Share: 10 of 20 items = 0.5. Pairs: 10, agreeing 8 -> 0.8; the judge's mix on them
    # is 5 win / 5 loss, the human's 5 / 5: chance 0.5, kappa (0.8 - 0.5) / 0.5 = 0.6.
    model_judge = verdicts("billing", wins=10, losses=10)
    human = human_pass("billing", ["win"] * 4 + ["loss"] + ["-"] * 5 + ["loss"] * 4 + ["win"])
    human = [v for v in human if v["outcome"] != "-"]
    run(registered_version, engineer, golden, model_judge + human)

    share_ok, share_low, kappa_ok, kappa_low = judged(
        registered_version,
        compliance,
        [
            {"metric": "human_rated_share", "min": 0.5},
            {"metric": "human_rated_share", "min": 0.6},
            {"metric": "judge_human_kappa", "min": 0.6},
            {"metric": "judge_human_kappa", "min": 0.7},
        ],
    )

    assert [r["outcome"] for r in (share_ok, share_low, kappa_ok, kappa_low)] == ["pass", "fail", "pass", "fail"]
    assert share_ok["value"] == 0.5
    assert share_ok["detail"].startswith("Human-rated share 0.5 (10 of 20 items), from evaluation")
    assert round(kappa_ok["value"], 4) == 0.6
    assert kappa_ok["detail"].startswith("Judge-human kappa 0.6 over 10 pairs on 10 items")


def test_without_humans_the_share_fails_and_the_kappa_is_missing(compliance, engineer, registered_version, golden):
    run(registered_version, engineer, golden, verdicts("billing", wins=12) + verdicts("returns", wins=30, losses=10))

    share, kappa = judged(
        registered_version,
        compliance,
        [{"metric": "human_rated_share", "min": 0.1}, {"metric": "judge_human_kappa", "min": 0.6}],
    )

    assert (share["outcome"], share["value"]) == ("fail", 0.0)
    assert kappa["outcome"] == "missing"
    assert "no item was rated by both the model judge and a human" in kappa["detail"]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"metric": "win_rate", "min": 0.5, "bound": "upper_ci"}, "rules.0.bound"),
        ({"metric": "win_rate", "min": 0.5, "bound": None}, "rules.0.bound"),
        ({"metric": "win_rate", "max": 0.9, "bound": "lower_ci"}, "rules.0.bound"),
        ({"metric": "win_rate", "min": 0.5, "max": 0.9, "bound": "lower_ci"}, "rules.0.bound"),
        ({"metric": "refusal_rate", "max": 0.08, "bound": "lower_ci"}, "rules.0.bound"),
        ({"metric": "win_rate", "min": 0.5, "min_n": 0}, "rules.0.min_n"),
        ({"metric": "win_rate", "min": 0.5, "min_n": 2.5}, "rules.0.min_n"),
        ({"metric": "win_rate", "min": 0.5, "min_n": "30"}, "rules.0.min_n"),
        ({"metric": "win_rate", "min": 0.5, "min_n": True}, "rules.0.min_n"),
        ({"metric": "human_rated_share", "min": 0.1, "min_n": 30}, "rules.0.min_n"),
        ({"metric": "judge_human_kappa", "min": 0.6, "per_intent": True}, "rules.0.per_intent"),
    ],
)
def test_it_refuses_bad_bounds_and_minimums_naming_the_field(rule, field):
    assert field in gates.rules_errors([rule])


def test_it_refuses_a_bad_rule_through_the_api(api, compliance, registered_model):
    response = api(compliance).post(
        f"/api/v1/models/{registered_model.name}/gate-policy/",
        {"rules": [{"metric": "win_rate", "min": 0.5}, {"metric": "win_rate", "min": 0.5, "min_n": -3}], "reason": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["rules.1.min_n"]


def test_it_accepts_the_evidence_rules():
    assert (
        gates.rules_errors(
            [
                LOWER_OVERALL,
                LOWER_PER_INTENT,
                {"metric": "win_rate", "min": 0.55, "bound": "point", "min_n": 1},
                {"metric": "human_rated_share", "min": 0.1},
                {"metric": "judge_human_kappa", "min": 0.6, "max": 1},
            ]
        )
        == {}
    )
