"""An Azure version serves only once deployed: the deployment, its state kept by the sync, and the gate's rule."""

from __future__ import annotations

from core.audit import Source, audit_source
from providers import azure_openai
from registry import fine_tuning, gates, services
from registry.models import ModelVersion, ServingState
from tests.conftest import TRAINING, model_payload, version_payload
from tests.registry.test_fine_tune_sync import FakeTime

DAY = 24 * 3600


def tick():
    clock = FakeTime()
    with audit_source(Source.TASK):
        return fine_tuning.jobs_sync_tick(budget_seconds=30, clock=clock.clock, sleep=clock.sleep)


def fresh(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.get(pk=version.pk)


def url(version: ModelVersion) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/serving-deployment/"


def azure_trained(engineer, fake_azure) -> ModelVersion:
    import hashlib

    model = services.model_create(actor=engineer, **model_payload(provider="azure"))
    version = services.version_register(
        model=model, actor=engineer, **version_payload(training_file_sha256=hashlib.sha256(TRAINING).hexdigest())
    )
    fine_tuning.version_fine_tune_launch(version=version, actor=engineer, training=fine_tuning.Dataset(TRAINING))
    fake_azure.advance(200)
    tick()
    version = fresh(version)
    assert version.job_status == "succeeded"
    return version


def test_it_deploys_a_trained_azure_version_and_follows_the_deployment(api, engineer, fake_azure):
    version = azure_trained(engineer, fake_azure)

    response = api(engineer).post(url(version), {"name": "support-v1"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["serving_deployment"] == {"name": "support-v1", "state": "creating"}
    assert fake_azure.deployments["support-v1"]["model"] == version.fine_tuned_model
    fake_azure.advance(10)
    report = tick()
    assert report.providers["azure"].deployment_calls == 1
    assert fresh(version).serving_deployment_state == ServingState.SUCCEEDED
    reasons = [r.history_change_reason for r in fresh(version).history.order_by("history_date", "history_id")]
    assert reasons[-2:] == [
        f"Azure OpenAI deployment support-v1 of {version.fine_tuned_model}: creating (was none)",
        "Azure OpenAI deployment support-v1 creating -> succeeded",
    ]
    assert fresh(version).history.first().history_user.username != engineer.username  # the sync's own row


def test_a_deployment_azure_deletes_after_15_idle_days_turns_missing_once(api, engineer, fake_azure):
    version = azure_trained(engineer, fake_azure)
    fine_tuning.version_serving_deploy(version=version, actor=engineer, name="support-v1")
    fake_azure.advance(10)
    tick()
    fake_azure.advance(15 * DAY)

    tick()
    rows = fresh(version).history.count()
    again = tick()

    assert fresh(version).serving_deployment_state == ServingState.MISSING
    assert (
        "deleted: Azure deletes a deployment unused for 15 days" in fresh(version).history.first().history_change_reason
    )
    assert fresh(version).history.count() == rows  # recorded once
    assert again.providers == {}  # nothing left to ask: a missing deployment changes only when deployed again
    redeployed = api(engineer).post(url(version), {"name": "support-v1"}, format="json")
    assert redeployed.json()["serving_deployment"]["state"] == "creating"


def test_it_refuses_to_deploy_before_the_job_succeeds_or_on_openai(api, engineer, registered_version, fake_azure):
    import hashlib

    model = services.model_create(actor=engineer, **model_payload(provider="azure"))
    untrained = services.version_register(
        model=model, actor=engineer, **version_payload(training_file_sha256=hashlib.sha256(TRAINING).hexdigest())
    )

    not_yet = api(engineer).post(url(untrained), {"name": "support-v1"}, format="json")
    on_openai = api(engineer).post(url(registered_version), {"name": "support-v1"}, format="json")
    bad_name = api(engineer).post(url(untrained), {"name": "-x"}, format="json")

    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["fields"] == {"fine_tuned_model": ["Not trained yet."]}
    assert on_openai.status_code == 409
    assert "nothing to deploy" in on_openai.json()["error"]["message"]
    assert bad_name.status_code == 400
    assert fake_azure.deployments == {}


def test_only_engineers_and_compliance_deploy(api, engineer, compliance, executive, fake_azure):
    version = azure_trained(engineer, fake_azure)

    assert api(executive).post(url(version), {"name": "support-v1"}, format="json").status_code == 403
    assert api(compliance).post(url(version), {"name": "support-v1"}, format="json").status_code == 200


def test_deploying_needs_the_control_plane_settings(api, engineer, fake_azure, settings):
    version = azure_trained(engineer, fake_azure)
    settings.AZURE_SUBSCRIPTION_ID = ""

    response = api(engineer).post(url(version), {"name": "support-v1"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"provider": ["AZURE_SUBSCRIPTION_ID is not set."]}


def test_the_gate_of_an_azure_version_fails_until_its_deployment_has_succeeded(engineer, fake_azure):
    version = azure_trained(engineer, fake_azure)

    def rule():
        [found] = [r for r in gates.gate_evaluate(fresh(version)).rules if r.metric == "serving_deployment"]
        return found

    before = rule()
    fine_tuning.version_serving_deploy(version=version, actor=engineer, name="support-v1")
    creating = rule()
    fake_azure.advance(10)
    tick()
    after = rule()

    assert (before.outcome, before.detail) == (
        "fail",
        "Azure serves a fine-tuned model only once it is deployed: deploy it first.",
    )
    assert creating.outcome == "fail" and "still creating" in creating.detail
    assert after.outcome == "pass"
    assert gates.gate_evaluate(fresh(version)).rules[-1].metric == "lifecycle"  # the lifecycle rule stays last


def test_an_openai_version_gets_no_deployment_rule(registered_version):
    assert "serving_deployment" not in [r.metric for r in gates.gate_evaluate(registered_version).rules]


def test_the_providers_that_need_a_deployment_are_those_whose_module_says_so():
    from providers import openai_api

    assert fine_tuning.needs_deployment("azure") is azure_openai.NEEDS_DEPLOYMENT is True
    assert fine_tuning.needs_deployment("openai") is openai_api.NEEDS_DEPLOYMENT is False


def test_the_admin_shows_the_provider_and_the_deployment_read_only(engineer, compliance, fake_azure):
    from django.test import Client

    version = azure_trained(engineer, fake_azure)
    fine_tuning.version_serving_deploy(version=version, actor=engineer, name="support-v1")
    client = Client()
    client.force_login(compliance)

    html = client.get(f"/admin/registry/modelversion/{version.pk}/change/").content.decode()

    assert "Serving deployment (Azure)" in html and "support-v1" in html and "Azure OpenAI" in html
    assert 'name="serving_deployment"' not in html and 'name="provider"' not in html
