"""Crafted input (issue 10, finding 3) is a 400, 413 or 415 in the one error shape, never a 500.

Each of these was a 500 on PostgreSQL, or on both databases: a NUL in a lookup,
a 400-digit metric, JSON nested 1,000 deep, a tampered cursor, an upload of any size.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api import StableCursorPagination
from core.parsers import MAX_TEXT_LENGTH, json_depth
from core.serializers import StrictInputSerializer
from registry.metrics import metrics_errors, per_intent_errors
from registry.models import EvaluationResult, RegisteredModel
from risks import controls
from risks import services as risk_services
from risks.models import DocumentEvidence, Incident
from tests.conftest import make_user, model_payload, sha
from tests.risks.conftest import risk_payload

NUL = "Must be UTF-8 text without NUL or control characters."


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    return error


def post_json(client, url: str, body: str):
    return client.post(url, body, content_type="application/json")


def raw_json(payload: dict, **literals: str) -> str:
    """`payload` as JSON, with each "<name>" string value replaced by the raw JSON text literals[name]."""
    body = json.dumps(payload)
    for name, text in literals.items():
        body = body.replace(f'"<{name}>"', text)
    return body


@pytest.fixture
def risk(compliance):
    return risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())


@pytest.fixture
def control(compliance, risk):
    return controls.control_create(actor=compliance, name="Refusals", description="In range", risks=[risk])


def incident_body(version_ref: str) -> str:
    aware = timezone.now() - timedelta(hours=1)
    payload = {
        "title": "Wrong refund",
        "version": "<version>",
        "occurred_at": (aware - timedelta(hours=1)).isoformat(),
        "aware_at": aware.isoformat(),
        "description": "d",
        "severity": "low",
    }
    return raw_json(payload, version=f'"{version_ref}"')


# --- A NUL (or a lone surrogate) in a body reference, a path or a query --------------------------


def test_it_refuses_a_nul_in_a_referenced_version(api, engineer, registered_version):
    response = post_json(api(engineer), "/api/v1/incidents/", incident_body("x:v\\u0000"))

    assert error_of(response)["fields"] == {"version": ["NUL characters are not allowed."]}
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"owners": {"technical_owner": "erin\\u0000"}}', "owners.technical_owner"),
        ('{"technical_owner": "erin-engineer\\u0000"}', "technical_owner"),
        ('{"display_name": "a\\ud800b"}', "display_name"),
        ('{"display_name\\u0000": "a"}', "non_field_errors"),
    ],
)
def test_it_refuses_a_nul_or_a_lone_surrogate_anywhere_in_a_body(api, compliance, registered_model, body, field):
    response = api(compliance).generic(
        "PATCH", f"/api/v1/models/{registered_model.name}/", body, content_type="application/json"
    )

    assert field in error_of(response)["fields"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("owner", "carla\\u0000"), ("models", ["m\\u0000"]), ("versions", ["m:v\\u0000"])],
)
def test_it_refuses_a_nul_in_a_risk_s_references(api, compliance, field, value):
    body = json.dumps({**risk_payload(owner="carla-compliance"), field: value}).replace("\\\\u0000", "\\u0000")

    response = post_json(api(compliance), "/api/v1/risks/", body)

    assert error_of(response)["fields"] == {
        field if isinstance(value, str) else f"{field}.0": ["NUL characters are not allowed."]
    }


def test_it_refuses_a_nul_in_a_control_s_risks(api, compliance, risk):
    payload = {"name": "Human review", "description": "Weekly", "risks": ["<ref>"]}
    body = raw_json(payload, ref=f'"{risk.reference}\\u0000"')

    response = post_json(api(compliance), "/api/v1/controls/", body)

    assert error_of(response)["fields"] == {"risks.0": ["NUL characters are not allowed."]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/risks/{risk}%00/",
        "/api/v1/risks/%00/history/",
        "/api/v1/controls/{control}%00/",
        "/api/v1/incidents/INC-%00/",
        "/api/v1/models/{model}/versions/v%0A1/",
        "/api/v1/models/%FF/",
        "/api/v1/models/%ED%A0%80/",  # a surrogate, encoded: not UTF-8
    ],
)
def test_it_refuses_a_nul_a_control_character_or_broken_utf8_in_the_path(
    api, compliance, registered_model, risk, control, path
):
    url = path.format(risk=risk.reference, control=control.reference, model=registered_model.name)

    response = api(compliance).get(url)

    assert error_of(response) == {
        "code": "invalid",
        "message": "The URL holds characters no name, reference or search may contain.",
        "fields": {"path": [NUL]},
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("owner=%00", "owner"),
        ("q=refund%00", "q"),
        ("model=a%1Fb", "model"),
        ("q=%FF", "q"),
        ("%00=1", "query"),
    ],
)
def test_it_refuses_a_nul_or_broken_utf8_in_the_query(api, compliance, query, field):
    response = api(compliance).get(f"/api/v1/risks/?{query}")

    assert error_of(response)["fields"] == {field: [NUL]}


def test_it_leaves_ordinary_queries_alone(api, compliance, risk):
    response = api(compliance).get("/api/v1/risks/?q=refund+promises&owner=carla-compliance")

    assert response.status_code == 200
    assert [r["reference"] for r in response.json()["results"]] == [risk.reference]


# --- Numbers ------------------------------------------------------------------------------------


def evaluation(**overrides) -> dict:
    return {"suite": "s", "golden_set_sha256": sha("golden"), **overrides}


def evaluations_url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/evaluations/"


def test_it_refuses_a_metric_of_ten_to_the_400(api, engineer, registered_version):
    body = raw_json(evaluation(metrics={"win_rate": "<n>"}), n="1" + "0" * 400)

    response = post_json(api(engineer), evaluations_url(registered_version), body)

    assert error_of(response)["fields"] == {"metrics.win_rate": ["Must be within ±1e+15."]}
    assert registered_version.evaluations.count() == 1


def test_it_refuses_a_per_intent_value_of_ten_to_the_400_inside_a_new_version(api, engineer, registered_model):
    payload = {
        "version": "v9",
        "training_file_sha256": sha("t"),
        "changelog": "c",
        "evaluations": [evaluation(metrics={"refusal_rate": 0.1}, per_intent={"billing": "<n>"})],
    }
    body = raw_json(payload, n="1" + "0" * 400)

    response = post_json(api(engineer), f"/api/v1/models/{registered_model.name}/versions/", body)

    assert error_of(response)["fields"] == {"evaluations.0.per_intent.billing": ["Must be within ±1e+15."]}
    assert not registered_model.versions.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_it_refuses_numbers_json_does_not_have(api, engineer, registered_version, literal):
    body = raw_json(evaluation(metrics={"p95_latency_ms": "<n>"}), n=literal)

    response = post_json(api(engineer), evaluations_url(registered_version), body)

    assert error_of(response)["fields"] == {"metrics.p95_latency_ms": ["Must be a finite number."]}


def test_it_refuses_an_integer_literal_too_long_to_convert(api, engineer, registered_version):
    # Python refuses int() of more than 4,300 digits with a ValueError; the parser never gets there.
    body = raw_json(evaluation(metrics={"win_rate": "<n>"}), n="9" * 5000)

    response = post_json(api(engineer), evaluations_url(registered_version), body)

    assert error_of(response)["fields"] == {"metrics.win_rate": ["Must be within ±1e+15."]}


def test_the_metric_checks_never_overflow_on_a_huge_integer():
    # The service's own check, for callers that do not come through the JSON parser.
    assert metrics_errors({"win_rate": 10**400}) == {"metrics.win_rate": ["Must be within ±1e+15."]}
    assert metrics_errors({"p95_latency_ms": -(10**400)}) == {"metrics.p95_latency_ms": ["Must be within ±1e+15."]}
    assert per_intent_errors({"billing": 10**400}) == {"per_intent.billing": ["Must be within ±1e+15."]}
    assert metrics_errors({"p95_latency_ms": float("inf")}) == {"metrics.p95_latency_ms": ["Must be a finite number."]}
    assert metrics_errors({"p95_latency_ms": 10**15}) == {}


# --- Nesting, size and content type -----------------------------------------------------------


def test_it_refuses_json_nested_a_thousand_levels_deep(api, engineer, registered_version):
    body = '{"suite": "s", "metrics": %s}' % ("[" * 1000 + "]" * 1000)

    response = post_json(api(engineer), evaluations_url(registered_version), body)

    assert error_of(response)["fields"] == {"non_field_errors": ["JSON may nest at most 32 levels."]}


def test_the_depth_scan_skips_brackets_inside_strings():
    assert json_depth('{"a": "[[[[{{{{\\"[[", "b": [[1]]}') == 3
    assert json_depth('["\\\\", [["]"]]]') == 3


def test_it_answers_413_to_a_body_over_the_limit(api, engineer, registered_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"display_name": "%s"}' % ("x" * 10_000)

    response = api(engineer).generic(
        "PATCH", f"/api/v1/models/{registered_model.name}/", body, content_type="application/json"
    )

    error = error_of(response, 413)
    assert (error["code"], error["limit_bytes"]) == ("too_large", 10_000)


def test_it_still_answers_415_to_an_unsupported_content_type(api, engineer, registered_model):
    response = api(engineer).post("/api/v1/models/", "name: x", content_type="text/yaml")

    assert error_of(response, 415)["code"] == "unsupported_media_type"


# --- Free text --------------------------------------------------------------------------------


def _validated_serializers() -> dict[str, type]:
    """Every serializer a view validates input with (`validated(XSerializer, ...)`), by name."""
    import registry.api.views
    import reports.api.views
    import risks.api.views

    found = {}
    for module in (registry.api.views, risks.api.views, reports.api.views):
        for name in re.findall(r"validated\(\s*(\w+)", inspect.getsource(module)):
            found[name] = getattr(module, name)
    return found


def _text_fields(serializer) -> list[tuple[str, serializers.CharField]]:
    out = []
    for name, field in serializer.fields.items():
        while getattr(field, "child", None) is not None:
            field = field.child
        if isinstance(field, serializers.CharField):
            out.append((name, field))
        elif isinstance(field, serializers.Serializer):
            out.extend((f"{name}.{sub}", f) for sub, f in _text_fields(field))
    return out


def test_every_input_serializer_is_a_strict_one_and_bounds_every_text_field():
    found = _validated_serializers()
    assert len(found) > 20  # registry, risks and reports all validate input

    for name, cls in found.items():
        assert issubclass(cls, StrictInputSerializer), f"{name} skips the input hygiene rules"
        for field_name, field in _text_fields(cls()):
            assert field.max_length is not None and field.max_length <= MAX_TEXT_LENGTH, (name, field_name)


def test_it_names_a_free_text_field_over_the_default_maximum(api, engineer):
    body = model_payload(purpose="x" * (MAX_TEXT_LENGTH + 1))

    response = api(engineer).post("/api/v1/models/", body, format="json")

    assert error_of(response)["fields"] == {"purpose": ["Ensure this value has at most 20000 characters."]}
    assert not RegisteredModel.objects.exists()


# --- Multipart forms and uploads --------------------------------------------------------------


def evidence(**overrides) -> dict:
    return {
        "title": "Q3 review",
        "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "reviewer": "carla-compliance",
        "verdict": "effective",
        **overrides,
    }


def test_it_refuses_a_nul_in_a_form_field_that_is_looked_up(api, compliance, control):
    # DRF's CharField refuses a NUL itself; a lookup (the reviewer's username) did not, and PostgreSQL raised.
    response = api(compliance).post(
        f"/api/v1/controls/{control.reference}/documents/", evidence(reviewer="carla\x00"), format="multipart"
    )

    assert error_of(response)["fields"] == {"reviewer": ["NUL characters are not allowed."]}


def test_it_takes_an_evidence_file_up_to_the_limit(api, compliance, control, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 2048
    upload = SimpleUploadedFile("q3.pdf", b"%PDF-1.4 " + b"x" * (2048 - 9))

    response = api(compliance).post(
        f"/api/v1/controls/{control.reference}/documents/", evidence(file=upload), format="multipart"
    )

    assert response.status_code == 201, response.content
    assert DocumentEvidence.objects.get().file.size == 2048


def test_it_answers_413_to_an_evidence_file_over_the_limit(api, compliance, control, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 2048
    upload = SimpleUploadedFile("q3.pdf", b"%PDF-1.4 " + b"x" * 2048)

    response = api(compliance).post(
        f"/api/v1/controls/{control.reference}/documents/", evidence(file=upload), format="multipart"
    )

    error = error_of(response, 413)
    assert (error["code"], error["limit_bytes"]) == ("too_large", 2048)
    assert error["fields"] == {"file": ["At most 2048 bytes."]}
    assert not DocumentEvidence.objects.exists()


def test_the_evidence_limit_defaults_to_25_mb():
    assert django_settings.EVIDENCE_MAX_UPLOAD_BYTES == 25 * 1024 * 1024


def test_it_answers_413_to_a_training_file_over_its_limit(api, engineer, registered_version, settings):
    settings.TRAINING_FILE_MAX_UPLOAD_BYTES = 1024
    url = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/fine-tune/"

    response = api(engineer).post(
        url, {"training_file": SimpleUploadedFile("train.jsonl", b"{}\n" * 1000)}, format="multipart"
    )

    assert error_of(response, 413)["fields"] == {"training_file": ["At most 1024 bytes."]}


def test_it_refuses_hostile_json_inside_a_form_field(api, engineer, registered_version):
    url = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/fine-tune/"

    response = api(engineer).post(
        url, {"training_file_id": "file-1", "hyperparameters": "[" * 5000 + "]" * 5000}, format="multipart"
    )

    assert error_of(response)["fields"] == {"hyperparameters": ["Must be a JSON object."]}


# --- Cursors ------------------------------------------------------------------------------------


def cursor(position: str) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/?cursor=cD0yMDI2LTEx",  # p=2026-11, on an integer id
        "/api/v1/models/?cursor=" + cursor("\x00"),
        "/api/v1/risks/?cursor=" + cursor("not-a-number"),
        "/api/v1/incidents/?cursor=" + cursor("1e999"),
    ],
)
def test_it_answers_400_to_a_tampered_cursor(api, engineer, registered_model, url):
    response = api(engineer).get(url)

    assert error_of(response)["fields"] == {"cursor": ["Invalid cursor."]}


def test_it_answers_400_to_a_tampered_cursor_on_a_datetime_ordering(registered_version):
    class ByRanAt(StableCursorPagination):
        ordering = "-ran_at"

    request = Request(APIRequestFactory().get("/x/", {"cursor": cursor("2026-11-99T99:00")}))

    with pytest.raises(serializers.ValidationError) as caught:
        ByRanAt().paginate_queryset(EvaluationResult.objects.all(), request)

    assert caught.value.detail == {"cursor": ["Invalid cursor."]}


def test_a_genuine_cursor_still_pages(api, engineer):
    for _ in range(3):
        api(engineer).post("/api/v1/models/", model_payload(), format="json")

    first = api(engineer).get("/api/v1/models/?page_size=2").json()
    second = api(engineer).get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 1


# --- The admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/registry/registeredmodel/?q=%00",
        "/admin/registry/registeredmodel/{pk}%00/change/",
        "/admin/risks/risk/?q=refund%00",
    ],
)
def test_the_admin_answers_400_to_a_nul_not_500(db, registered_model, path):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    response = client.get(path.format(pk=registered_model.pk))

    assert response.status_code == 400


def test_the_admin_search_still_works(db, registered_model):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    response = client.get(f"/admin/registry/registeredmodel/?q={registered_model.name}")

    assert response.status_code == 200
    assert registered_model.name in response.content.decode()
