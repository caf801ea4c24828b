"""A past month's gate judges the data rules on the data as it stood then, with the gate's own judges."""

from __future__ import annotations

import pytest

from core.demo import demo_clock
from registry import services
from registry.migration import migration_plans_as_of
from reports.periods import Period
from tests.conftest import evaluation_payload, version_payload
from tests.registry.test_data_card import with_clean_data
from tests.reports.conftest import NANO, at

pytestmark = pytest.mark.django_db

NOVEMBER, DECEMBER = Period(2026, 11), Period(2026, 12)


def candidate_rules(at_end) -> dict[str, str]:
    [plan] = [p for p in migration_plans_as_of(at=at_end) if p.live.deployment.model.name == "support-assistant"]
    return {r.metric: r.outcome for r in plan.best.gate.rules}


def test_data_checked_after_the_month_end_leaves_that_months_data_rules_missing(runway_world, engineer):
    with demo_clock(at(11, 12)):
        v5 = services.version_register(
            model=runway_world["model"],
            actor=engineer,
            base_model=NANO,
            evaluations=[evaluation_payload(baseline_version="v3", per_intent={})],
            **version_payload(version="v5"),
        )
    with demo_clock(at(12, 4)):
        with_clean_data(v5, engineer)

    november = candidate_rules(NOVEMBER.end)
    december = candidate_rules(DECEMBER.end)

    assert (november["dataset_check"], november["golden_leakage"]) == ("missing", "missing")
    assert (december["dataset_check"], december["golden_leakage"]) == ("pass", "pass")
