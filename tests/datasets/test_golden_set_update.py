"""A golden set's description changes with a reason, by the people who upload its versions; nothing else changes."""

from __future__ import annotations

import pytest

from core.errors import PermissionDenied, ValidationFailed
from datasets.services import golden_set_update
from tests.sbs.helpers import golden_version


@pytest.fixture
def golden_set(engineer):
    return golden_version(engineer, [("a", ["billing"])]).golden_set


def test_it_records_who_changed_the_description_and_why(golden_set, compliance):
    golden_set_update(golden_set=golden_set, description="Billing questions.", actor=compliance, reason="Clearer")

    latest = golden_set.history.first()
    assert (latest.description, latest.history_user, latest.history_change_reason) == (
        "Billing questions.",
        compliance,
        "Clearer",
    )


def test_it_needs_a_reason(golden_set, compliance):
    with pytest.raises(ValidationFailed) as raised:
        golden_set_update(golden_set=golden_set, description="x", actor=compliance, reason=" ")
    assert raised.value.fields == {"reason": ["This field is required."]}


@pytest.mark.parametrize("persona", ["executive", "outsider"])
def test_only_engineers_and_compliance_may(golden_set, persona, request):
    with pytest.raises(PermissionDenied):
        golden_set_update(golden_set=golden_set, description="x", actor=request.getfixturevalue(persona), reason="r")
    golden_set.refresh_from_db()
    assert golden_set.description == ""
