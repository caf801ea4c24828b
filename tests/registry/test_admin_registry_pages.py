"""The registry's admin pages read as a person would: words for statuses, tables for numbers, the reason first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.audit import audited_save
from registry import services
from registry.models import Checkpoint, EvaluationResult
from tests.conftest import evaluation_payload, model_payload, version_payload


@pytest.fixture
def admin_client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def version_page(client, version) -> str:
    return client.get(reverse("admin:registry_modelversion_change", args=[version.pk])).content.decode()


def test_it_asks_for_the_reason_before_anything_else(admin_client, registered_version):
    html = version_page(admin_client, registered_version)

    assert html.index('name="change_reason"') < html.index("Identity (fixed at registration)")
    assert html.index('name="change_reason"') < html.index('name="changelog"')


def test_it_shows_provider_fields_but_lets_nobody_type_them(admin_client, engineer, registered_version):
    registered_version.fine_tuned_model = "ft:gpt-4.1-nano:acme:support:abc123"
    registered_version.training_file_id = "file-train-42"
    audited_save(registered_version, actor=engineer, reason="test: the sync set them")

    html = version_page(admin_client, registered_version)

    for field in ("fine_tuned_model", "training_file_id", "validation_file_id", "hyperparameters", "job_status"):
        assert f'name="{field}"' not in html
    assert "ft:gpt-4.1-nano:acme:support:abc123" in html and "file-train-42" in html


def test_it_ignores_provider_fields_posted_by_hand(admin_client, engineer, registered_version):
    url = reverse("admin:registry_modelversion_change", args=[registered_version.pk])
    form = {
        "changelog": "Reworded",
        "fine_tuned_model": "ft:typed-by-hand",
        "training_file_id": "file-typed",
        "change_reason": "Clarity",
        **{
            f"{p}-{k}": v
            for p in ("evaluations", "checkpoints")
            for k, v in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
        },
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302
    registered_version.refresh_from_db()
    assert (registered_version.changelog, registered_version.fine_tuned_model) == ("Reworded", "")
    assert registered_version.training_file_id != "file-typed"


def test_it_shows_metrics_per_intent_and_checkpoints_as_tables(admin_client, engineer, registered_version):
    audited_save(
        Checkpoint(
            version=registered_version,
            provider_checkpoint_id="ftckpt-1",
            step_number=30,
            metrics={"train_loss": 0.4213, "valid_loss": 0.5},
            created_at=datetime(2026, 10, 1, tzinfo=UTC),
        ),
        actor=engineer,
        reason="test: the sync recorded it",
    )

    html = version_page(admin_client, registered_version)

    metrics = re.search(r'<table class="fp-metrics".*?</table>', html, re.S).group(0)
    assert re.search(r"p95 latency \(ms\)</td><td[^>]*>950</td>", metrics)
    assert re.search(r"win rate</td><td[^>]*>0.61</td>", metrics)
    intents = re.search(r'<table class="fp-per-intent".*?</table>', html, re.S).group(0)
    assert re.search(r"returns</td><td[^>]*>0.58</td>", intents)
    checkpoint = re.search(r'<table class="fp-checkpoint-metrics".*?</table>', html, re.S).group(0)
    assert re.search(r"Train loss</td><td[^>]*>0.421</td>", checkpoint)
    assert "{&#x27;win_rate&#x27;" not in html and "&quot;win_rate&quot;" not in html  # no dict or JSON on screen
    assert "{&#x27;train_loss&#x27;" not in html


def test_it_shows_an_evaluation_as_tables(admin_client, registered_version):
    evaluation = EvaluationResult.objects.get(version=registered_version)

    html = admin_client.get(reverse("admin:registry_evaluationresult_change", args=[evaluation.pk])).content.decode()

    assert 'class="fp-metrics"' in html and 'class="fp-per-intent"' in html
    assert "None: the numbers were typed in, not supported by verdicts." in html
    assert "&#x27;refusal_rate&#x27;" not in html


def test_it_marks_a_retired_model_with_a_word_not_a_cross(admin_client, engineer, compliance):
    active = services.model_create(actor=engineer, **model_payload())
    retired = services.model_create(actor=engineer, **model_payload())
    services.model_update(model=retired, actor=compliance, data={"is_retired": True}, reason="Replaced")

    html = admin_client.get(reverse("admin:registry_registeredmodel_changelist")).content.decode()

    rows = {name: re.search(rf"<tr>.*?{name}.*?</tr>", html, re.S).group(0) for name in (active.name, retired.name)}
    assert "Retired" in rows[retired.name] and "Retired" not in rows[active.name]
    assert "icon-no.svg" not in html and "icon-yes.svg" not in html


@pytest.mark.parametrize(
    "listing",
    [
        "admin:registry_modelversion_changelist",
        "admin:registry_registeredmodel_changelist",
        "admin:registry_evaluationresult_changelist",
        "admin:registry_deployment_changelist",
    ],
)
def test_it_lists_in_the_same_number_of_queries_for_more_rows(admin_client, engineer, listing):
    def add_version():
        model = services.model_create(actor=engineer, **model_payload())
        services.version_register(model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload())

    add_version()
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(listing))
    add_version()
    add_version()

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(reverse(listing))

    assert response.status_code == 200
    assert len(many) == len(few)
