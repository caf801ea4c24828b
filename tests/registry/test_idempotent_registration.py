from __future__ import annotations

from core.models import IdempotencyRecord
from registry.models import ModelVersion
from tests.conftest import version_payload


def url(model) -> str:
    return f"/api/v1/models/{model.name}/versions/"


def test_it_answers_a_retry_with_the_first_response(api, engineer, registered_model):
    client = api(engineer)
    payload = version_payload()

    first = client.post(url(registered_model), payload, format="json", HTTP_IDEMPOTENCY_KEY="ci-run-42")
    retry = client.post(url(registered_model), payload, format="json", HTTP_IDEMPOTENCY_KEY="ci-run-42")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert ModelVersion.objects.filter(model=registered_model).count() == 1
    assert ModelVersion.history.count() == 1


def test_it_refuses_a_key_reused_for_another_request(api, engineer, registered_model):
    client = api(engineer)
    client.post(url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = client.post(url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert ModelVersion.objects.count() == 1


def test_it_keeps_keys_per_user(api, engineer, other_engineer, registered_model):
    first = api(engineer).post(url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="same")
    second = api(other_engineer).post(
        url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="same"
    )

    assert first.status_code == second.status_code == 201
    assert ModelVersion.objects.count() == 2


def test_it_does_not_remember_failures(api, engineer, registered_model):
    client = api(engineer)
    bad = client.post(url(registered_model), version_payload(changelog=""), format="json", HTTP_IDEMPOTENCY_KEY="k")
    good = client.post(url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert bad.status_code == 400
    assert good.status_code == 201
    assert IdempotencyRecord.objects.count() == 1


def test_it_rejects_an_unusable_key(api, engineer, registered_model):
    response = api(engineer).post(
        url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_it_purges_old_records(engineer, registered_model, api, settings):
    from datetime import timedelta

    from django.utils import timezone

    from core.tasks import idempotency_records_purge

    api(engineer).post(url(registered_model), version_payload(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    record = IdempotencyRecord.objects.get()
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_records_purge() == 1
    assert not IdempotencyRecord.objects.exists()
