"""The check policy: versions Compliance writes with a reason, never edited; the default when none."""

from __future__ import annotations

import pytest

from core.errors import PermissionDenied, ValidationFailed
from datasets import selectors, services
from datasets.checks import default_policy
from datasets.models import CheckPolicy


def test_without_a_version_the_default_applies_as_version_0(db):
    policy = selectors.policy_in_force()
    assert policy["version"] == 0
    assert policy["severities"] == default_policy()["severities"]


def test_each_change_is_a_new_version_with_its_reason(compliance):
    rules = default_policy()
    rules["severities"]["pii_email"] = "blocking"
    first = services.check_policy_create(rules=rules, reason="E-mails are personal data", actor=compliance)
    rules["leakage_blocking_above"] = 2
    second = services.check_policy_create(rules=rules, reason="Two leaks tolerated", actor=compliance)

    assert (first.version, second.version) == (1, 2)
    assert selectors.policy_in_force()["version"] == 2
    assert selectors.policy_in_force()["leakage_blocking_above"] == 2
    assert CheckPolicy.objects.get(version=1).rules["severities"]["pii_email"] == "blocking"
    assert second.history.get().history_change_reason == "Two leaks tolerated"
    assert second.history.get().history_user == compliance


def test_only_compliance_writes_a_policy(engineer):
    with pytest.raises(PermissionDenied):
        services.check_policy_create(rules=default_policy(), reason="mine", actor=engineer)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severities": {"pii_email": "fatal"}}, "rules.severities"),
        ({"severities": {"no_such_code": "info"}}, "rules.severities"),
        ({"leakage_blocking_above": -1}, "rules.leakage_blocking_above"),
        ({"colour": "red"}, "rules"),
    ],
)
def test_it_refuses_a_policy_it_cannot_apply(compliance, change, field):
    with pytest.raises(ValidationFailed) as refused:
        services.check_policy_create(rules={**default_policy(), **change}, reason="x", actor=compliance)
    assert field in refused.value.fields
    assert not CheckPolicy.objects.exists()


def test_it_needs_a_reason(compliance):
    with pytest.raises(ValidationFailed):
        services.check_policy_create(rules=default_policy(), reason=" ", actor=compliance)
