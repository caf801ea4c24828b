"""Every write leaves a history row with the acting user, the source and a reason."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core.audit import Source
from core.models import ApiToken
from registry import services
from registry.models import EvaluationResult, ModelVersion, RegisteredModel
from tests.conftest import evaluation_payload, model_payload, version_payload


def _latest(model_class):
    return model_class.history.order_by("-history_date", "-history_id").first()


@pytest.mark.parametrize(
    ("method", "path", "body", "persona", "tracked"),
    [
        ("post", "/api/v1/models/", model_payload, "engineer", RegisteredModel),
        ("patch", "/api/v1/models/{model}/", lambda: {"purpose": "New."}, "engineer", RegisteredModel),
        ("patch", "/api/v1/models/{model}/", lambda: {"risk_tier": "high"}, "compliance", RegisteredModel),
        ("post", "/api/v1/models/{model}/versions/", version_payload, "engineer", ModelVersion),
        (
            "post",
            "/api/v1/models/{model}/versions/{version}/evaluations/",
            evaluation_payload,
            "engineer",
            EvaluationResult,
        ),
    ],
)
def test_it_records_every_api_write_with_its_user(
    api, engineer, compliance, registered_version, method, path, body, persona, tracked
):
    user = {"engineer": engineer, "compliance": compliance}[persona]
    before = tracked.history.count()
    url = path.format(model=registered_version.model.name, version=registered_version.version)

    response = getattr(api(user), method)(url, body(), format="json")

    assert response.status_code in (200, 201), response.json()
    assert tracked.history.count() == before + 1
    row = _latest(tracked)
    assert row.history_user == user
    assert row.history_source == Source.API
    assert row.history_change_reason


def test_it_records_inline_evaluations_as_their_own_entries(api, engineer, registered_model):
    payload = version_payload(evaluations=[evaluation_payload(), evaluation_payload(suite="safety")])

    api(engineer).post(f"/api/v1/models/{registered_model.name}/versions/", payload, format="json")

    rows = EvaluationResult.history.all()
    assert [r.suite for r in rows.order_by("history_id")] == ["golden-v1", "safety"]
    assert {r.history_user for r in rows} == {engineer}


def test_it_serves_the_history_of_a_model_with_diffs(api, engineer, compliance, registered_model):
    api(compliance).patch(
        f"/api/v1/models/{registered_model.name}/", {"risk_tier": "high", "reason": "Annual review"}, format="json"
    )

    entries = api(engineer).get(f"/api/v1/models/{registered_model.name}/history/").json()

    assert [e["action"] for e in entries] == ["created", "changed"]
    change = entries[1]
    assert change["user"] == compliance.username
    assert change["source"] == "api"
    assert change["reason"] == "Annual review"
    assert change["changes"] == [{"field": "risk_tier", "old": "unclassified", "new": "high"}]


def test_it_serves_the_history_of_a_version_with_its_evaluations(api, engineer, compliance, registered_version):
    services.version_retire(version=registered_version, actor=compliance, reason="Superseded by v2")

    entries = (
        api(engineer)
        .get(f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/history/")
        .json()
    )

    assert [(e["object"], e["action"]) for e in entries] == [
        ("version", "created"),
        ("evaluation", "created"),
        ("version", "changed"),
    ]
    retire = entries[-1]
    assert retire["user"] == compliance.username
    assert retire["reason"] == "Superseded by v2"
    assert {c["field"] for c in retire["changes"]} == {"status", "retired_at"}


def test_it_attributes_command_line_token_issues(engineer, capsys):
    call_command("issue_token", engineer.username)

    row = _latest(ApiToken)
    assert row.history_source == Source.COMMAND
    assert row.history_change_reason == "Issued with manage.py issue_token"
    assert row.user_id == engineer.pk


def test_it_attributes_task_writes_to_the_service_and_the_user_it_acts_for(engineer, registered_model):
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from core.audit import audit_source

    service = get_user_model().objects.get(username=settings.FINEPRINT_SERVICE_USERNAME)
    with audit_source(Source.TASK, on_behalf_of_id=engineer.pk):
        services.model_update(model=registered_model, actor=service, data={"purpose": "Synced"}, reason="Sync")

    row = _latest(RegisteredModel)
    assert (row.history_user, row.history_on_behalf_of, row.history_source) == (service, engineer, Source.TASK)


def test_it_refuses_to_change_what_identifies_a_version(compliance, registered_version):
    from core.errors import ValidationFailed

    registered_version.training_file_sha256 = "0" * 64
    with pytest.raises(ValidationFailed) as raised:
        services.version_update(
            version=registered_version, actor=compliance, data={"changelog": "fixed typo"}, reason="typo"
        )

    assert "training_file_sha256" in raised.value.fields
    registered_version.refresh_from_db()
    assert registered_version.training_file_sha256 != "0" * 64


def test_it_refuses_identity_fields_through_the_update_service(compliance, registered_version):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as raised:
        services.version_update(version=registered_version, actor=compliance, data={"version": "v99"}, reason="x")

    assert raised.value.fields == {"version": ["Cannot be changed."]}


def test_it_refuses_an_identity_change_even_past_the_services(engineer, registered_model):
    from django.core.exceptions import ValidationError

    registered = services.version_register(
        model=registered_model, actor=engineer, **version_payload(provider_job_id="ftjob-original")
    )
    version = ModelVersion.objects.get(pk=registered.pk)
    version.provider_job_id = "ftjob-swapped"

    with pytest.raises(ValidationError) as raised:
        version.save()
    assert "provider_job_id" in raised.value.message_dict
    assert ModelVersion.objects.get(pk=registered.pk).provider_job_id == "ftjob-original"


def test_it_records_a_job_id_once_for_a_version_registered_without_one(registered_version):
    version = ModelVersion.objects.get(pk=registered_version.pk)
    version.provider_job_id = "ftjob-launched-later"
    version.save()

    version.provider_job_id = "ftjob-another"
    with pytest.raises(Exception, match="Fixed at registration"):
        version.save()


def test_it_names_people_by_username_in_history_diffs(api, engineer, compliance, registered_model):
    api(compliance).patch(
        f"/api/v1/models/{registered_model.name}/", {"business_owner": compliance.username}, format="json"
    )

    entries = api(engineer).get(f"/api/v1/models/{registered_model.name}/history/").json()

    assert {"field": "business_owner", "old": None, "new": compliance.username} in entries[-1]["changes"]
    created = {c["field"]: c["new"] for c in entries[0]["changes"]}
    assert created["technical_owner"] == engineer.username


def test_it_reads_history_in_a_constant_number_of_queries(api, engineer, compliance, registered_model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(engineer)
    url = f"/api/v1/models/{registered_model.name}/history/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    client.get(url)  # the token's first use is recorded (at most hourly): not a cost of the history
    few = count()
    for n in range(5):
        services.model_update(model=registered_model, actor=compliance, data={"purpose": f"P{n}"}, reason="r")
    assert count() == few
