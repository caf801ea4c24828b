"""The Azure provider module against the Azure fake, through the real SDK and real HTTP."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from datetime import date

import pytest

from providers import azure_openai
from providers.base import ProviderNotConfigured, ProviderRejected, ProviderUnavailable
from providers.fake_openai import Fault
from tests.conftest import TRAINING
from tests.fakes import AZURE_CANARY_KEY, AZURE_CANARY_TOKEN

BASE = "gpt-4.1-mini-2025-04-14"


def _launch(metadata=None, model=BASE) -> azure_openai.Job:
    file_id = azure_openai.file_upload(filename="train.jsonl", content=TRAINING)
    return azure_openai.job_create(model=model, training_file=file_id, suffix="support-v3", metadata=metadata, seed=7)


def test_it_uploads_a_file_and_starts_a_job(fake_azure):
    job = _launch(metadata={"fineprint_version": "support:v3"})

    assert job.status == "validating_files"
    assert job.model == BASE
    assert job.metadata == {"fineprint_version": "support:v3"}
    assert fake_azure.file_contents[job.training_file] == TRAINING
    assert fake_azure.requests == {"file_create": 1, "job_create": 1}


def test_it_follows_a_job_to_success_with_checkpoints_and_events(fake_azure):
    job = _launch()

    statuses = []
    for seconds in (10, 10, 100):
        fake_azure.advance(seconds)
        statuses.append(azure_openai.job_retrieve(job.id).status)
    done = azure_openai.job_retrieve(job.id)
    checkpoints = azure_openai.job_checkpoints(job.id)
    events = azure_openai.job_events(job.id)

    assert statuses == ["queued", "running", "succeeded"]
    assert re.fullmatch(re.escape(BASE) + r"\.ft-[0-9a-f]{32}", done.fine_tuned_model)
    assert done.trained_tokens > 0
    assert [c.step_number for c in checkpoints] == [90, 60, 30]
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(done.fine_tuned_model)
    assert {"train_loss", "valid_loss"} <= set(checkpoints[0].metrics)
    assert events[0]["message"] == "The job has successfully completed"
    assert [e["message"] for e in events][-1] == "Validating training file"


def test_it_cancels_a_job(fake_azure):
    job = _launch()

    assert azure_openai.job_cancel(job.id).status == "cancelled"
    with pytest.raises(ProviderRejected) as raised:
        azure_openai.job_cancel(job.id)
    assert raised.value.status == 400


def test_it_pages_through_jobs_and_filters_metadata_itself(fake_azure):
    ours = [_launch(metadata={"fineprint": "yes"}).id for _ in range(3)]
    theirs = [_launch(metadata={"fineprint": "no"}).id for _ in range(2)]

    listed, after = [], None
    while True:
        page, has_more = azure_openai.jobs_page(after=after, limit=2)
        listed.extend(job.id for job in page)
        if not has_more:
            break
        after = page[-1].id
    filtered, more = azure_openai.jobs_page(metadata={"fineprint": "yes"}, limit=100)

    assert sorted(listed) == sorted(ours + theirs)  # Azure's list ignores metadata: all five
    assert fake_azure.requests["job_list"] == 4  # three pages, then one for the filtered call
    assert sorted(job.id for job in filtered) == sorted(ours)
    assert not more


def test_the_fake_ignores_a_metadata_filter_like_azure(fake_azure, settings):
    _launch(metadata={"fineprint": "yes"})
    _launch(metadata={"fineprint": "no"})
    request = urllib.request.Request(
        f"{settings.AZURE_OPENAI_ENDPOINT}/openai/fine_tuning/jobs?api-version=2025-04-01-preview&metadata[fineprint]=yes",
        headers={"api-key": AZURE_CANARY_KEY},
    )

    with urllib.request.urlopen(request, timeout=5) as response:
        assert len(json.loads(response.read())["data"]) == 2


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({"api-key": AZURE_CANARY_KEY}, "", 400),
        ({}, "?api-version=2025-04-01-preview", 401),
        ({"Authorization": f"Bearer {AZURE_CANARY_KEY}"}, "?api-version=2025-04-01-preview", 401),
    ],
)
def test_the_fake_wants_an_api_version_and_the_api_key_header(fake_azure, settings, headers, query, status):
    request = urllib.request.Request(f"{settings.AZURE_OPENAI_ENDPOINT}/openai/models{query}", headers=headers)

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)

    assert raised.value.code == status


def test_it_reads_azure_model_lifecycle(fake_azure):
    fake_azure.model_set(BASE, "2027-03-01", training_retires_on="2027-02-01")
    fake_azure.model_set("text-embedding-3-small", None, fine_tunable=False)

    models = {m.id: m for m in azure_openai.models_list()}
    one = azure_openai.model_retrieve(BASE)

    assert models[BASE].shutdown_date == date(2027, 3, 1)
    assert models[BASE].training_retires_on == date(2027, 2, 1)
    assert models[BASE].fine_tunable is True
    assert models["gpt-4o-2024-08-06"].shutdown_date == date(2027, 1, 14)
    assert models["text-embedding-3-small"].fine_tunable is False
    assert models["text-embedding-3-small"].shutdown_date is None
    assert models["text-embedding-3-small"].training_retires_on is None
    assert (one.shutdown_date, one.training_retires_on, one.fine_tunable) == (
        date(2027, 3, 1),
        date(2027, 2, 1),
        True,
    )


def test_a_fine_tuned_model_is_listed_and_retires_with_its_base(fake_azure):
    job = _launch()
    fake_azure.advance(200)
    name = azure_openai.job_retrieve(job.id).fine_tuned_model

    model = azure_openai.model_retrieve(name)

    assert model.shutdown_date == date(2027, 1, 14)
    assert model.fine_tunable is False
    assert model.owned_by == "organization"


def test_it_cannot_start_a_job_once_training_has_retired(fake_azure):
    fake_azure.model_set(BASE, "2030-01-01", training_retires_on="2020-01-01")

    with pytest.raises(ProviderRejected) as raised:
        _launch()

    assert raised.value.status == 400


def test_it_says_a_rate_limit_can_be_retried_and_when(fake_azure):
    fake_azure.inject(Fault(status=429, retry_after=2.5))

    with pytest.raises(ProviderUnavailable) as raised:
        azure_openai.jobs_page()

    assert raised.value.retryable
    assert (raised.value.status, raised.value.retry_after) == (429, 2.5)
    assert azure_openai.jobs_page() == ([], False)


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault(status=500), None), (Fault(delay=1.5), "timeout"), (Fault(drop=True), "connection_error")],
)
def test_it_says_server_trouble_can_be_retried(fake_azure, fault, code):
    fake_azure.inject(fault)
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable) as raised:
        azure_openai.job_retrieve("ftjob-any")

    assert raised.value.retryable
    if code:
        assert raised.value.code == code
    assert "Azure OpenAI" in raised.value.message
    assert time.monotonic() - started < 10


def test_it_says_an_unknown_job_cannot_be_retried(fake_azure):
    with pytest.raises(ProviderRejected) as raised:
        azure_openai.job_retrieve("ftjob-missing")

    assert not raised.value.retryable
    assert raised.value.status == 404


def test_it_never_lets_the_key_into_an_error(fake_azure, settings):
    settings.AZURE_OPENAI_API_KEY = AZURE_CANARY_KEY + "-wrong"

    with pytest.raises(ProviderRejected) as raised:
        azure_openai.jobs_page()

    assert raised.value.status == 401
    for text in (str(raised.value), raised.value.message, repr(raised.value.__dict__)):
        assert "canary" not in text


def test_it_never_lets_the_key_into_an_echoed_error(fake_azure):
    # A provider that echoes what it was sent (here: the key as a model name) still leaks nothing.
    with pytest.raises(ProviderRejected) as raised:
        azure_openai.model_retrieve(AZURE_CANARY_KEY)

    assert raised.value.status == 404
    assert "canary" not in str(raised.value) and "canary" not in raised.value.message


# --- deployments ------------------------------------------------------------------------------------


def _fine_tuned(fake_azure) -> str:
    job = _launch()
    fake_azure.advance(200)
    return azure_openai.job_retrieve(job.id).fine_tuned_model


def test_it_deploys_a_fine_tuned_model(fake_azure):
    model = _fine_tuned(fake_azure)

    created = azure_openai.deployment_create(name="support-v3", model=model)
    fake_azure.advance(10)
    live = azure_openai.deployment_get("support-v3")

    assert (created.name, created.model, created.state) == ("support-v3", model, "creating")
    assert (live.model, live.state) == (model, "succeeded")


def test_a_deployment_can_fail(fake_azure):
    model = _fine_tuned(fake_azure)
    azure_openai.deployment_create(name="support-v3", model=model)
    fake_azure.deployment_outcome("support-v3", "Failed")
    fake_azure.advance(10)

    assert azure_openai.deployment_get("support-v3").state == "failed"


def test_a_deployment_idle_for_15_days_goes_missing_but_the_model_stays(fake_azure):
    model = _fine_tuned(fake_azure)
    azure_openai.deployment_create(name="support-v3", model=model)
    azure_openai.deployment_create(name="busy", model=model)
    fake_azure.advance(14 * 86400)
    fake_azure.deployment_use("busy")
    fake_azure.advance(2 * 86400)

    assert azure_openai.deployment_get("support-v3") == azure_openai.ServingDeployment(
        name="support-v3", model="", state="missing"
    )
    assert azure_openai.deployment_get("busy").state == "succeeded"
    assert azure_openai.model_retrieve(model).id == model


def test_an_unknown_deployment_is_missing(fake_azure):
    assert azure_openai.deployment_get("never-made").state == "missing"


def test_deploying_an_unknown_model_is_refused(fake_azure):
    with pytest.raises(ProviderRejected) as raised:
        azure_openai.deployment_create(name="x", model="gpt-9-nothing")

    assert raised.value.status == 400
    assert raised.value.code == "DeploymentModelNotSupported"


def test_the_control_plane_token_never_leaks(fake_azure, settings):
    settings.AZURE_MANAGEMENT_TOKEN = AZURE_CANARY_TOKEN + "-wrong"

    with pytest.raises(ProviderRejected) as raised:
        azure_openai.deployment_get("support-v3")

    assert raised.value.status == 401
    assert "canary" not in str(raised.value) and "canary" not in repr(raised.value.__dict__)


@pytest.mark.parametrize(
    ("fault", "code"), [(Fault(status=429, retry_after=3), None), (Fault(drop=True), "connection_error")]
)
def test_control_plane_trouble_can_be_retried(fake_azure, fault, code):
    fake_azure.inject(Fault(**{**fault.__dict__, "path": "/subscriptions/"}))

    with pytest.raises(ProviderUnavailable) as raised:
        azure_openai.deployment_get("support-v3")

    if code:
        assert raised.value.code == code
    else:
        assert (raised.value.status, raised.value.retry_after) == (429, 3.0)


@pytest.mark.parametrize(
    "setting", ["AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_OPENAI_RESOURCE_NAME", "AZURE_MANAGEMENT_TOKEN"]
)
def test_deploying_without_the_control_plane_settings_names_the_missing_one(fake_azure, settings, setting):
    setattr(settings, setting, "")

    with pytest.raises(ProviderNotConfigured) as raised:
        azure_openai.deployment_get("support-v3")

    assert raised.value.setting == setting
    assert fake_azure.requests == {}
