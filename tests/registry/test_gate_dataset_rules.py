"""The gate's data rules: dataset_check and golden_leakage, passing, failing and missing, each explained."""

from __future__ import annotations

import pytest

from datasets import services as dataset_services
from datasets.models import DatasetKind
from registry import gates
from registry.gates import FAIL, MISSING, PASS, rules_errors
from tests.registry.test_data_card import checked, register, with_clean_data

pytestmark = pytest.mark.django_db

CARD = {"code": "pii_card", "line": 4}


def rule(version, metric: str):
    return next(r for r in gates.gate_evaluate(version).rules if r.metric == metric)


def golden_of(version) -> set[str]:
    return set(version.evaluations.values_list("golden_set_sha256", flat=True))


def checked_training(version, user, *, goldens=None, **report_args):
    """The training file checked as told; the validation file checked clean against the same golden sets."""
    goldens = golden_of(version) if goldens is None else goldens
    checked(version.validation_file_sha256, user, kind=DatasetKind.VALIDATION, goldens=goldens)
    return checked(version.training_file_sha256, user, goldens=goldens, **report_args)


def test_clean_checked_data_passes_both_rules(engineer, registered_model):
    version = with_clean_data(register(registered_model, engineer), engineer)

    check, leakage = rule(version, "dataset_check"), rule(version, "golden_leakage")

    assert (check.outcome, leakage.outcome) == (PASS, PASS)
    assert check.detail == "Training: no blocking finding (0 warnings). Validation: no blocking finding (0 warnings)."
    assert leakage.detail.startswith("0 leaked golden-set prompts") and "at most 0 tolerated" in leakage.detail


def test_a_blocking_finding_fails_dataset_check_naming_its_code(engineer, registered_model):
    version = register(registered_model, engineer)
    checked_training(version, engineer, blocking=[CARD])

    result = rule(version, "dataset_check")

    assert (result.outcome, result.value) == (FAIL, 1.0)
    assert result.detail.startswith("Training: 1 blocking findings (pii_card).")


def test_compliances_override_of_the_report_passes_and_says_so(engineer, compliance, registered_model):
    version = register(registered_model, engineer)
    dataset = checked_training(version, engineer, blocking=[CARD])
    dataset_services.dataset_override_create(
        dataset=dataset, justification="Test card numbers from the PSP sandbox", actor=compliance
    )

    result = rule(version, "dataset_check")

    assert result.outcome == PASS
    assert f"OVERRIDDEN by {compliance.username}" in result.detail
    assert "Test card numbers from the PSP sandbox" in result.detail


def test_data_never_checked_is_missing_evidence(engineer, registered_model):
    version = register(registered_model, engineer)

    check, leakage = rule(version, "dataset_check"), rule(version, "golden_leakage")

    assert (check.outcome, leakage.outcome) == (MISSING, MISSING)
    assert "never" in check.detail.lower() or "no dataset" in check.detail.lower()
    assert not gates.gate_evaluate(version).passed


def test_leaked_golden_prompts_fail_golden_leakage_above_the_rules_maximum(engineer, registered_model):
    version = register(registered_model, engineer)
    checked_training(version, engineer, leaked=(2, 1))

    strict = rule(version, "golden_leakage")
    lenient = gates.golden_leakage_judge(
        {"metric": "golden_leakage", "max": 3}, gates_files(version), list(version.evaluations.all())
    )

    assert (strict.outcome, strict.value) == (FAIL, 3.0)
    assert strict.detail.startswith("3 leaked golden-set prompts, exact or near (training 3, validation 0)")
    assert lenient.outcome == PASS


def test_leakage_is_unknown_when_the_check_never_saw_a_cited_golden_set(engineer, registered_model):
    version = register(registered_model, engineer)
    checked_training(version, engineer, goldens=())  # compared against nothing

    result = rule(version, "golden_leakage")

    assert result.outcome == MISSING
    assert result.detail.startswith("Leakage unknown: the check never compared the data against golden sets")
    assert rule(version, "dataset_check").outcome == PASS  # the findings themselves are known


def test_model_policies_accept_the_data_rules_and_refuse_malformed_ones():
    assert rules_errors([{"metric": "dataset_check"}, {"metric": "golden_leakage", "max": 2}]) == {}
    for bad in ({"metric": "golden_leakage", "max": -1}, {"metric": "golden_leakage", "max": 1.5}):
        assert rules_errors([bad]), bad


def gates_files(version):
    from registry.data_cards import version_data_files

    return version_data_files(version)
