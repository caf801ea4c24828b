"""The gate's lifecycle rule: a version whose base model shuts down within LIFECYCLE_GATE_DAYS fails it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.demo import demo_clock
from lifecycle.services import catalogue_sync
from registry import services
from registry.models import Promotion, PromotionStatus, VersionStatus
from tests.conftest import evaluation_payload, model_payload, version_payload
from tests.registry.test_data_card import with_clean_data

TODAY = date(2026, 12, 1)
BASE = "gpt-4.1-mini-2025-04-14"
RULE = "lifecycle: more than 14 days before the base model shuts down"


@pytest.fixture
def today(settings):
    settings.LIFECYCLE_GATE_DAYS = 14
    with demo_clock(datetime(2026, 12, 1, 9, tzinfo=UTC)) as clock:
        yield clock


def shutting_down(fake_openai, model_id: str, day: str | None) -> None:
    fake_openai.model_set(model_id, day)
    assert catalogue_sync(on=TODAY).ok


@pytest.fixture
def candidate(engineer, fake_openai, today):
    """A version that passes every rule of the default policy, on BASE."""
    model = services.model_create(actor=engineer, **model_payload(base_model=BASE))
    version = services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(baseline_version=BASE)],
        **version_payload(version="v1"),
    )
    return with_clean_data(version, engineer)


def gate_of(api, user, version) -> dict:
    response = api(user).get(f"/api/v1/models/{version.model.name}/versions/{version.version}/gate/")
    assert response.status_code == 200, response.json()
    return response.json()


def lifecycle_rule(gate: dict) -> dict:
    [rule] = [r for r in gate["rules"] if r["metric"] == "lifecycle"]
    return rule


@pytest.mark.parametrize(
    ("day", "days_left", "outcome"),
    [
        ("2026-12-11", 10, "fail"),
        ("2026-12-15", 14, "fail"),  # the boundary: 14 days left is within 14 days
        ("2026-12-16", 15, "pass"),
        ("2027-01-14", 44, "pass"),
    ],
)
def test_it_fails_when_the_base_model_shuts_down_within_the_window(
    api, engineer, fake_openai, candidate, day, days_left, outcome
):
    shutting_down(fake_openai, BASE, day)

    gate = gate_of(api, engineer, candidate)

    rule = lifecycle_rule(gate)
    assert (rule["rule"], rule["outcome"], rule["value"]) == (RULE, outcome, days_left)
    assert rule["detail"].startswith(f"{BASE} shuts down on {day}: {days_left} days left")
    assert gate["passed"] is (outcome == "pass")  # every other rule passes
    assert [r["outcome"] for r in gate["rules"] if r["metric"] != "lifecycle"] == ["pass"] * 5


@pytest.mark.parametrize(
    ("day", "words"),
    [("2026-12-02", "shuts down on 2026-12-02: 1 day left"), ("2026-11-30", "shut down on 2026-11-30 (1 day ago)")],
)
def test_it_says_one_day_in_the_singular(api, engineer, fake_openai, candidate, day, words):
    shutting_down(fake_openai, BASE, day)

    rule = lifecycle_rule(gate_of(api, engineer, candidate))

    assert rule["detail"].startswith(f"{BASE} {words}")


def test_a_base_model_already_shut_down_fails_and_names_the_replacement(
    api, engineer, compliance, fake_openai, candidate
):
    from lifecycle.models import ProviderModel
    from lifecycle.services import catalogue_entry_correct

    shutting_down(fake_openai, BASE, "2026-11-28")
    entry = ProviderModel.objects.get(model_id=BASE)
    catalogue_entry_correct(entry=entry, actor=compliance, replacement="gpt-4.1-nano-2025-04-14", reason="Advised")

    rule = lifecycle_rule(gate_of(api, engineer, candidate))

    assert rule["outcome"] == "fail"
    assert rule["detail"] == (f"{BASE} shut down on 2026-11-28 (3 days ago). Its replacement: gpt-4.1-nano-2025-04-14.")


def test_the_window_comes_from_the_settings(api, engineer, fake_openai, candidate, settings):
    shutting_down(fake_openai, BASE, "2026-12-11")
    settings.LIFECYCLE_GATE_DAYS = 7

    rule = lifecycle_rule(gate_of(api, engineer, candidate))

    assert (rule["rule"], rule["outcome"]) == ("lifecycle: more than 7 days before the base model shuts down", "pass")


def test_a_base_model_without_a_shutdown_passes(api, engineer, fake_openai, candidate):
    shutting_down(fake_openai, BASE, None)

    rule = lifecycle_rule(gate_of(api, engineer, candidate))

    assert (rule["outcome"], rule["value"], rule["detail"]) == ("pass", None, f"{BASE}: no shutdown announced.")


def test_a_model_the_catalogue_does_not_know_passes_and_says_so(api, engineer, candidate):
    rule = lifecycle_rule(gate_of(api, engineer, candidate))  # nothing synced

    assert rule["outcome"] == "pass"
    assert rule["detail"] == f"The provider catalogue does not know {BASE}: no shutdown date to judge."


def test_a_fine_tuned_model_is_judged_by_its_own_date_and_named_with_its_base(api, engineer, fake_openai, candidate):
    fine_tuned = f"ft:{BASE}:fake-org:support:abc"
    fake_openai.model_set(fine_tuned, "2026-12-05", owned_by="fake-org")
    services.version_update(
        version=candidate, actor=engineer, data={"fine_tuned_model": fine_tuned}, reason="job finished"
    )
    shutting_down(fake_openai, BASE, "2027-01-14")

    rule = lifecycle_rule(gate_of(api, engineer, candidate))

    assert rule["outcome"] == "fail"
    assert rule["detail"].startswith(f"{fine_tuned} (on {BASE}) shuts down on 2026-12-05: 4 days left")


# --- An approver may override it, only with a justification ---------------------------------------


def request_promotion(api, engineer, version) -> int:
    response = api(engineer).post(
        f"/api/v1/models/{version.model.name}/versions/{version.version}/promotions/",
        {"target": "production", "justification": "Beats the base model"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def approve(api, compliance, version, promotion_id: int, **data):
    return api(compliance).post(
        f"/api/v1/models/{version.model.name}/versions/{version.version}/promotions/{promotion_id}/approve/",
        {"reason": "Reviewed", **data},
        format="json",
    )


def test_approving_against_a_failed_lifecycle_rule_needs_a_justification(
    api, engineer, compliance, fake_openai, candidate
):
    shutting_down(fake_openai, BASE, "2026-12-11")
    promotion_id = request_promotion(api, engineer, candidate)

    refused = approve(api, compliance, candidate, promotion_id)
    blank = approve(api, compliance, candidate, promotion_id, override_justification="   ")

    for response in (refused, blank):
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["override_justification"]
    assert Promotion.objects.get(pk=promotion_id).status == PromotionStatus.PENDING
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.DRAFT


def test_an_override_with_a_justification_is_approved_and_recorded(api, engineer, compliance, fake_openai, candidate):
    shutting_down(fake_openai, BASE, "2026-12-11")
    promotion_id = request_promotion(api, engineer, candidate)

    response = approve(
        api, compliance, candidate, promotion_id, override_justification="Bridge release; migration to nano in a week"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["overridden"]) == ("approved", True)
    assert body["override_justification"] == "Bridge release; migration to nano in a week"
    assert body["gate"]["passed"] is False
    assert lifecycle_rule(body["gate"])["outcome"] == "fail"
    stored = Promotion.objects.get(pk=promotion_id)
    assert stored.gate_passed is False
    assert lifecycle_rule(stored.gate_result)["detail"].startswith(f"{BASE} shuts down on 2026-12-11: 10 days left")
    assert stored.history.first().history_change_reason.startswith("Approved for production (gate overridden)")
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.PRODUCTION


def test_a_passing_lifecycle_rule_needs_no_override(api, engineer, compliance, fake_openai, candidate):
    shutting_down(fake_openai, BASE, "2027-01-14")
    promotion_id = request_promotion(api, engineer, candidate)

    response = approve(api, compliance, candidate, promotion_id)

    assert response.status_code == 200, response.json()
    assert (response.json()["gate"]["passed"], response.json()["overridden"]) == (True, False)
