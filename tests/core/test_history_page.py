"""The admin's history page: who, when, from where, why, and each field before and after, readable."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import Source, audit_source, audited_save, service_user
from risks import services as risk_services
from risks.models import Risk
from risks.scoring import Likelihood
from tests.conftest import make_user
from tests.risks.conftest import risk_payload


@pytest.fixture
def staff(db):
    return make_user("sam-superuser", is_staff=True, is_superuser=True, first_name="Sam", last_name="Super")


@pytest.fixture
def officer(db):
    from core.roles import Role

    return make_user("carla-compliance", Role.COMPLIANCE, is_staff=True, first_name="Carla", last_name="Costa")


def page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The page as a person reads it: tags gone, entities decoded, whitespace collapsed."""
    body = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def history_url(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/history/"


@pytest.fixture
def risk(officer):
    return risk_services.risk_create(
        actor=officer, owner=officer, **risk_payload(residual_likelihood=4, residual_impact=3)
    )


def test_it_shows_a_computed_score_change_with_who_source_and_reason_once(staff, officer, risk):
    before_score = risk.residual_likelihood * risk.residual_impact
    with audit_source(Source.ADMIN):
        risk_services.risk_update(
            risk=risk, actor=officer, data={"residual_likelihood": 2}, reason="Refund guard examples shipped"
        )
    after_score = 2 * risk.residual_impact

    html = page(staff, history_url(risk))
    shown = text(html)

    assert f"Residual score: {before_score} → {after_score}" in shown  # computed, not editable, still shown
    assert f"Residual likelihood: {Likelihood(4).label} → {Likelihood(2).label}" in shown
    assert "Carla Costa" in shown
    assert " Admin " in shown
    assert shown.count("Refund guard examples shipped") == 1
    for raw in ("HISTORY_SOURCE", "HISTORY_CHANGE_REASON", "history_source", "Deleted user", "pk=None"):
        assert raw not in html
    assert "Updated at" not in shown


def test_it_names_the_service_account_and_says_system_when_nobody_acted(staff, officer, risk):
    with audit_source(Source.TASK, on_behalf_of_id=officer.pk):
        risk.breached = True  # as the metric check task records a failed control
        audited_save(risk, actor=service_user(), reason="Refusal-rate control failed")
    fresh = Risk.objects.get(pk=risk.pk)
    fresh.title = "Refund promises outside the written policy"
    fresh.save()  # nobody: no actor, no reason on the row

    shown = text(page(staff, history_url(risk)))

    assert "Fineprint (service), for Carla Costa" in shown
    assert " Task Refusal-rate control failed Breached: No → Yes" in shown
    assert "system System No reason given" in shown
    assert "Title: Refund promises outside policy → Refund promises outside the written policy" in shown


def test_it_names_related_records_not_their_numbers(staff, officer, risk, registered_version):
    version, model = registered_version, registered_version.model
    risk_services.risk_update(
        risk=risk,
        actor=officer,
        data={"registered_models": [model], "model_versions": [version]},
        reason="Linked to the model it concerns",
    )
    evaluation = version.evaluations.get()

    risk_page = text(page(staff, history_url(risk)))
    evaluation_page = text(page(staff, history_url(evaluation)))

    assert f"Registered models: — → {model}" in risk_page
    assert f"Model versions: — → {version}" in risk_page
    assert f"Version: {version}" in evaluation_page  # on creation, the version by name
    assert f"Ran by: {get_user_model().objects.get(pk=evaluation.ran_by_id).get_username()}" in evaluation_page


def test_it_shows_json_as_the_keys_that_changed(staff, officer, registered_version):
    evaluation = registered_version.evaluations.get()
    metrics = {**evaluation.metrics, "win_rate": 0.64}
    evaluation.metrics = metrics
    evaluation.per_intent = {**evaluation.per_intent, "warranty": 0.7}
    audited_save(evaluation, actor=officer, reason="Re-scored after judge fix")
    registered_version.hyperparameters = {"n_epochs": 3, "learning_rate": {"multiplier": 1.8}}
    audited_save(registered_version, actor=officer, reason="Synced")
    registered_version.hyperparameters = {"n_epochs": 3, "learning_rate": {"multiplier": 2.0}}
    audited_save(registered_version, actor=officer, reason="Synced again")

    evaluation_page = text(page(staff, history_url(evaluation)))
    version_page = text(page(staff, history_url(registered_version)))

    assert "metrics.win_rate: 0.61 → 0.64" in evaluation_page
    assert "per_intent.warranty: — → 0.7" in evaluation_page
    assert "metrics.refusal_rate: 0.04 →" not in evaluation_page  # unchanged keys are left out
    assert "hyperparameters.learning_rate.multiplier: 1.8 → 2.0" in version_page
    assert "hyperparameters.n_epochs: 3 → 3" not in version_page
    assert "{'" not in evaluation_page + version_page  # no Python dicts on screen


def test_it_shows_long_values_in_full(staff, officer, risk):
    statement = "Old refund chats teach the assistant to promise refunds outside policy. " * 12
    risk_services.risk_update(risk=risk, actor=officer, data={"statement": statement.strip()}, reason="Fuller")

    html = page(staff, history_url(risk))

    assert statement.strip() in text(html)
    assert 'class="long"' in html  # before and after stacked, wrapping


def test_it_shows_the_user_history_with_group_names(staff, officer):
    from django.contrib.auth.models import Group

    person = make_user("pat-person", first_name="Pat", last_name="Park")
    person._change_reason = "Joined compliance"
    person.groups.add(Group.objects.get(name="Compliance"))

    shown = text(page(staff, history_url(person)))

    assert "system System Joined compliance Groups: — → Compliance" in shown  # the group by name


def test_it_reads_a_long_history_in_a_fixed_number_of_queries(staff, officer, risk):
    def queries_for_page() -> int:
        client = Client()
        client.force_login(staff)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(history_url(risk)).status_code == 200
        return len(captured)

    risk_services.risk_update(risk=risk, actor=officer, data={"mitigation": "First"}, reason="One")
    few = queries_for_page()
    for n in range(8):
        risk_services.risk_update(risk=risk, actor=officer, data={"mitigation": f"Step {n}"}, reason=f"Step {n}")
    many = queries_for_page()

    assert Risk.history.filter(id=risk.pk).count() >= 10
    assert many == few
