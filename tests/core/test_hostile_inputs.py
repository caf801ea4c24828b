"""Every write endpoint, with every hostile input: a 400, 413 or 415 in the one error shape, and nothing written.

The endpoints come from the OpenAPI schema, so a new one is walked without
anyone remembering to add it here.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from core.parsers import MAX_JSON_DEPTH
from core.roles import Role
from core.services import token_issue
from tests.conftest import client_for
from tests.records import one_of_each

WRITES = ("post", "put", "patch")
TRACKED_APPS = ("core", "registry", "risks", "reports", "providers")


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations() -> list[tuple[str, str]]:
    return sorted((method, path) for path, ops in _schema()["paths"].items() for method in ops if method in WRITES)


def _request_schema(schema: dict, operation: dict, content_type: str) -> dict:
    body = operation["requestBody"]["content"][content_type]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return body


def _a_field(body_schema: dict) -> str:
    """A field the endpoint takes, required ones first: the hostile value goes there."""
    names = [*body_schema.get("required", []), *body_schema["properties"]]
    return names[0]


def _row_counts() -> dict[str, int]:
    """Rows of every model (history models included) of the apps an API write can touch."""
    return {
        model._meta.label: model._base_manager.count()
        for label in TRACKED_APPS
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture
def world(engineer, compliance, registered_model):
    """One of every object a write endpoint's path can name."""
    records = one_of_each(model=registered_model, engineer=engineer, compliance=compliance)
    params = records.path_parameters()
    return {
        "name": params["name"],
        "version": params["version"],
        "promotion_id": params["promotion_id"],
        "action_id": params["action_id"],
        "sha256": params["sha256"],
        "token_id": token_issue(user=engineer, name="walked", issued_by=engineer, via="tests").token.pk,
        "references": {collection: params[collection] for collection in ("risks", "controls", "incidents")},
        "personas": {Role.ENGINEER: engineer, Role.COMPLIANCE: compliance},
    }


class _PathObjects(dict):
    def __missing__(self, key):
        pytest.fail(f"No object for {{{key}}}: give the world fixture one, so the new endpoint is walked too.")


def _url(path: str, world: dict) -> str:
    collection = path.split("/")[3]  # /api/v1/<collection>/...
    objects = {k: v for k, v in world.items() if k not in ("references", "personas")}
    if collection in world["references"]:
        objects["reference"] = world["references"][collection]
    return path.format_map(_PathObjects(objects))


def _client(method: str, url: str, world: dict):
    """A client whose role may make this call: hostile input must fail on its content, not on a 403."""
    allowed = resolve(url).func.view_class.roles[method.upper()]
    role = next(role for role in (Role.ENGINEER, Role.COMPLIANCE) if role in allowed)
    return client_for(world["personas"][role])


def _hostile_json(field: str) -> dict[str, tuple[str, int]]:
    """name -> (raw JSON body, expected status)."""
    deep = "[" * 1000 + "]" * 1000
    return {
        "nul": (f'{{"{field}": "a\\u0000b"}}', 400),
        "nul_in_a_list": (f'{{"{field}": ["a\\u0000b"]}}', 400),
        "lone_surrogate": (f'{{"{field}": "a\\ud800b"}}', 400),
        "huge_integer": (f'{{"{field}": 1{"0" * 400}}}', 400),
        "huge_float": (f'{{"{field}": 1e400}}', 400),
        "nan": (f'{{"{field}": NaN}}', 400),
        "infinity": (f'{{"{field}": -Infinity}}', 400),
        "deep": (f'{{"{field}": {deep}}}', 400),
        "just_too_deep": (f'{{"{field}": {"[" * MAX_JSON_DEPTH}{"]" * MAX_JSON_DEPTH}}}', 400),
        "over_the_body_limit": (f'{{"{field}": "{"x" * 5000}"}}', 413),
    }


def _assert_refused(response, status: int, label: str, field: str | None = None) -> None:
    assert response.status_code == status, f"{label}: {response.status_code} {response.content[:300]!r}"
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}, label
    if field is not None:
        assert any(name == field or name.startswith(f"{field}.") for name in error["fields"]), (label, error)


OPERATIONS = _operations()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_it_refuses_every_hostile_input_and_writes_nothing(world, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 2048
    settings.TRAINING_FILE_MAX_UPLOAD_BYTES = 2048
    settings.DATASET_MAX_BYTES = 2048
    settings.SBS_MAX_UPLOAD_BYTES = 2048
    schema = _schema()
    operation = schema["paths"][path][method]
    url = _url(path, world)
    client = _client(method, url, world)
    send = getattr(client, method)
    before = _row_counts()

    if "application/json" in operation["requestBody"]["content"]:
        field = _a_field(_request_schema(schema, operation, "application/json"))
        for label, (body, status) in _hostile_json(field).items():
            response = send(url, body, content_type="application/json")
            _assert_refused(response, status, label, field if status == 400 and "deep" not in label else None)
    else:
        # A multipart-only upload (a dataset: streamed to disk, never a JSON body).
        form = _request_schema(schema, operation, "multipart/form-data")["properties"]
        field = next(name for name, spec in form.items() if spec.get("type") == "string" and "format" not in spec)
        _assert_refused(send(url, '{"kind": "training"}', content_type="application/json"), 415, "JSON body")

    _assert_refused(send(url, "version: v1", content_type="text/plain"), 415, "text/plain")
    _assert_refused(send(url, "a=1", content_type="application/x-www-form-urlencoded"), 415, "form")

    nul_path = url.rstrip("/") + "%00/"
    _assert_refused(send(nul_path, {field: "x"}, format="json"), 400, "NUL in the path", "path")
    _assert_refused(send(url + "?q=%00", {field: "x"}, format="json"), 400, "NUL in the query", "q")

    if "multipart/form-data" in operation["requestBody"]["content"]:
        form = _request_schema(schema, operation, "multipart/form-data")["properties"]
        text = next(name for name, spec in form.items() if spec.get("type") == "string" and "format" not in spec)
        response = send(url, {text: "a\x00b"}, format="multipart")
        _assert_refused(response, 400, "NUL in a form field", text)
        for name in (name for name, spec in form.items() if spec.get("format") == "binary"):
            upload = SimpleUploadedFile("big.bin", b"x" * 4096)
            _assert_refused(send(url, {name: upload}, format="multipart"), 413, f"{name} over its limit", name)
        _assert_refused(send(url, {text: "x" * 5000}, format="multipart"), 413, "form fields over the body limit")

    assert _row_counts() == before
