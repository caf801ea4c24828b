"""Every endpoint x method x role, plus anonymous: who may do what."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry import services
from sbs import services as sbs_services
from tests.conftest import client_for, evaluation_payload, model_payload, version_payload
from tests.sbs.helpers import golden_jsonl, golden_version

ROLES = ["anonymous", "outsider", "engineer", "compliance", "executive"]
READ = {"anonymous": 401, "outsider": 403, "engineer": 200, "compliance": 200, "executive": 200}


def _write(engineer_status: int, compliance_status: int = 403) -> dict:
    return {
        "anonymous": 401,
        "outsider": 403,
        "engineer": engineer_status,
        "compliance": compliance_status,
        "executive": 403,
    }


# (method, path, body factory, expected status per role)
MATRIX = [
    ("get", "/api/v1/models/", None, READ),
    ("post", "/api/v1/models/", model_payload, _write(201)),
    ("get", "/api/v1/models/{model}/", None, READ),
    ("patch", "/api/v1/models/{model}/", lambda: {"purpose": "Changed."}, _write(200, 200)),
    ("get", "/api/v1/models/{model}/history/", None, READ),
    ("get", "/api/v1/models/{model}/gate-policy/", None, READ),
    (
        "post",
        "/api/v1/models/{model}/gate-policy/",
        lambda: {"rules": [{"metric": "win_rate", "min": 0.5}], "reason": "Gate review"},
        _write(403, 201),
    ),
    ("get", "/api/v1/models/{model}/versions/{version}/gate/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/card/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/promotions/", None, READ),
    ("get", "/api/v1/models/{model}/deployments/", None, READ),
    ("get", "/api/v1/models/{model}/versions/", None, READ),
    ("post", "/api/v1/models/{model}/versions/", version_payload, _write(201)),
    ("get", "/api/v1/models/{model}/versions/{version}/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/history/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/evaluations/", None, READ),
    ("get", "/api/v1/models/{model}/versions/{version}/checkpoints/", None, READ),
    ("post", "/api/v1/models/{model}/versions/{version}/evaluations/", evaluation_payload, _write(201)),
    ("get", "/api/v1/versions/", None, READ),
]
CASES = [(method, path, body, role, expected[role]) for method, path, body, expected in MATRIX for role in ROLES]


# Golden sets and side-by-side runs: (method, path, body factory (world -> (data, format)), status per role).
RUNS = "/api/v1/models/{model}/versions/{version}/sbs-runs/"


def _golden_upload(world) -> tuple[dict, str]:
    return {"file": SimpleUploadedFile("g.jsonl", golden_jsonl([("n-1", ["billing"])]))}, "multipart"


def _run_body(world) -> tuple[dict, str]:
    body = {
        "golden_set_sha256": world["golden"].sha256,
        "baseline": world["baseline"],
        "judge": "human",
        "verdicts": [{"item": "g-1", "outcome": "win"}],
    }
    return body, "json"


EVIDENCE_MATRIX = [
    ("get", "/api/v1/golden-sets/", None, READ),
    ("get", "/api/v1/golden-sets/{golden}/", None, READ),
    ("post", "/api/v1/golden-sets/{golden}/versions/", _golden_upload, _write(201, 201)),
    ("get", "/api/v1/golden-sets/{golden}/versions/1/", None, READ),
    ("get", "/api/v1/golden-sets/{golden}/versions/1/items/", None, READ),
    ("get", RUNS, None, READ),
    ("post", RUNS, _run_body, _write(201, 201)),
    ("get", RUNS + "{run}/", None, READ),
    ("get", RUNS + "{run}/items/?outcome=loss&intent=billing", None, READ),
    ("get", RUNS + "{run}/compare/?with={other}", None, READ),
]
EVIDENCE_CASES = [
    (method, path, body, role, expected[role]) for method, path, body, expected in EVIDENCE_MATRIX for role in ROLES
]


@pytest.fixture
def personas(engineer, compliance, executive, outsider):
    return {
        "anonymous": None,
        "outsider": outsider,
        "engineer": engineer,
        "compliance": compliance,
        "executive": executive,
    }


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_it_allows_exactly_the_roles_that_may(personas, engineer, method, path, body, role, expected):
    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(model=model, actor=engineer, **version_payload())
    client = client_for(personas[role])

    response = getattr(client, method)(
        path.format(model=model.name, version=version.version), body() if body else None, format="json"
    )

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), EVIDENCE_CASES)
def test_it_allows_exactly_the_roles_that_may_on_golden_sets_and_runs(
    personas, engineer, settings, tmp_path, method, path, body, role, expected
):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(model=model, actor=engineer, **version_payload())
    golden = golden_version(engineer, [("g-1", ["billing"]), ("g-2", ["returns"])], name="matrix-golden")
    runs = [
        sbs_services.sbs_run_create(
            version=version,
            actor=engineer,
            golden=golden,
            baseline=model.base_model,
            judge="human",
            verdicts=[{"item": "g-1", "outcome": outcome}],
        )
        for outcome in ("win", "loss")
    ]
    world = {"golden": golden, "baseline": model.base_model}
    url = path.format(
        model=model.name, version=version.version, golden="matrix-golden", run=runs[0].pk, other=runs[1].pk
    )
    client = client_for(personas[role])

    data, form = body(world) if body else (None, "json")
    response = getattr(client, method)(url, data, format=form)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/models/{model}/"),
        ("put", "/api/v1/models/{model}/"),
        ("delete", "/api/v1/models/{model}/versions/{version}/"),
        ("patch", "/api/v1/models/{model}/versions/{version}/"),
        ("post", "/api/v1/versions/"),
        ("delete", "/api/v1/models/{model}/versions/{version}/sbs-runs/1/"),
        ("patch", "/api/v1/models/{model}/versions/{version}/sbs-runs/1/"),
        ("delete", "/api/v1/golden-sets/some-golden/versions/1/"),
        ("put", "/api/v1/golden-sets/some-golden/versions/1/"),
    ],
)
def test_it_offers_no_way_to_delete_or_rewrite(api, engineer, registered_version, method, path):
    client = api(engineer)

    response = getattr(client, method)(
        path.format(model=registered_version.model.name, version=registered_version.version), {}, format="json"
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
