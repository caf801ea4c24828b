"""Models and their shutdown dates, and the provider's refusals, through the real SDK against the fake server."""

from __future__ import annotations

from datetime import date

import pytest

from providers import openai_api
from tests.conftest import TRAINING


def test_it_lists_models_with_their_shutdown_dates_in_one_call(fake_openai):
    models = {m.id: m for m in openai_api.models_list()}

    assert models["gpt-3.5-turbo-0125"].shutdown_date == date(2026, 10, 23)
    assert models["gpt-4.1-mini-2025-04-14"].shutdown_date == date(2027, 1, 14)
    assert models["gpt-4.1-nano-2025-04-14"].shutdown_date is None
    assert fake_openai.requests == {"model_list": 1}


def test_it_retrieves_a_fine_tuned_model_by_its_id(fake_openai):
    name = "ft:gpt-4.1-mini-2025-04-14:fake-org:support-v4:abc123"
    fake_openai.model_set(name, "2027-01-14", owned_by="fake-org")

    model = openai_api.model_retrieve(name)

    assert (model.id, model.owned_by, model.shutdown_date) == (name, "fake-org", date(2027, 1, 14))


def test_an_unknown_model_cannot_be_retried(fake_openai):
    with pytest.raises(openai_api.ProviderRejected) as raised:
        openai_api.model_retrieve("gpt-2")

    assert raised.value.status == 404


def _launch_on(model: str) -> openai_api.Job:
    file_id = openai_api.file_upload(filename="train.jsonl", content=TRAINING)
    return openai_api.job_create(model=model, training_file=file_id)


def test_the_provider_refuses_a_job_on_a_model_that_has_shut_down(fake_openai):
    with pytest.raises(openai_api.ProviderRejected) as raised:
        _launch_on("gpt-3.5-turbo-0125")

    assert (raised.value.status, raised.value.code) == (400, "model_not_available")


def test_the_provider_refuses_every_job_after_its_last_day(fake_openai):
    fake_openai.last_job_day = fake_openai.today().replace(year=fake_openai.today().year - 1).isoformat()

    with pytest.raises(openai_api.ProviderRejected) as raised:
        _launch_on("gpt-4.1-nano-2025-04-14")

    assert (raised.value.status, raised.value.code) == (403, "fine_tuning_closed")


def test_a_model_shuts_down_when_the_fake_clock_passes_its_date(fake_openai):
    tomorrow = fake_openai.today().toordinal() + 1
    fake_openai.model_set("gpt-4.1-nano-2025-04-14", date.fromordinal(tomorrow).isoformat())
    assert _launch_on("gpt-4.1-nano-2025-04-14").status == "validating_files"

    fake_openai.advance(2 * 86400)

    with pytest.raises(openai_api.ProviderRejected):
        _launch_on("gpt-4.1-nano-2025-04-14")
