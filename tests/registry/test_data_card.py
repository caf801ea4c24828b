"""A version's data card: each dataset it names, as the datasets app checked it (API, admin, model card).

`checked` and `with_clean_data` are the shared way to give a version checked data: other tests
(releases, gates, launches) import them, as they import `evaluated`.
"""

from __future__ import annotations

from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datasets.models import CheckStatus, Dataset, DatasetCheck, DatasetKind
from datasets.services import dataset_override_create
from registry import services
from registry.models import ModelVersion
from tests.conftest import evaluation_payload, version_payload

HISTOGRAM = [[256, 40], [512, 70], [1024, 8], [2048, 2]]


def report(*, examples: int = 120, blocking: list[dict] = (), leaked: tuple[int, int] = (0, 0)) -> dict:
    """A check report shaped as datasets.checks.check_file() returns it; clean unless told otherwise."""
    findings = [{"severity": "blocking", "excerpt": "…", "detail": "", **f} for f in blocking]
    return {
        "examples": examples,
        "findings": findings,
        # Counted by finding code, as the engine counts them.
        "counts": dict(Counter(f["code"] for f in findings)),
        "blocking": len(findings),
        "warnings": 0,
        "tokens": {
            "min": 41,
            "p50": 310,
            "p95": 980,
            "max": 1900,
            "total": 48_200,
            "assistant_total": 17_400,
            "histogram": HISTOGRAM,
            "over_context": 0,
        },
        "cost": {"epochs": 3, "billed_tokens": 144_600, "usd": 0.72, "price": None},
        "leakage": {"exact": leaked[0], "near": leaked[1], "items": []},
    }


def checked(sha256: str, user, *, kind=DatasetKind.TRAINING, goldens=(), **report_args) -> Dataset:
    """A dataset with a finished check (compared against `goldens`), as the check task leaves it."""
    found = report(**report_args)
    dataset = Dataset.objects.create(
        sha256=sha256,
        kind=kind,
        base_model="gpt-4.1-nano-2025-04-14",
        size_bytes=4096,
        uploaded_by=user,
        report=found,
        blocking=found["blocking"],
        warnings=found["warnings"],
        checked_at=timezone.now(),
        policy_version=0,
    )
    DatasetCheck.objects.create(
        dataset=dataset,
        status=CheckStatus.DONE,
        progress=100,
        goldens=sorted(goldens),
        requested_by=user,
        finished_at=dataset.checked_at,
    )
    return dataset


def with_clean_data(version: ModelVersion, user) -> ModelVersion:
    """Record a clean check of each file the version names, compared against every golden set its evaluations cite."""
    goldens = set(version.evaluations.values_list("golden_set_sha256", flat=True))
    checked(version.training_file_sha256, user, goldens=goldens)
    if version.validation_file_sha256:
        checked(version.validation_file_sha256, user, kind=DatasetKind.VALIDATION, goldens=goldens)
    return version


def register(model, engineer, **overrides) -> ModelVersion:
    return services.version_register(
        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload(**overrides)
    )


def version_url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/"


def test_a_version_with_checked_data_shows_its_data_card(api, engineer, registered_model):
    version = register(registered_model, engineer)
    checked(version.training_file_sha256, engineer, examples=120)

    card = api(engineer).get(version_url(version)).json()["data_card"]

    training = card["training"]
    assert card["validation"] is None  # its validation file was never checked
    assert training["sha256"] == version.training_file_sha256
    assert training["examples"] == 120
    assert training["tokens"] == {
        "min": 41,
        "p50": 310,
        "p95": 980,
        "max": 1900,
        "total": 48_200,
        "assistant_total": 17_400,
        "over_context": 0,
    }
    assert training["cost"]["billed_tokens"] == 144_600
    assert (training["blocking"], training["warnings"], training["overridden"]) == (0, 0, False)
    assert training["leakage"] == {"exact": 0, "near": 0, "goldens": []}
    assert training["checked_at"]


def test_a_version_whose_data_was_never_checked_has_no_data_card(api, engineer, registered_model):
    version = register(registered_model, engineer)

    assert api(engineer).get(version_url(version)).json()["data_card"] is None


def test_registration_answers_with_the_data_card_of_data_checked_before(api, engineer, registered_model):
    payload = version_payload()
    checked(payload["training_file_sha256"], engineer)
    checked(payload["validation_file_sha256"], engineer, kind=DatasetKind.VALIDATION, examples=30)

    response = api(engineer).post(f"/api/v1/models/{registered_model.name}/versions/", payload, format="json")

    assert response.status_code == 201, response.content
    card = response.json()["data_card"]
    assert (card["training"]["examples"], card["validation"]["examples"]) == (120, 30)


def test_an_override_shows_on_the_data_card_with_who_and_why(api, engineer, compliance, registered_model):
    version = register(registered_model, engineer)
    dataset = checked(version.training_file_sha256, engineer, blocking=[{"code": "pii_card", "line": 7}])
    dataset_override_create(dataset=dataset, justification="Test cards from the PSP sandbox", actor=compliance)

    training = api(engineer).get(version_url(version)).json()["data_card"]["training"]

    assert (training["blocking"], training["overridden"]) == (1, True)
    assert training["override"]["justification"] == "Test cards from the PSP sandbox"
    assert training["override"]["by"] == compliance.username


def test_an_override_of_an_earlier_report_does_not_carry_over(api, engineer, compliance, registered_model):
    version = register(registered_model, engineer)
    dataset = checked(version.training_file_sha256, engineer, blocking=[{"code": "pii_card", "line": 7}])
    dataset_override_create(dataset=dataset, justification="Sandbox cards", actor=compliance)
    dataset.checked_at = timezone.now() + timezone.timedelta(minutes=1)  # checked again since
    dataset.save()

    training = api(engineer).get(version_url(version)).json()["data_card"]["training"]

    assert (training["overridden"], training["override"]) == (False, None)


def test_the_version_list_reads_every_data_card_in_one_query(api, engineer, registered_model):
    def list_queries() -> int:
        client = api(engineer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/models/{registered_model.name}/versions/")
        assert response.status_code == 200
        return len(queries)

    first = register(registered_model, engineer)
    checked(first.training_file_sha256, engineer)
    one = list_queries()
    for _ in range(3):
        checked(register(registered_model, engineer).training_file_sha256, engineer)
    listed = api(engineer).get(f"/api/v1/models/{registered_model.name}/versions/").json()["results"]

    assert list_queries() == one
    assert all(v["data_card"]["training"]["examples"] == 120 for v in listed)
