"""Work that cannot succeed is refused over the API with the reason and the date, before anything reaches OpenAI."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.demo import demo_clock
from lifecycle.services import catalogue_sync
from registry import services
from registry.models import ModelVersion, VersionStatus
from tests.conftest import TRAINING, model_payload, version_payload

TODAY = date(2026, 12, 1)
GPT35 = "gpt-3.5-turbo-0125"  # the fake server: shut down on 2026-10-23
NANO = "gpt-4.1-nano-2025-04-14"
GPT4O = "gpt-4o-2024-08-06"


@pytest.fixture
def catalogue(fake_openai):
    with demo_clock(datetime(2026, 12, 1, 9, tzinfo=UTC)):
        assert catalogue_sync(on=TODAY).ok
        fake_openai.requests.clear()
        yield fake_openai


def draft_on(engineer, base_model: str) -> ModelVersion:
    model = services.model_create(actor=engineer, **model_payload(base_model=base_model))
    return services.version_register(
        model=model,
        actor=engineer,
        **version_payload(version="v1", training_file_sha256=hashlib.sha256(TRAINING).hexdigest()),
    )


def launch(api, engineer, version):
    return api(engineer).post(
        f"/api/v1/models/{version.model.name}/versions/{version.version}/fine-tune/",
        {"training_file": SimpleUploadedFile("train.jsonl", TRAINING, content_type="application/jsonl")},
        format="multipart",
    )


def assert_nothing_sent(fake_openai, version) -> None:
    assert "file_create" not in fake_openai.requests
    assert "job_create" not in fake_openai.requests
    assert not fake_openai.jobs
    stored = ModelVersion.objects.get(pk=version.pk)
    assert (stored.status, stored.provider_job_id, stored.training_file_id) == (VersionStatus.DRAFT, None, "")


# --- Registering -------------------------------------------------------------------------------------


def test_it_refuses_to_register_a_version_on_a_shut_down_model(api, engineer, catalogue):
    # Registered in September, before its base model shut down.
    with demo_clock(datetime(2026, 9, 1, 9, tzinfo=UTC)):
        model = services.model_create(actor=engineer, **model_payload(base_model=GPT35))

    response = api(engineer).post(f"/api/v1/models/{model.name}/versions/", version_payload(), format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "model_shut_down"
    assert GPT35 in error["message"] and "2026-10-23" in error["message"]
    assert error["fields"] == {"base_model": ["Shut down on 2026-10-23."]}
    assert not ModelVersion.objects.exists()


def test_it_refuses_to_register_a_model_on_a_shut_down_base_model(api, engineer, catalogue):
    response = api(engineer).post("/api/v1/models/", model_payload(base_model=GPT35), format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "model_shut_down" and "2026-10-23" in error["message"]
    assert error["fields"] == {"base_model": ["Shut down on 2026-10-23."]}


def test_it_refuses_to_move_a_model_to_a_shut_down_base_model(api, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=NANO))

    response = api(engineer).patch(f"/api/v1/models/{model.name}/", {"base_model": GPT35}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_shut_down"
    model.refresh_from_db()
    assert model.base_model == NANO and model.history.count() == 1


def test_it_refuses_a_shut_down_base_model_given_for_the_version(api, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=NANO))

    response = api(engineer).post(
        f"/api/v1/models/{model.name}/versions/", version_payload(base_model=GPT35), format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_shut_down"
    assert "2026-10-23" in response.json()["error"]["message"]
    assert not ModelVersion.objects.exists()


def test_it_registers_on_a_model_that_shuts_down_later(api, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=GPT4O))

    response = api(engineer).post(f"/api/v1/models/{model.name}/versions/", version_payload(), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["lifecycle"]["state"] == "deprecated"


# --- Launching ---------------------------------------------------------------------------------------


def test_it_refuses_to_launch_on_a_base_model_that_shut_down_since_registration(api, engineer, catalogue):
    version = draft_on(engineer, GPT4O)
    catalogue.model_set(GPT4O, "2026-11-20")
    catalogue_sync(on=TODAY)
    catalogue.requests.clear()

    response = launch(api, engineer, version)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "model_shut_down"
    assert GPT4O in error["message"] and "2026-11-20" in error["message"]
    assert_nothing_sent(catalogue, version)


def test_it_refuses_to_launch_after_the_providers_last_day_for_new_jobs(api, engineer, catalogue, settings):
    version = draft_on(engineer, NANO)
    settings.OPENAI_LAST_FINE_TUNING_DAY = date(2026, 11, 30)  # yesterday

    response = launch(api, engineer, version)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "provider_closed"
    assert "2026-11-30" in error["message"]
    assert_nothing_sent(catalogue, version)


def test_it_launches_on_the_providers_last_day(api, engineer, catalogue, settings):
    version = draft_on(engineer, NANO)
    settings.OPENAI_LAST_FINE_TUNING_DAY = TODAY

    response = launch(api, engineer, version)

    assert response.status_code == 201, response.json()
    assert catalogue.requests["file_create"] == catalogue.requests["job_create"] == 1


def test_it_refuses_to_launch_on_a_base_model_the_provider_does_not_fine_tune(api, engineer, catalogue):
    version = draft_on(engineer, "gpt-4o")  # an alias: served, but not fine-tunable

    response = launch(api, engineer, version)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "does not fine-tune gpt-4o" in error["message"]
    assert error["fields"] == {"base_model": ["Not fine-tunable on this provider."]}
    assert_nothing_sent(catalogue, version)


# --- The schema says so ----------------------------------------------------------------------------


def test_the_schema_documents_the_lifecycle_refusals(db):
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    versions = schema["paths"]["/api/v1/models/{name}/versions/"]["post"]["responses"]["409"]
    launches = schema["paths"]["/api/v1/models/{name}/versions/{version}/fine-tune/"]["post"]["responses"]["409"]

    assert "model_shut_down" in versions["description"]
    assert "model_shut_down" in launches["description"] and "provider_closed" in launches["description"]
    for answer in (versions, launches):
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
