"""A run is evidence: written once, with who and why on its history, and never changed afterwards."""

from __future__ import annotations

import pytest

from datasets.checks import golden_fingerprint
from datasets.models import GoldenItem
from sbs.models import SbsRun, SbsRunItem, SbsVerdict
from tests.sbs.helpers import golden_jsonl, golden_version, run

ITEMS = [(f"i{n}", ["billing"]) for n in range(4)]
VERDICTS = [{"item": f"i{n}", "outcome": o} for n, o in enumerate(["win", "win", "tie", "loss"])]


@pytest.fixture
def recorded(registered_version, engineer):
    return run(registered_version, engineer, golden_version(engineer, ITEMS), VERDICTS)


def test_it_records_the_run_and_its_evaluation_with_who_and_why(recorded, engineer):
    (row,) = recorded.history.all()
    assert row.history_user == engineer
    assert "4 verdicts on 4 items of golden set support-golden v1" in row.history_change_reason
    (evaluation_row,) = recorded.evaluation.history.all()
    assert evaluation_row.history_user == engineer
    assert evaluation_row.history_change_reason.startswith("Side-by-side run: 4 verdicts")


def test_the_evaluation_carries_the_computed_figures(recorded):
    evaluation = recorded.evaluation
    assert evaluation.metrics["win_rate"] == pytest.approx(2.5 / 4)
    assert evaluation.metrics["comparisons"] == 4
    assert evaluation.metrics["win_rate_lower"] == recorded.win_rate_lower
    assert evaluation.per_intent == {"billing": pytest.approx(0.625)}
    assert evaluation.evidence == recorded.figures
    assert evaluation.golden_set_sha256 == recorded.golden.sha256


@pytest.mark.parametrize("model", [GoldenItem, SbsVerdict, SbsRunItem])
def test_its_items_verdicts_and_results_refuse_to_change(recorded, model):
    row = model.objects.first()
    with pytest.raises(TypeError, match="immutable"):
        row.save()
    with pytest.raises(TypeError, match="immutable"):
        row.delete()


def test_a_golden_item_keeps_the_hash_the_fingerprint_keeps(recorded, tmp_path):
    # The leakage check matches training data against the fingerprint's hashes: an item's hash is the same one.
    path = tmp_path / "golden.jsonl"
    path.write_bytes(golden_jsonl(ITEMS))
    fingerprint = golden_fingerprint(path)
    stored = list(GoldenItem.objects.filter(dataset=recorded.golden).values_list("prompt_hash", flat=True))
    assert stored == fingerprint["prompt_hashes"]
    assert SbsRun.objects.count() == 1
