"""The runway in the admin: live deployments soonest first, the migration page, and the runway on model pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import mark_change
from lifecycle.selectors import today
from lifecycle.services import catalogue_sync
from registry import releases, services
from registry.models import ModelVersion, VersionStatus
from tests.conftest import evaluation_payload, model_payload, version_payload
from tests.registry.test_data_card import with_clean_data

pytestmark = pytest.mark.django_db

RUNWAY = "/admin/registry/deployment/runway/"
MIGRATION = "/admin/registry/deployment/migration/"
SOON_BASE = "gpt-4o-mini-2024-07-18"  # shuts down in 5 days (set below)
LATER_BASE = "gpt-4.1-mini-2025-04-14"  # in 60 days
ACTIVE_BASE = "gpt-4.1-nano-2025-04-14"  # no date announced


@pytest.fixture
def admin_client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def evaluated(model, engineer, label: str, *, base_model: str = "", baseline: str = "", **metrics) -> ModelVersion:
    """A version whose job finished, with an evaluation (passing the default gate unless metrics say otherwise)."""
    evaluation = evaluation_payload(baseline_version=baseline or model.base_model)
    evaluation["metrics"] = {**evaluation["metrics"], **metrics}
    version = services.version_register(
        model=model, actor=engineer, evaluations=[evaluation], base_model=base_model, **version_payload(version=label)
    )
    version.status = VersionStatus.EVALUATING  # the job sync does this when a job succeeds
    mark_change(version, actor=engineer, reason="test: job succeeded")
    version.save()
    return with_clean_data(version, engineer)


def live(name: str, base_model: str, engineer, compliance, *, canary: bool = False) -> ModelVersion:
    """A model on `base_model` whose v1 serves production (and, with canary, v2 a canary)."""
    model = services.model_create(actor=engineer, **model_payload(name=name, base_model=base_model))
    production = evaluated(model, engineer, "v1")
    _promote(production, engineer, compliance, "production")
    if canary:
        _promote(evaluated(model, engineer, "v2", baseline="v1"), engineer, compliance, "canary", traffic=10)
    return production


def _promote(version, engineer, compliance, target, traffic=None) -> None:
    promotion = releases.promotion_request(
        version=version, actor=engineer, target=target, traffic_percent=traffic, justification="Beats baseline"
    )
    releases.promotion_approve(promotion=promotion, actor=compliance, reason="Gate passed")


def announce(fake_openai, soon_days: int = 5, later_days: int = 60) -> None:
    fake_openai.model_set(SOON_BASE, (today() + timedelta(days=soon_days)).isoformat())
    fake_openai.model_set(LATER_BASE, (today() + timedelta(days=later_days)).isoformat())
    catalogue_sync()


@pytest.fixture
def fleet(fake_openai, engineer, compliance):
    """Three live models: one shutting down in 5 days, one in 60 (production and canary), one with no date."""
    versions = {
        "later": live("later-bot", LATER_BASE, engineer, compliance, canary=True),
        "none": live("steady-bot", ACTIVE_BASE, engineer, compliance),
        "soon": live("soon-bot", SOON_BASE, engineer, compliance),
    }
    announce(fake_openai)
    return versions


def rows_of(html: str) -> list[str]:
    body = html[html.index('<table class="fp-list" id="runway">') :]
    body = body[: body.index("</table>")]
    return [chunk.split("</tr>")[0] for chunk in body.split('<tr class="fp-row')[1:]]


def plans_of(html: str) -> dict[tuple[str, str], str]:
    """Each plan on the migration page by (model, environment)."""
    plans = {}
    for chunk in html.split('<div class="module fp-plan"')[1:]:
        heading = chunk[chunk.index("<h2>") : chunk.index("</h2>")]
        name = heading.split("</a>")[0].rsplit(">", 1)[1]
        environment = heading.split("· ")[1].split()[0]
        plans[name, environment] = chunk
    return plans


def test_it_lists_every_live_deployment_soonest_first_with_days_left_in_words_and_colour(admin_client, fleet):
    response = admin_client.get(RUNWAY)

    assert response.status_code == 200
    rows = rows_of(response.content.decode())
    assert [r.split("</a>")[0].rsplit(">", 1)[1] for r in rows] == ["soon-bot", "later-bot", "later-bot", "steady-bot"]
    soon, *later, steady = rows
    assert "fp-week" in soon and "5 days left · within 7 days" in soon
    assert SOON_BASE in soon and "Plan the move" in soon
    assert all("fp-quarter" in r and "60 days left · within 90 days" in r for r in later)
    assert {"Production", "Canary (10%)"} == {r.split("<td>")[2].split("</td>")[0] for r in later}
    assert "fp-none" in steady and "No date announced" in steady and "Plan the move" not in steady


def test_a_shut_down_base_reads_shut_down(admin_client, fake_openai, engineer, compliance):
    live("soon-bot", SOON_BASE, engineer, compliance)
    announce(fake_openai, soon_days=-3)

    rows = rows_of(admin_client.get(RUNWAY).content.decode())

    assert "fp-shutdown" in rows[0] and "Shut down 3 days ago" in rows[0]


def test_the_within_days_filter_leaves_out_later_and_undated_deployments(admin_client, fleet):
    html = admin_client.get(f"{RUNWAY}?within_days=30&provider=openai").content.decode()

    rows = rows_of(html)
    assert len(rows) == 1 and "soon-bot" in rows[0]
    assert "later-bot" not in html and "steady-bot" not in html


def test_a_bad_filter_is_named_and_not_applied(admin_client, fleet):
    html = admin_client.get(f"{RUNWAY}?within_days=soon").content.decode()

    assert "The filter was not applied" in html
    assert len(rows_of(html)) == 4


def test_the_runway_page_reads_a_fixed_number_of_queries(admin_client, fake_openai, engineer, compliance):
    live("soon-bot", SOON_BASE, engineer, compliance)
    announce(fake_openai)
    admin_client.get(RUNWAY)  # warm up: the session, the user, content types
    with CaptureQueriesContext(connection) as one:
        admin_client.get(RUNWAY)
    live("later-bot", LATER_BASE, engineer, compliance, canary=True)
    live("steady-bot", ACTIVE_BASE, engineer, compliance)

    with CaptureQueriesContext(connection) as several:
        response = admin_client.get(RUNWAY)

    assert len(rows_of(response.content.decode())) == 4
    assert len(several) == len(one)


def test_the_migration_page_says_ready_or_not_rule_by_rule(admin_client, fleet, engineer):
    soon_model, later_model = fleet["soon"].model, fleet["later"].model
    ready = evaluated(soon_model, engineer, "v2-nano", base_model=ACTIVE_BASE, baseline="v1")
    failing = evaluated(later_model, engineer, "v3-nano", base_model=ACTIVE_BASE, baseline="v1", win_rate=0.3)

    response = admin_client.get(MIGRATION)

    html = response.content.decode()
    assert response.status_code == 200
    plans = plans_of(html)
    assert list(plans) == [
        ("soon-bot", "Production"),
        ("later-bot", "Canary"),
        ("later-bot", "Production"),
    ]  # soonest first; then by environment
    soon_plan, later_plan = plans["soon-bot", "Production"], plans["later-bot", "Production"]
    assert "Ready to move: v2-nano passes the gate on an active base model. Promote before" in soon_plan
    assert f"/admin/registry/modelversion/{ready.pk}/change/" in soon_plan
    assert (today() + timedelta(days=5)).isoformat() in soon_plan and "5 days left" in soon_plan
    assert "Not ready: no candidate passes the gate yet" in later_plan
    assert f"/admin/registry/modelversion/{failing.pk}/change/" in later_plan
    assert "win_rate &gt;= 0.55" in later_plan and ">Fail<" in later_plan and ">Pass<" in later_plan
    assert "steady-bot" not in html  # no shutdown announced: nothing to migrate
    assert "1 of 3" in html  # later-bot's canary has no other candidate either


def test_the_migration_page_names_a_missing_measurement_and_filters_by_model(admin_client, fleet, engineer):
    later_model = fleet["later"].model
    evaluated(later_model, engineer, "v3-nano", base_model=ACTIVE_BASE)  # win rate against the base, not v1

    html = admin_client.get(f"{MIGRATION}?model=later-bot").content.decode()

    assert ">Missing<" in html and "against the production version v1" in html
    assert list(plans_of(html)) == [("later-bot", "Canary"), ("later-bot", "Production")]


def test_the_migration_page_says_when_no_version_is_on_an_active_base(admin_client, fleet):
    html = admin_client.get(f"{MIGRATION}?model=soon-bot").content.decode()

    assert "Not ready: no version of soon-bot on an active base model yet" in html


def test_the_version_page_shows_its_base_model_and_runway_read_only(admin_client, fleet):
    version = fleet["soon"]

    html = admin_client.get(f"/admin/registry/modelversion/{version.pk}/change/").content.decode()

    assert 'name="base_model"' not in html
    field = html[html.index("field-base_model") :]
    assert f'<div class="readonly">{SOON_BASE}</div>' in field[: field.index("</fieldset>")]
    runway = html[html.index('class="fp-runway"') :]
    runway = runway[: runway.index("</table>")]
    assert "Deprecated" in runway
    assert (today() + timedelta(days=5)).isoformat() in runway and "(source: provider)" in runway
    assert "5 days left · within 7 days" in runway


def test_the_model_page_shows_the_runway_of_its_base(admin_client, fleet):
    model = fleet["none"].model

    html = admin_client.get(f"/admin/registry/registeredmodel/{model.pk}/change/").content.decode()

    runway = html[html.index('class="fp-runway"') :]
    assert "Active" in runway[: runway.index("</table>")]
    assert "No date announced" in runway[: runway.index("</table>")]


def test_a_base_the_catalogue_does_not_know_says_so(admin_client, registered_model):
    html = admin_client.get(f"/admin/registry/registeredmodel/{registered_model.pk}/change/").content.decode()

    assert "is not in the provider catalogue yet" in html


def test_the_pages_are_linked_from_the_lifecycle_and_registry_indexes(admin_client):
    for index in ("/admin/lifecycle/", "/admin/registry/"):
        html = admin_client.get(index).content.decode()
        assert f'href="{RUNWAY}"' in html and f'href="{MIGRATION}"' in html


def test_readers_without_a_role_are_kept_out(db):
    from tests.conftest import make_user

    client = Client()
    client.force_login(make_user("stan-staff-no-role", is_staff=True))

    assert client.get(RUNWAY).status_code == 403
    assert client.get(MIGRATION).status_code == 403


def test_the_bands_follow_the_configured_warning_window(admin_client, fleet, settings):
    settings.LIFECYCLE_WARN_DAYS = 45

    rows = rows_of(admin_client.get(RUNWAY).content.decode())

    assert "fp-later" in rows[1] and "60 days left · more than 45 days" in rows[1]


def test_the_model_page_shows_what_serves_running_out_even_when_new_versions_train_elsewhere(
    admin_client, fleet, engineer
):
    model = fleet["soon"].model
    services.model_update(
        model=model, actor=engineer, data={"base_model": ACTIVE_BASE}, reason="Next versions train on the active base"
    )

    html = admin_client.get(f"/admin/registry/registeredmodel/{model.pk}/change/").content.decode()

    serving = html[html.index("Runway of what serves") : html.index("Runway of new versions")]
    assert f"Production {fleet['soon'].version}" in serving and SOON_BASE in serving
    assert "5 days left · within 7 days" in serving
    new_versions = html[html.index("Runway of new versions") :]
    assert "No date announced" in new_versions[: new_versions.index("</table>")]
