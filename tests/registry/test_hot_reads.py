"""The hot reads (a version, a model's versions, a search) answer what the ORM's instances do, byte for byte.

The GET of a version reads rows through SQL compiled once (selectors.version_detail); the
other views that render a version pass instances (selectors.version_get). Both must render
the same bytes, whatever the version carries: evaluations typed and from a run, a data card,
a checkpoint, an evidence hold.
"""

from __future__ import annotations

import json
from unittest.mock import patch

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from lifecycle.selectors import Runway
from registry.api.serializers import VersionDetailSerializer, VersionOutputSerializer
from registry.models import Checkpoint, JobStatus, ModelVersion, RegisteredModel
from registry.selectors import lifecycle_block, model_get, version_get
from tests.conftest import sha
from tests.registry.test_data_card import checked
from tests.registry.test_evaluation_evidence import with_run


def rendered(data) -> bytes:
    return JSONRenderer().render(data)


def as_the_instance_renders(version: ModelVersion) -> bytes:
    found = version_get(model_name=version.model.name, version=version.version)
    return rendered(VersionDetailSerializer(found).data)


def in_order(body) -> str:
    return json.dumps(body)  # keys in their order: a dict compares equal whatever the order


def test_a_plain_version_reads_as_its_instance_renders(api, executive, registered_version):
    response = api(executive).get(
        f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/"
    )

    assert response.status_code == 200
    assert in_order(response.json()) == in_order(json.loads(as_the_instance_renders(registered_version)))


def test_a_version_with_everything_reads_as_its_instance_renders(api, executive, engineer, registered_version):
    with_run(registered_version, engineer)
    checked(registered_version.training_file_sha256, engineer, goldens=[sha("golden")])
    ModelVersion.objects.filter(pk=registered_version.pk).update(
        job_status=JobStatus.SUCCEEDED, evidence_hold="Incident 7: frozen."
    )
    for step in (10, 20):
        Checkpoint.objects.create(
            version=registered_version,
            provider_checkpoint_id=f"ftckpt-{step}",
            step_number=step,
            metrics={"train_loss": 0.5 / step},
            created_at=timezone.now(),
        )
    client = api(executive)

    body = client.get(f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/").json()

    assert in_order(body) == in_order(json.loads(as_the_instance_renders(registered_version)))
    assert body["latest_checkpoint"]["id"] == "ftckpt-20"
    assert body["evidence_hold"] == "Incident 7: frozen."
    assert body["data_card"]["training"]["leakage"]["goldens"] == [sha("golden")]
    assert [e["supported_by"] for e in body["evaluations"]] == ["verdicts", "typed"]
    # The list and the search show the same version as the instance does, bar the detail's two fields.
    listed = client.get(f"/api/v1/models/{registered_version.model.name}/versions/").json()["results"][0]
    searched = client.get("/api/v1/versions/", {"win_rate__gte": "0"}).json()["results"][0]
    fields = rendered(
        VersionOutputSerializer(
            version_get(model_name=registered_version.model.name, version=registered_version.version)
        ).data
    )
    assert in_order(listed) == in_order(searched) == in_order(json.loads(fields))


def test_an_unknown_version_or_model_is_not_found(api, executive, registered_version):
    client = api(executive)

    assert client.get(f"/api/v1/models/{registered_version.model.name}/versions/v9/").status_code == 404
    assert client.get("/api/v1/models/nobody/versions/{registered_version.version}/").status_code == 404
    assert client.get("/api/v1/models/nobody/versions/").status_code == 404
    assert client.get("/api/v1/models/Bad%20Name/versions/").status_code == 404


def test_reads_run_the_same_queries_again_without_compiling(api, executive, registered_version):
    client = api(executive)
    url = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/"
    client.get(url)

    with CaptureQueriesContext(connection) as first:
        client.get(url)
    with CaptureQueriesContext(connection) as again:
        client.get(url)

    assert [q["sql"] for q in first.captured_queries] == [q["sql"] for q in again.captured_queries]


def test_the_lifecycle_block_is_the_runway_as_a_client_reads_it():
    for found in (
        Runway("openai", "ft:x", "gpt-4o-mini", "deprecated", timezone.now().date(), 12, "gpt-4.1-mini", "provider"),
        Runway("openai", "gpt-x", "gpt-x", "unknown", None, None, "", ""),
    ):
        data = found.as_dict()
        assert in_order(lifecycle_block(found)) == in_order(
            {key: data[key] for key in ("base_model", "state", "shutdown_date", "days_left", "replacement", "source")}
        )


def test_a_model_read_for_a_write_is_the_instance_the_orm_loads(registered_model):
    model_get(name=registered_model.name, with_people=False)  # compiled once
    with CaptureQueriesContext(connection) as queries:
        found = model_get(name=registered_model.name, with_people=False)

    assert len(queries.captured_queries) == 1
    loaded = RegisteredModel.objects.get(pk=registered_model.pk)
    fields = [field.attname for field in RegisteredModel._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(loaded, name) for name in fields]
    assert found._state.adding is False and found._state.db == "default"


def test_the_registrations_catalogue_read_resolves_as_the_orm_does(db):
    from datetime import date

    from lifecycle.models import ProviderModel
    from lifecycle.selectors import Lookup, runways
    from registry.runway import _base_runway

    entries = [
        ("gpt-3.5-turbo-0125", {"shutdown_date": date(2026, 10, 23), "replacement": "gpt-4.1-mini-2025-04-14"}),
        ("gpt-4.1-mini-2025-04-14", {"shutdown_date": date(2027, 1, 14), "training_retires_on": date(2027, 1, 6)}),
        ("gpt-4o-mini-2024-07-18", {}),
    ]
    for model_id, dates in entries:
        ProviderModel.objects.create(provider="openai", model_id=model_id, kind="base", **dates)
    lookups = [Lookup("openai", model_id) for model_id, _ in entries]
    lookups += [Lookup("openai", "no-such-model"), Lookup("azure", "gpt-3.5-turbo-0125")]
    for on in (date(2026, 1, 1), date(2027, 6, 1)):
        expected = runways(lookups, on=on)
        for lookup in lookups:
            assert _base_runway(lookup.provider, lookup.base_model, on) == expected[lookup], lookup


def test_a_versions_runway_reads_as_the_catalogue_resolves_it(api, executive, registered_version):
    """The detail reads the version's catalogue entries by its name; `runways` reads them by its models."""
    from datetime import date

    from lifecycle.models import ProviderModel

    version, model = registered_version, registered_version.model
    url = f"/api/v1/models/{model.name}/versions/{version.version}/"
    client = api(executive)
    other = "azure" if version.provider == "openai" else "openai"
    fine_tuned = f"ft:{version.base_model}:acme::abc123"

    def read_as_the_instance() -> dict:
        body = client.get(url).json()
        assert in_order(body) == in_order(json.loads(as_the_instance_renders(version)))
        return body["lifecycle"]

    assert read_as_the_instance()["state"] == "unknown"  # nothing in the catalogue
    # The same ids under another provider are not this version's.
    ProviderModel.objects.create(
        provider=other, model_id=version.base_model, kind="base", shutdown_date=date(2027, 1, 1)
    )
    assert read_as_the_instance()["state"] == "unknown"
    ProviderModel.objects.create(
        provider=version.provider,
        model_id=version.base_model,
        kind="base",
        shutdown_date=date(2027, 1, 14),
        training_retires_on=date(2027, 1, 6),
        replacement="gpt-4.1-mini-2025-04-14",
    )
    assert read_as_the_instance()["shutdown_date"] == "2027-01-14"
    ModelVersion.objects.filter(pk=version.pk).update(fine_tuned_model=fine_tuned)
    version.refresh_from_db()
    read_as_the_instance()  # a fine-tuned model not listed: its base's dates
    entry = ProviderModel.objects.create(provider=version.provider, model_id=fine_tuned, kind="fine_tuned")
    read_as_the_instance()  # listed without a date: still its base's
    entry.shutdown_date = date(2026, 12, 24)
    entry.save()
    assert read_as_the_instance()["shutdown_date"] == "2026-12-24"  # its own date


def test_a_page_renders_its_dates_in_the_current_time_zone_read_once(api, executive, engineer, registered_version):
    """A page's rows share one serializer, which reads the zone once (an asgiref Local: about 20 us a read)."""
    from registry.services import version_register
    from tests.conftest import evaluation_payload, version_payload

    for _ in range(3):
        version_register(
            model=registered_version.model,
            actor=engineer,
            evaluations=[evaluation_payload()],
            **version_payload(),
        )
    name = registered_version.model.name
    page = [
        version_get(model_name=name, version=label)
        for label in ModelVersion.objects.filter(model=registered_version.model).values_list("version", flat=True)
    ]
    read = timezone.get_current_timezone
    reads = []

    def counted():
        reads.append(1)
        return read()

    with timezone.override("Asia/Kolkata"), patch.object(timezone, "get_current_timezone", counted):
        shown = VersionOutputSerializer(page, many=True).data
    with timezone.override("Asia/Kolkata"):
        each = [VersionOutputSerializer(version).data for version in page]
    listed = api(executive).get(f"/api/v1/models/{name}/versions/")

    assert len(reads) == 1
    assert rendered(shown) == rendered(each)
    for version in shown:
        assert version["created_at"].endswith("+05:30")
        assert all(e["ran_at"].endswith("+05:30") for e in version["evaluations"])
    # The next response renders in the zone it runs in (the default here: UTC), not in one read before.
    assert listed.json()["results"][0]["created_at"].endswith("Z")


def test_a_get_reads_the_version_and_its_evaluations_in_one_statement(api, executive, engineer, registered_version):
    with_run(registered_version, engineer)
    client = api(executive)
    url = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/"
    client.get(url)  # the token's first use is recorded, and the catalogue copied: not costs of a get

    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()

    # The auth epoch (core.auth_cache), then the version joined with its evaluations, newest first.
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]
    assert [e["supported_by"] for e in body["evaluations"]] == ["verdicts", "typed"]


def test_dates_render_as_drfs_datetime_field_renders_them():
    # _datetime skips the conversion for a UTC value shown in UTC; every other case converts as DRF does.
    import datetime
    import zoneinfo

    from rest_framework.fields import DateTimeField

    from registry.selectors import _datetime

    paris, kolkata = zoneinfo.ZoneInfo("Europe/Paris"), zoneinfo.ZoneInfo("Asia/Kolkata")
    values = [
        datetime.datetime(2026, 12, 1, 9, 48, 12, 345678, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 1, 9, 48, 12, tzinfo=datetime.UTC),  # no microseconds: none written
        datetime.datetime(2027, 1, 14, 0, 0, tzinfo=zoneinfo.ZoneInfo("UTC")),
        datetime.datetime(2026, 3, 29, 2, 30, 0, 250000, tzinfo=paris),
        datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
    ]
    for zone in (datetime.UTC, zoneinfo.ZoneInfo("UTC"), paris, kolkata):
        with timezone.override(zone):
            field = DateTimeField()
            for value in values:
                assert _datetime(value, zone) == field.to_representation(value), (zone, value)
                assert _datetime(value) == field.to_representation(value), (zone, value)
    assert _datetime(None) is None


def test_timestamps_read_as_text_render_as_their_datetimes_do():
    # On PostgreSQL the hot reads get timestamps as the text PostgreSQL writes (core.sqlcache, timestamps_as_text).
    import datetime
    import zoneinfo

    from rest_framework.fields import DateTimeField

    from registry.selectors import _datetime

    texts = [
        "2026-12-01 09:48:49.863825+00",
        "2026-12-01 09:48:49.5+00",  # PostgreSQL leaves off trailing zeros
        "2026-12-01 09:48:49.000001+00",
        "2026-12-01 09:48:49.12+00",
        "2026-12-01 09:48:49+00",  # no fraction: none written
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
        "2026-03-29 02:30:00.25+02",  # a session in another zone
        "1901-01-01 00:00:00+00:09:21",
    ]
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    for zone in (datetime.UTC, zoneinfo.ZoneInfo("UTC"), paris):
        with timezone.override(zone):
            field = DateTimeField()
            for text in texts:
                value = datetime.datetime.fromisoformat(text)
                if zone is paris and value.year in (1, 9999):
                    continue  # Paris is past datetime's range there; DRF and we both raise
                assert _datetime(text, zone) == field.to_representation(value), (zone, text)
