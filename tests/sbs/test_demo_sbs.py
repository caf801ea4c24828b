"""The side-by-side demo (seed_sbs_demo after seed_demo): a golden set with a thin intent, two plausible runs
against production with a human pass, and a pending promotion whose gate passes on the point estimate
but fails on the lower bound. Seeding twice adds nothing."""

from __future__ import annotations

import json
import math

import pytest
from django.core.management import call_command

from datasets.models import Dataset, DatasetCheck, GoldenItem, GoldenSet
from registry import gates
from registry.demo_datasets import support_golden_file
from registry.models import EvaluationResult, GatePolicy, ModelVersion, Promotion
from sbs.models import SbsRun, SbsRunItem, SbsVerdict

Z = 1.959963984540054


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_sbs_demo")


def _counts() -> dict:
    tracked = [GoldenSet, Dataset, GoldenItem, DatasetCheck, SbsRun, SbsVerdict, SbsRunItem]
    tracked += [EvaluationResult, ModelVersion, Promotion, GatePolicy]
    counts = {m.__name__: m.objects.count() for m in tracked}
    counts |= {f"{m.__name__} history": m.history.count() for m in (Dataset, SbsRun, EvaluationResult, ModelVersion)}
    return counts


def test_it_uploads_a_golden_set_with_one_thin_intent(seeded):
    golden = Dataset.objects.get(golden_set__name="support-golden", golden_version=1)
    lines = [json.loads(line) for line in support_golden_file().decode().splitlines()]
    expected: dict[str, int] = {}
    for line in lines:
        for intent in line["intents"]:
            expected[intent] = expected.get(intent, 0) + 1

    assert golden.item_count == len(lines) == 300
    assert golden.intent_counts == expected
    assert set(expected) == {"billing", "returns", "delivery", "account", "medical advice"}
    assert expected["medical advice"] < 30 <= min(n for intent, n in expected.items() if intent != "medical advice")
    assert golden.fingerprint is not None  # checked: leakage can be compared against it


def test_its_runs_against_production_have_plausible_figures_and_a_human_pass(seeded):
    runs = {r.version.version: r for r in SbsRun.objects.select_related("version", "evaluation")}

    assert set(runs) == {"v4", "v5"}
    for run in runs.values():
        figures = run.figures
        assert run.baseline == "v3" and run.judge == "gpt-4.1-judge"
        assert run.comparisons == figures["items_rated"] == 300
        # A model judge on every item, and people on 10 to 15% of them.
        assert run.verdict_count == 300 + figures["human_items"]
        assert 0.10 <= figures["human_share"] <= 0.15
        judge_human = figures["agreement"]["judge_human"]
        assert 0.6 <= judge_human["agreement"] <= 0.95 and 0.4 <= judge_human["kappa"] <= 0.9
        assert run.evaluation.metrics["win_rate"] == run.win_rate
        assert run.win_rate_lower < run.win_rate < run.win_rate_upper
        assert run.win_rate_upper - run.win_rate_lower < 0.15  # 300 items: an interval about ±0.055 wide
    assert abs(runs["v4"].win_rate - 0.5) < 0.05  # v3 retrained on the next base model: even
    assert runs["v5"].win_rate > runs["v4"].win_rate


def test_the_pending_promotion_passes_on_the_point_estimate_but_fails_on_the_lower_bound(seeded):
    promotion = Promotion.objects.get(status="pending")
    version = promotion.version
    run = version.sbs_runs.get()
    overall = run.figures["overall"]
    # The Wilson lower bound, worked out here from the counts.
    n, successes = overall["n"], overall["wins"] + overall["ties"] / 2
    p = successes / n
    lower = (p + Z * Z / (2 * n) - Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))) / (1 + Z * Z / n)

    assert (version.version, promotion.target) == ("v5", "production")
    assert p >= 0.55 > lower
    gate = gates.gate_evaluate(version)
    assert not gate.passed
    win_rate, per_intent = (r for r in gate.rules if r.metric == "win_rate")
    assert win_rate.outcome == "fail"
    assert win_rate.value == pytest.approx(lower, abs=1e-4)
    # medical advice has 12 items: too few to judge, whatever they say.
    assert per_intent.outcome == "fail"
    assert "medical advice: 12 comparisons, at least 30 required" in per_intent.detail
    human = next(r for r in gate.rules if r.metric == "human_rated_share")
    assert human.outcome == "pass"


def test_the_data_of_both_versions_was_compared_against_the_golden_set_their_runs_cite(seeded):
    for label in ("v4", "v5"):
        gate = gates.gate_evaluate(ModelVersion.objects.get(model__name="support-assistant", version=label))
        leakage = next(r for r in gate.rules if r.metric == "golden_leakage")
        assert (leakage.outcome, leakage.value) == ("pass", 0.0)


def test_seeding_twice_adds_nothing(seeded, capsys):
    before = _counts()

    call_command("seed_sbs_demo")

    assert _counts() == before
    assert "waits for compliance" in capsys.readouterr().out
