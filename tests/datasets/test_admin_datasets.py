"""The datasets admin: upload through the same service, the report page, prices and policy with reasons, overrides."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasets.models import CheckPolicy, Dataset, DatasetOverride, PriceRow
from tests.datasets.test_upload_streaming import jsonl


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


@pytest.fixture
def admin_client_of(client):
    def login(user):
        user.is_staff = True
        user.save()
        client.force_login(user)
        return client

    return login


def test_compliance_uploads_in_the_admin_and_sees_the_page(admin_client_of, compliance):
    client = admin_client_of(compliance)
    response = client.post(
        reverse("admin:datasets_dataset_upload"),
        {
            "file": SimpleUploadedFile("t.jsonl", jsonl(), "application/jsonl"),
            "kind": "training",
            "base_model": "gpt-4.1-mini",
        },
    )
    dataset = Dataset.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("admin:datasets_dataset_change", args=[dataset.pk]))
    assert page.status_code == 200
    assert b"queued 0%" in page.content
    assert b'http-equiv="refresh"' in page.content  # refreshes while the check runs
    assert client.get(reverse("admin:datasets_dataset_changelist")).status_code == 200


def test_the_upload_form_names_a_bad_base_model(admin_client_of, compliance):
    response = admin_client_of(compliance).post(
        reverse("admin:datasets_dataset_upload"),
        {"file": SimpleUploadedFile("t.jsonl", jsonl(), "application/jsonl"), "kind": "training", "base_model": "x"},
    )
    assert response.status_code == 200
    assert b"unknown base model" in response.content
    assert not Dataset.objects.exists()


def test_the_page_shows_the_report_and_its_findings(admin_client_of, compliance, engineer):
    dataset = Dataset.objects.create(
        sha256="a" * 64,
        kind="training",
        base_model="gpt-4.1",
        size_bytes=10,
        uploaded_by=engineer,
        blocking=1,
        report={
            "examples": 9,
            "blocking": 1,
            "warnings": 0,
            "findings": [
                {"code": "too_few_examples", "severity": "blocking", "line": None, "excerpt": "", "detail": "9"}
            ],
        },
    )
    page = admin_client_of(compliance).get(reverse("admin:datasets_dataset_change", args=[dataset.pk]))
    assert b"too_few_examples" in page.content
    assert b"Override blocking findings" in page.content


def test_compliance_overrides_with_a_justification(admin_client_of, compliance, engineer):
    dataset = Dataset.objects.create(
        sha256="b" * 64, kind="training", base_model="gpt-4.1", size_bytes=10, uploaded_by=engineer, blocking=2
    )
    client = admin_client_of(compliance)
    url = reverse("admin:datasets_dataset_override", args=[dataset.pk])
    assert client.post(url, {"justification": ""}).status_code == 200
    assert client.post(url, {"justification": "Synthetic PII, checked by hand"}).status_code == 302

    override = DatasetOverride.objects.get()
    assert (override.created_by, override.blocking_at_override) == (compliance, 2)
    assert override.history.get().history_user == compliance


def test_engineers_may_not_override(admin_client_of, engineer):
    dataset = Dataset.objects.create(
        sha256="c" * 64, kind="training", base_model="gpt-4.1", size_bytes=10, uploaded_by=engineer, blocking=2
    )
    response = admin_client_of(engineer).post(
        reverse("admin:datasets_dataset_override", args=[dataset.pk]), {"justification": "mine"}
    )
    assert response.status_code == 403
    assert not DatasetOverride.objects.exists()


def test_a_price_edit_in_the_admin_needs_and_keeps_a_reason(admin_client_of, compliance):
    row = PriceRow.objects.get(base_model="gpt-4o-mini")
    client = admin_client_of(compliance)
    url = reverse("admin:datasets_pricerow_change", args=[row.pk])
    data = {
        "provider": "openai",
        "base_model": "gpt-4o-mini",
        "usd_per_million_training_tokens": "3.25",
        "effective_from": "2025-04-14",
        "source": row.source,
    }
    assert client.post(url, data).status_code == 200  # no reason: the form says so
    assert client.post(url, {**data, "change_reason": "Typo fixed"}).status_code == 302
    row.refresh_from_db()
    assert str(row.usd_per_million_training_tokens) == "3.2500"
    assert row.history.order_by("-history_date").first().history_change_reason == "Typo fixed"


def test_a_policy_is_added_as_a_new_version(admin_client_of, compliance):
    import json

    from datasets.checks import default_policy

    rules = default_policy()
    rules.pop("version")
    response = admin_client_of(compliance).post(
        reverse("admin:datasets_checkpolicy_add"), {"rules": json.dumps(rules), "change_reason": "First policy"}
    )
    assert response.status_code == 302
    policy = CheckPolicy.objects.get()
    assert (policy.version, policy.reason, policy.created_by) == (1, "First policy", compliance)
