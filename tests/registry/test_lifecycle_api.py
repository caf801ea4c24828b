"""The runway in the API: a `lifecycle` block on every model and version, the live deployments, the migration view."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.audit import mark_change
from core.demo import demo_clock
from lifecycle.selectors import catalogue_forget
from lifecycle.services import catalogue_sync
from registry import releases, services
from registry.models import VersionStatus
from tests.conftest import evaluation_payload, model_payload, version_payload
from tests.registry.test_data_card import with_clean_data

TODAY = date(2026, 12, 1)
MINI = "gpt-4.1-mini-2025-04-14"  # the fake server: shutdown 2027-01-14
NANO = "gpt-4.1-nano-2025-04-14"  # no shutdown announced
GPT4O = "gpt-4o-2024-08-06"
# Counted by hand from TODAY, not by the code under test.
MINI_DAYS_LEFT = 44  # 30 days left in December + 14 in January
GPT4O_DAYS_LEFT = 10  # 2026-12-11, set on the fake server below


@pytest.fixture
def today():
    with demo_clock(datetime(2026, 12, 1, 9, tzinfo=UTC)) as clock:
        yield clock


@pytest.fixture
def catalogue(fake_openai, today):
    """The catalogue as the provider lists it on TODAY, with gpt-4o shutting down in ten days."""
    fake_openai.model_set(GPT4O, "2026-12-11")
    assert catalogue_sync(on=TODAY).ok
    return fake_openai


def version_on(model, engineer, label: str, *, baseline: str | None = None, **fields):
    evaluation = evaluation_payload(baseline_version=baseline or model.base_model)
    version = services.version_register(
        model=model, actor=engineer, evaluations=[evaluation], **version_payload(version=label, **fields)
    )
    return with_clean_data(version, engineer)


def deploy(version, engineer, compliance, target: str = "production", traffic: int | None = None):
    promotion = releases.promotion_request(
        version=version, actor=engineer, target=target, traffic_percent=traffic, justification="Beats production"
    )
    return releases.promotion_approve(
        promotion=promotion, actor=compliance, reason="Ship it", override_justification="Runway accepted in test"
    )


def block(base_model: str, state: str, shutdown_date: str | None, days_left: int | None, source: str) -> dict:
    return {
        "base_model": base_model,
        "state": state,
        "shutdown_date": shutdown_date,
        "days_left": days_left,
        "replacement": "",
        "source": source,
    }


MINI_BLOCK = block(MINI, "deprecated", "2027-01-14", MINI_DAYS_LEFT, "provider")
NANO_BLOCK = block(NANO, "active", None, None, "provider")


# --- The lifecycle block on models and versions -----------------------------------------------


def test_a_model_shows_the_runway_of_its_base_model(api, executive, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=MINI))

    detail = api(executive).get(f"/api/v1/models/{model.name}/")
    listed = api(executive).get("/api/v1/models/")

    assert detail.status_code == 200
    assert detail.json()["lifecycle"] == MINI_BLOCK
    assert "base_model_retires_on" not in detail.json()
    assert [m["lifecycle"] for m in listed.json()["results"]] == [MINI_BLOCK]


def test_a_version_shows_its_base_model_and_runway_everywhere(api, executive, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=MINI))
    client = api(engineer)

    registered = client.post(f"/api/v1/models/{model.name}/versions/", version_payload(version="v1"), format="json")
    detail = api(executive).get(f"/api/v1/models/{model.name}/versions/v1/")
    listed = api(executive).get(f"/api/v1/models/{model.name}/versions/")
    searched = api(executive).get("/api/v1/versions/", {"base_model": MINI})

    assert registered.status_code == 201, registered.json()
    for body in (registered.json(), detail.json(), listed.json()["results"][0], searched.json()["results"][0]):
        assert body["base_model"] == MINI
        assert body["lifecycle"] == MINI_BLOCK


def test_a_version_runs_on_its_fine_tuned_model_when_the_catalogue_knows_its_date(api, engineer, catalogue):
    fine_tuned = f"ft:{MINI}:fake-org:support:abc123"
    catalogue.model_set(fine_tuned, "2026-12-21", owned_by="fake-org")
    catalogue_sync(on=TODAY)
    model = services.model_create(actor=engineer, **model_payload(base_model=MINI))
    version_on(model, engineer, "v1", fine_tuned_model=fine_tuned)

    body = api(engineer).get(f"/api/v1/models/{model.name}/versions/v1/").json()

    assert body["lifecycle"] == block(MINI, "deprecated", "2026-12-21", 20, "provider")


def test_a_model_the_catalogue_does_not_know_says_so(api, engineer, today):
    model = services.model_create(actor=engineer, **model_payload(base_model="my-own-model"))
    version_on(model, engineer, "v1")

    body = api(engineer).get(f"/api/v1/models/{model.name}/versions/v1/").json()

    assert body["lifecycle"] == block("my-own-model", "unknown", None, None, "")


def test_a_version_registers_on_another_base_model_than_its_models(api, engineer, catalogue):
    model = services.model_create(actor=engineer, **model_payload(base_model=MINI))

    response = api(engineer).post(
        f"/api/v1/models/{model.name}/versions/", version_payload(version="v2", base_model=NANO), format="json"
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["base_model"], response.json()["lifecycle"]) == (NANO, NANO_BLOCK)
    assert model.versions.get().base_model == NANO


@pytest.mark.parametrize(
    ("value", "reason"),
    [("x" * 101, "no more than 100 characters"), (["gpt-4o"], "Not a valid string"), ("gpt\x00", "")],
)
def test_it_refuses_a_malformed_base_model(api, engineer, registered_model, value, reason):
    response = api(engineer).post(
        f"/api/v1/models/{registered_model.name}/versions/", version_payload(base_model=value), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["base_model"]
    assert reason in response.json()["error"]["fields"]["base_model"][0]
    assert not registered_model.versions.exists()


def test_the_retirement_date_can_no_longer_be_typed_in(api, engineer, compliance, registered_model):
    created = api(engineer).post("/api/v1/models/", model_payload(base_model_retires_on="2027-01-14"), format="json")
    changed = api(compliance).patch(
        f"/api/v1/models/{registered_model.name}/", {"base_model_retires_on": "2027-01-14"}, format="json"
    )

    for response in (created, changed):
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"base_model_retires_on": ["Unknown field."]}


@pytest.mark.parametrize("path", ["/api/v1/models/", "/api/v1/versions/", "/api/v1/models/{name}/versions/"])
def test_lists_read_the_catalogue_at_most_once_per_page(api, engineer, catalogue, path):
    model = services.model_create(actor=engineer, **model_payload(base_model=MINI))
    for n in range(6):
        services.model_create(actor=engineer, **model_payload(base_model=(MINI, NANO, GPT4O)[n % 3]))
        version_on(model, engineer, f"v{n}", base_model=(MINI, NANO, GPT4O)[n % 3])
    client = api(engineer)
    url = path.format(name=model.name)
    client.get(url)  # the token's first use is recorded (at most hourly): not a cost of the page

    def catalogue_reads(page_size: int) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        return len(queries), sum('"lifecycle_providermodel"' in q["sql"] for q in queries.captured_queries)

    assert catalogue_reads(1) == catalogue_reads(6)
    # The process's copy of the catalogue is current (lifecycle.selectors.catalogue_cached): no read at all.
    assert catalogue_reads(6)[1] == 0
    # Without one, a page reads the whole catalogue once, whatever the page holds.
    catalogue_forget()
    assert catalogue_reads(6)[1] == 1
    catalogue_forget()
    assert catalogue_reads(1)[1] == 1


# --- GET /api/v1/lifecycle/ -------------------------------------------------------------------------


@pytest.fixture
def fleet(engineer, compliance, catalogue):
    """Three models in production (gpt-4o in 10 days, mini in 44, nano never) and a canary on mini."""
    models = {}
    for name, base in (("nano-bot", NANO), ("mini-bot", MINI), ("omni-bot", GPT4O)):
        models[name] = services.model_create(actor=engineer, **model_payload(name=name, base_model=base))
        deploy(version_on(models[name], engineer, "v1"), engineer, compliance)
    deploy(version_on(models["mini-bot"], engineer, "v2", baseline="v1"), engineer, compliance, "canary", 10)
    return models


def rows(response) -> list[tuple]:
    assert response.status_code == 200, response.json()
    return [
        (r["model"], r["environment"], r["version"], r["lifecycle"]["days_left"]) for r in response.json()["results"]
    ]


def test_it_lists_every_live_deployment_soonest_shutdown_first(api, executive, fleet):
    response = api(executive).get("/api/v1/lifecycle/")

    assert rows(response) == [
        ("omni-bot", "production", "v1", GPT4O_DAYS_LEFT),
        ("mini-bot", "canary", "v2", MINI_DAYS_LEFT),
        ("mini-bot", "production", "v1", MINI_DAYS_LEFT),
        ("nano-bot", "production", "v1", None),
    ]
    body = response.json()
    assert body["on"] == TODAY.isoformat()
    canary = body["results"][1]
    assert (canary["provider"], canary["traffic_percent"]) == ("openai", 10)
    assert canary["lifecycle"] == MINI_BLOCK
    assert canary["started_at"].startswith("2026-12-01T09:")


def test_it_leaves_out_ended_deployments(api, engineer, compliance, fleet):
    deploy(version_on(fleet["omni-bot"], engineer, "v2", baseline="v1"), engineer, compliance)

    assert rows(api(engineer).get("/api/v1/lifecycle/", {"model": "omni-bot"})) == [
        ("omni-bot", "production", "v2", GPT4O_DAYS_LEFT)
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"within_days": "10"}, ["omni-bot"]),  # the boundary is in
        ({"within_days": "9"}, []),
        ({"within_days": "0"}, []),
        ({"within_days": "44"}, ["omni-bot", "mini-bot", "mini-bot"]),
        ({"model": "mini-bot"}, ["mini-bot", "mini-bot"]),
        ({"model": "no-such-model"}, []),
        ({"provider": "openai", "within_days": "30"}, ["omni-bot"]),
    ],
)
def test_it_filters(api, compliance, fleet, params, expected):
    assert [row[0] for row in rows(api(compliance).get("/api/v1/lifecycle/", params))] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"within_days": "-1"}, "within_days"),
        ({"within_days": "soon"}, "within_days"),
        ({"within_days": "1e400"}, "within_days"),
        ({"within_days": "99999999999999999999999"}, "within_days"),
        ({"provider": "acme"}, "provider"),
        ({"model": "x" * 64}, "model"),
        ({"model": "a\x00b"}, "model"),
        ({"days": "3"}, "days"),
        ({"page_size": "3"}, "page_size"),
    ],
)
def test_it_names_a_bad_parameter(api, engineer, fleet, params, field):
    response = api(engineer).get("/api/v1/lifecycle/", params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/v1/lifecycle/", "/api/v1/lifecycle/migrations/"])
def test_every_role_reads_it_and_nobody_else(api, engineer, compliance, executive, outsider, path):
    for user in (engineer, compliance, executive):
        assert api(user).get(path).status_code == 200
    assert api(outsider).get(path).status_code == 403
    assert api(None).get(path).status_code == 401


def test_it_reads_in_a_constant_number_of_queries(api, engineer, compliance, catalogue):
    client = api(engineer)
    first = services.model_create(actor=engineer, **model_payload(base_model=MINI))
    deploy(version_on(first, engineer, "v1"), engineer, compliance)
    client.get("/api/v1/lifecycle/")  # the token's first use is recorded: not a cost of the list

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/lifecycle/")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    one = count()
    for base in (NANO, GPT4O, MINI, NANO):
        model = services.model_create(actor=engineer, **model_payload(base_model=base))
        deploy(version_on(model, engineer, "v1"), engineer, compliance)
        deploy(version_on(model, engineer, "v2", baseline="v1"), engineer, compliance, "canary", 5)
    several = count()

    assert (one[1], several[1]) == (1, 9)
    # the auth epoch (token, user and roles are cached: core.auth_cache) and the live deployments; the
    # catalogue is the process's copy, which the epoch vouches for (lifecycle.selectors.catalogue_cached)
    assert one[0] == several[0] == 2


# --- GET /api/v1/lifecycle/migrations/ ------------------------------------------------------------


def test_it_shows_each_retiring_deployment_with_its_candidates_and_their_gate(api, executive, engineer, fleet):
    mini = fleet["mini-bot"]
    # A candidate on a base with no shutdown; one still on the retiring base is no candidate.
    version_on(mini, engineer, "v3", baseline="v1", base_model=NANO)
    version_on(mini, engineer, "v4", baseline="v1")
    weak = version_on(mini, engineer, "v5", baseline="v1", base_model=NANO)
    weak.status = VersionStatus.EVALUATING
    mark_change(weak, actor=engineer, reason="test: job succeeded")
    weak.save()
    services.evaluation_record(
        version=weak, actor=engineer, **evaluation_payload(baseline_version="v1", metrics={"win_rate": 0.4})
    )

    response = api(executive).get("/api/v1/lifecycle/migrations/", {"model": "mini-bot"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(p["environment"], p["version"], p["deadline"], p["ready"]) for p in body["results"]] == [
        ("canary", "v2", "2027-01-14", True),
        ("production", "v1", "2027-01-14", True),
    ]
    production = body["results"][1]
    assert production["lifecycle"] == MINI_BLOCK
    candidates = {c["version"]: c for c in production["candidates"]}
    assert set(candidates) == {"v3", "v5"}
    assert candidates["v3"]["base_model"] == NANO
    assert candidates["v3"]["lifecycle"] == NANO_BLOCK
    assert candidates["v3"]["gate"]["passed"] is True
    assert candidates["v5"]["gate"]["passed"] is False
    assert {r["rule"]: r["outcome"] for r in candidates["v5"]["gate"]["rules"]}["win_rate >= 0.55"] == "fail"


def test_a_deployment_without_a_shutdown_needs_no_migration(api, engineer, fleet):
    response = api(engineer).get("/api/v1/lifecycle/migrations/")

    assert response.status_code == 200
    assert [(p["model"], p["environment"]) for p in response.json()["results"]] == [
        ("omni-bot", "production"),
        ("mini-bot", "canary"),
        ("mini-bot", "production"),
    ]
    assert response.json()["results"][0]["candidates"] == []
    assert response.json()["results"][0]["ready"] is False


@pytest.mark.parametrize(("params", "field"), [({"model": "y" * 64}, "model"), ({"within_days": "3"}, "within_days")])
def test_the_migration_view_names_a_bad_parameter(api, engineer, params, field):
    response = api(engineer).get("/api/v1/lifecycle/migrations/", params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
