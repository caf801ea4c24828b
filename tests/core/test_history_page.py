"""The admin's history page: who, when, from where, why, and each field before and after, readable."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import Source, audit_source, audited_save, service_user
from core.roles import Role
from risks import services as risk_services
from risks.models import Risk
from risks.scoring import Impact, Likelihood
from tests.conftest import make_user
from tests.risks.conftest import risk_payload


@pytest.fixture
def staff(db):
    return make_user("sam-superuser", is_staff=True, is_superuser=True, first_name="Sam", last_name="Super")


@pytest.fixture
def officer(db):
    return make_user("carla-compliance", Role.COMPLIANCE, is_staff=True, first_name="Carla", last_name="Costa")


@pytest.fixture
def risk(officer):
    return risk_services.risk_create(
        actor=officer, owner=officer, **risk_payload(residual_likelihood=4, residual_impact=3)
    )


def history_url(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/history/"


def page(user, obj) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(history_url(obj))
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    words = re.sub(r"<[^>]+>", " ", html.replace("<wbr>", ""))  # <wbr>: where a long path may wrap
    return re.sub(r"\s+", " ", unescape(words)).strip()


def entries(html: str) -> list[dict]:
    """The history as a person reads it, newest first: the entry's head cells and its changes,
    each change (field, before, after), or (field, value) on the entry that created the record."""
    found = []
    for block in html.split('<tbody class="entry">')[1:]:
        head = dict(re.findall(r'<td class="(when|who|source|reason)">(.*?)</td>', block, flags=re.S))
        changes = [
            (_text(field), *(_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, flags=re.S)))
            for field, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', block, flags=re.S)
        ]
        found.append({**{key: _text(value) for key, value in head.items()}, "changes": changes})
    return found


def test_it_shows_a_computed_score_change_with_who_source_and_reason_once(staff, officer, risk):
    impact = risk.residual_impact
    with audit_source(Source.ADMIN):
        risk_services.risk_update(
            risk=risk, actor=officer, data={"residual_likelihood": 2}, reason="Refund guard examples shipped"
        )

    html = page(staff, risk)
    latest = entries(html)[0]

    assert (latest["who"], latest["source"], latest["reason"]) == (
        "Carla Costa",
        "Admin",
        "Refund guard examples shipped",
    )
    assert latest["when"].endswith("Changed")
    assert ("Residual likelihood", Likelihood(4).label, Likelihood(2).label) in latest["changes"]
    assert ("Residual score", str(4 * impact), str(2 * impact)) in latest["changes"]  # computed, not editable
    assert "Updated at" not in [change[0] for change in latest["changes"]]
    assert html.count("Refund guard examples shipped") == 1  # the reason once
    for raw in ("HISTORY_SOURCE", "HISTORY_CHANGE_REASON", "history_source", "Deleted user", "pk=None"):
        assert raw not in html


def test_it_shows_every_field_by_label_on_the_entry_that_created_the_record(staff, officer, risk):
    created = entries(page(staff, risk))[-1]

    assert created["when"].endswith("Created")
    assert ("Owner", "Carla Costa") in created["changes"]
    assert ("Residual impact", Impact(3).label) in created["changes"]
    assert ("Residual score", str(4 * 3)) in created["changes"]
    assert ("Breached", "No") in created["changes"]


def test_it_names_the_service_account_and_says_system_when_nobody_acted(staff, officer, risk):
    with audit_source(Source.TASK, on_behalf_of_id=officer.pk):
        risk.breached = True  # as the metric check task records a failed control
        audited_save(risk, actor=service_user(), reason="Refusal-rate control failed")
    fresh = Risk.objects.get(pk=risk.pk)
    fresh.title = "Refund promises outside the written policy"
    fresh.save()  # nobody: no actor, no reason on the row

    by_nobody, by_task = entries(page(staff, risk))[:2]

    assert (by_task["who"], by_task["source"]) == ("Fineprint (service), for Carla Costa", "Task")
    assert ("Breached", "No", "Yes") in by_task["changes"]
    assert (by_nobody["who"], by_nobody["source"], by_nobody["reason"]) == ("system", "System", "No reason given")
    assert by_nobody["changes"] == [
        ("Title", "Refund promises outside policy", "Refund promises outside the written policy")
    ]


def test_it_names_related_records_not_their_numbers(staff, officer, risk, registered_version):
    version, model = registered_version, registered_version.model
    risk_services.risk_update(
        risk=risk,
        actor=officer,
        data={"registered_models": [model], "model_versions": [version]},
        reason="Linked to the model it concerns",
    )
    evaluation = version.evaluations.get()

    risk_changes = [change for entry in entries(page(staff, risk)) for change in entry["changes"]]
    evaluation_created = entries(page(staff, evaluation))[-1]

    assert ("Registered models", "—", str(model)) in risk_changes
    assert ("Model versions", "—", str(version)) in risk_changes
    assert ("Version", str(version)) in evaluation_created["changes"]
    assert ("Ran by", evaluation.ran_by.get_username()) in evaluation_created["changes"]  # no full name: username


def test_it_shows_json_as_the_keys_that_changed(staff, officer, registered_version):
    evaluation = registered_version.evaluations.get()
    evaluation.metrics = {**evaluation.metrics, "win_rate": 0.64}
    evaluation.per_intent = {**evaluation.per_intent, "warranty": 0.7}
    audited_save(evaluation, actor=officer, reason="Re-scored after judge fix")
    registered_version.hyperparameters = {"n_epochs": 3, "learning_rate": {"multiplier": 1.8}}
    audited_save(registered_version, actor=officer, reason="Synced")
    registered_version.hyperparameters = {"n_epochs": 3, "learning_rate": {"multiplier": 2.0}}
    audited_save(registered_version, actor=officer, reason="Synced again")

    evaluation_page = page(staff, evaluation)
    rescored = entries(evaluation_page)[0]
    second_sync, first_sync = entries(page(staff, registered_version))[:2]

    assert rescored["changes"] == [("metrics.win_rate", "0.61", "0.64"), ("per_intent.warranty", "—", "0.7")]
    assert second_sync["changes"] == [("hyperparameters.learning_rate.multiplier", "1.8", "2.0")]
    assert first_sync["changes"] == [
        ("hyperparameters.n_epochs", "—", "3"),
        ("hyperparameters.learning_rate.multiplier", "—", "1.8"),
    ]
    assert "{&#x27;" not in evaluation_page and "{'" not in evaluation_page  # no Python dicts on screen


def test_it_shows_long_values_in_full(staff, officer, risk):
    statement = " ".join(f"Cause {n}: old refund chats teach the assistant to promise refunds." for n in range(15))
    risk_services.risk_update(risk=risk, actor=officer, data={"statement": statement}, reason="Fuller")

    latest = entries(page(staff, risk))[0]

    assert len(statement) > 717
    assert ("Statement", risk_payload()["statement"], statement) in latest["changes"]


def test_it_shows_a_users_groups_by_name(staff):
    person = make_user("pat-person", first_name="Pat", last_name="Park")
    person._change_reason = "Joined compliance"
    person.groups.add(Group.objects.get(name=Role.COMPLIANCE))

    latest = entries(page(staff, person))[0]

    assert (latest["reason"], latest["changes"]) == ("Joined compliance", [("Groups", "—", Role.COMPLIANCE)])


def test_it_reads_a_long_history_in_a_fixed_number_of_queries(staff, officer, risk):
    client = Client()
    client.force_login(staff)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(history_url(risk)).status_code == 200
        return len(captured)

    risk_services.risk_update(risk=risk, actor=officer, data={"mitigation": "First"}, reason="One")
    few = queries_for_page()
    for n in range(8):
        risk_services.risk_update(risk=risk, actor=officer, data={"mitigation": f"Step {n}"}, reason=f"Step {n}")
    many = queries_for_page()

    assert Risk.history.filter(id=risk.pk).count() == 10
    assert many == few
