"""Compliance staff in the admin: find, review, change with a reason, retire; never delete."""

from __future__ import annotations

import pytest
from django.test import Client

from core.audit import Source
from registry.models import ModelVersion, RegisteredModel, VersionStatus
from tests.registry.test_data_card import with_clean_data


@pytest.fixture
def admin_client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/registry/registeredmodel/",
        "/admin/registry/registeredmodel/?risk_tier__exact=unclassified&q=support",
        "/admin/registry/modelversion/",
        "/admin/registry/modelversion/?status__exact=draft&q={sha}",
        "/admin/registry/evaluationresult/?q=golden",
        "/admin/core/apitoken/",
    ],
)
def test_it_lists_filters_and_searches(admin_client, registered_version, path):
    response = admin_client.get(path.format(sha=registered_version.training_file_sha256))

    assert response.status_code == 200
    if "modelversion" in path:
        assert registered_version.version in response.content.decode()


def test_it_shows_a_version_with_evaluations_inline_and_identity_read_only(admin_client, engineer, registered_version):
    with_clean_data(registered_version, engineer)
    response = admin_client.get(f"/admin/registry/modelversion/{registered_version.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "golden-v1" in html  # the evaluation inline
    assert 'name="training_file_sha256"' not in html  # shown, not editable
    assert 'name="job_status"' not in html  # the provider's word, kept by the sync
    assert 'name="hyperparameters"' not in html
    assert "Gate passed</span> against the default policy (settings)" in html  # the gate, explained
    assert "win_rate &gt;= 0.55" in html
    assert 'name="fine_tuned_model"' not in html  # set by the sync, never typed in
    assert 'name="training_file_id"' not in html
    assert registered_version.training_file_sha256 in html
    assert 'name="changelog"' in html
    assert 'name="change_reason"' in html


def test_it_requires_a_reason_for_an_admin_change(admin_client, registered_version):
    url = f"/admin/registry/modelversion/{registered_version.pk}/change/"

    response = admin_client.post(url, {"changelog": "Corrected", "change_reason": "", **_inline_management()})

    assert response.status_code == 200  # the form again, with its error
    assert "This field is required" in response.content.decode()
    registered_version.refresh_from_db()
    assert registered_version.changelog != "Corrected"


def test_it_records_an_admin_change_with_user_source_and_reason(admin_client, compliance, registered_version):
    url = f"/admin/registry/modelversion/{registered_version.pk}/change/"

    response = admin_client.post(
        url, {"changelog": "Corrected wording", "change_reason": "Typo in changelog", **_inline_management()}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    row = registered_version.history.first()
    assert (row.changelog, row.history_user, row.history_source) == ("Corrected wording", compliance, Source.ADMIN)
    assert row.history_change_reason == "Typo in changelog"


def test_it_records_an_admin_governance_change(admin_client, compliance, registered_model):
    url = f"/admin/registry/registeredmodel/{registered_model.pk}/change/"
    form = {
        "display_name": registered_model.display_name,
        "purpose": registered_model.purpose,
        "permitted_uses": "",
        "out_of_scope_uses": "",
        "provider": "openai",
        "base_model": registered_model.base_model,
        "business_owner": compliance.pk,
        "technical_owner": registered_model.technical_owner_id,
        "risk_tier": "high",
        "change_reason": "Classified after DPIA",
        **_inline_management("deployments"),
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:3000]
    registered_model.refresh_from_db()
    assert registered_model.risk_tier == "high"
    row = registered_model.history.first()
    assert (row.history_user, row.history_source, row.history_change_reason) == (
        compliance,
        Source.ADMIN,
        "Classified after DPIA",
    )


def test_it_offers_no_delete(admin_client, registered_version):
    for url in (
        f"/admin/registry/modelversion/{registered_version.pk}/delete/",
        f"/admin/registry/registeredmodel/{registered_version.model.pk}/delete/",
    ):
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk=registered_version.pk).exists()
    assert RegisteredModel.objects.filter(pk=registered_version.model.pk).exists()


def test_it_retires_versions_with_a_reason(admin_client, compliance, registered_version):
    url = "/admin/registry/modelversion/"
    selection = {"action": "retire", "_selected_action": [registered_version.pk]}

    asked = admin_client.post(url, selection)
    done = admin_client.post(url, {**selection, "apply": "1", "reason": "Superseded by v2"})

    assert "Reason" in asked.content.decode()
    assert done.status_code == 302
    registered_version.refresh_from_db()
    assert registered_version.status == VersionStatus.RETIRED
    row = registered_version.history.first()
    assert (row.history_user, row.history_change_reason) == (compliance, "Superseded by v2")


def test_it_shows_the_history_with_diffs_users_and_reasons(admin_client, compliance, registered_version):
    from registry import services

    services.version_update(
        version=registered_version, actor=compliance, data={"changelog": "Reworded"}, reason="Clarity"
    )

    response = admin_client.get(f"/admin/registry/modelversion/{registered_version.pk}/history/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Clarity" in html
    assert compliance.username in html
    assert "Reworded" in html


def test_it_keeps_roles_without_staff_out_of_the_admin(executive):
    client = Client()
    client.force_login(executive)

    assert client.get("/admin/registry/modelversion/").status_code == 302  # to the login page


def _inline_management(*prefixes: str) -> dict:
    """The management forms of a page's inlines (by default the version page's), all empty."""
    return {
        f"{prefix}-{name}": "0"
        for prefix in (prefixes or ("evaluations", "checkpoints"))
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
    }
