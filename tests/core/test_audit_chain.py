"""The audit chain: every history row is a link, written in order, never changed, under a key that can rotate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.test import Client
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core import auditkit, chain, verifier
from core.audit import Source, audit_source
from core.roles import Role
from datasets.models import PriceRow
from registry import services
from registry.models import ModelVersion, RegisteredModel
from risks import controls, incidents
from risks import services as risk_services
from risks.tasks import metric_checks_evaluate
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload
from tests.core.chain_helpers import history_rows, links, triggers_present
from tests.registry.test_admin import _inline_management
from tests.risks.conftest import risk_payload

OLD_KEY = "tests-only-audit-chain-key-not-a-secret-0123456789"  # config/settings_test.py
NEW_KEY = "a-rotated-audit-chain-key-for-tests-only-9876543210"


def _a_row(model=ModelVersion):
    return model.history.model._base_manager.order_by("chain_seq").first()


def _refused(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        if sql.startswith("TRUNCATE"):
            # The test's own inserts leave deferred FK checks pending, for which PostgreSQL refuses
            # a TRUNCATE before any trigger runs: check them now, so it is the trigger that refuses.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute(sql, params)


# --- Every history table is chained --------------------------------------------------------


def test_every_history_model_is_chained_with_its_columns_in_the_database(db):
    assert chain.history_models_unchained() == []
    tables = connection.introspection.table_names()
    with connection.cursor() as cursor:
        for model in chain.chained_models():
            assert model._meta.db_table in tables
            columns = {c.name for c in connection.introspection.get_table_description(cursor, model._meta.db_table)}
            assert {"chain_seq", "chain_key", "chain_hash"} <= columns, model._meta.db_table
    m2m = [m for m in chain.chained_models() if not hasattr(m, "history_date")]
    assert {m._meta.db_table for m in m2m} >= {"risks_historicalrisk_registered_models", "core_historicaluser_groups"}


def test_links_are_one_to_n_after_writes_of_every_kind(api, engineer, compliance, registered_model):
    response = api(engineer).post(
        f"/api/v1/models/{registered_model.name}/versions/",
        {**version_payload(), "evaluations": [evaluation_payload()]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(model=registered_model, version=response.json()["version"])
    admin = Client()
    admin.force_login(compliance)
    changed = admin.post(
        f"/admin/registry/modelversion/{version.pk}/change/",
        {"changelog": "Corrected wording", "change_reason": "Typo", **_inline_management()},
    )
    assert changed.status_code == 302
    risk = risk_services.risk_create(
        actor=compliance, owner=compliance, registered_models=[registered_model], **risk_payload()
    )
    risk_services.risk_update(risk=risk, actor=compliance, data={"model_versions": [version]})
    risk_services.risk_update(risk=risk, actor=compliance, data={"registered_models": []})
    control = controls.control_create(actor=compliance, name="Refusal rate", description="2-8%.", risks=[risk])
    controls.metric_check_create(
        control=control, actor=compliance, metric="refusal_rate", minimum=0.5, watched_models=[registered_model]
    )
    incident = incidents.incident_report(
        actor=engineer,
        title="Promised a refund",
        version=version,
        occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        aware_at=dt.datetime(2026, 1, 3, tzinfo=dt.UTC),
        description="Outside policy.",
        severity="low",
        risks=[risk],
    )
    incidents.incident_evidence_attach(incident=incident, actor=engineer, evaluation=version.evaluations.first())
    metric_checks_evaluate.apply()
    group = Group.objects.get(name=Role.EXECUTIVE)
    user = make_user("gus-groups")
    user.groups.add(group)
    group.user_set.remove(user)
    group.user_set.add(user)
    user.groups.clear()

    result = verifier.walk()

    assert result.ok, result.first_break.describe()
    count = history_rows()
    assert links() == list(range(1, count + 1))
    assert result.rows_checked == result.last_seq == count
    assert chain.keyring().current_id and result.segments == [(chain.keyring().current_id, 1)]
    tables = {m._meta.db_table for m in chain.chained_models() if m._base_manager.exists()}
    assert {
        "core_historicaluser_groups",
        "risks_historicalrisk_model_versions",
        "risks_historicalincident_risks",
        "risks_historicalincident_evaluations",
        "risks_historicalmetriccheckresult",
    } <= tables
    assert _a_row(ModelVersion).history_source in {Source.API, Source.ADMIN}


# --- Append-only: the database and the ORM refuse ---------------------------------------------


def test_the_database_refuses_update_delete_and_truncate_of_history(registered_version):
    row = _a_row()
    table = row._meta.db_table

    _refused(f'UPDATE "{table}" SET changelog = %s WHERE history_id = %s', ["rewritten", row.pk])  # noqa: S608 (a model's table)
    _refused(f'UPDATE "{table}" SET chain_hash = %s', ["0" * 64])  # noqa: S608 (a model's table)
    _refused(f'DELETE FROM "{table}" WHERE history_id = %s', [row.pk])  # noqa: S608 (a model's table)
    if connection.vendor == "postgresql":
        _refused(f'TRUNCATE "{table}"')
        _refused(f'TRUNCATE "{table}" CASCADE')
    assert verifier.walk().ok


@pytest.mark.parametrize("null", ["chain_hash", "chain_seq"])
def test_the_database_refuses_a_history_row_written_outside_the_chain(registered_version, null):
    row = _a_row()
    model = type(row)
    values = {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
    values |= {"chain_seq": 10**9, null: None}

    with pytest.raises(DatabaseError, match="unchained INSERT"), transaction.atomic():
        model._base_manager.bulk_create([model(**values)])  # the plain manager: no link given
    assert verifier.walk().ok


def test_the_orm_refuses_to_change_or_delete_history_rows(registered_version):
    row = _a_row()
    history = type(row)

    with pytest.raises(chain.HistoryIsAppendOnly):
        history.objects.filter(pk=row.pk).update(changelog="rewritten")
    with pytest.raises(chain.HistoryIsAppendOnly):
        history.objects.filter(pk=row.pk).delete()
    with pytest.raises(chain.HistoryIsAppendOnly):
        history.objects.bulk_update([row], ["changelog"])
    row.changelog = "rewritten"
    with pytest.raises(chain.HistoryIsAppendOnly):
        row.save()
    with pytest.raises(chain.HistoryIsAppendOnly):
        row.delete()
    # Through the tracked model's history manager too (simple-history's own queryset).
    with pytest.raises(chain.HistoryIsAppendOnly):
        registered_version.history.update(changelog="rewritten")
    with pytest.raises(chain.HistoryIsAppendOnly):
        registered_version.history.all().delete()
    assert verifier.walk().ok


def test_simple_historys_bulk_helpers_write_chained_rows(compliance, engineer):
    with audit_source(Source.COMMAND):
        created = bulk_create_with_history(
            [RegisteredModel(created_by=engineer, **model_payload()) for _ in range(5)],
            RegisteredModel,
            default_user=compliance,
        )
        for model in created:
            model.display_name += " (renamed)"
        bulk_update_with_history(created, RegisteredModel, ["display_name"], default_user=compliance)

    rows = RegisteredModel.history.order_by("chain_seq")
    assert rows.count() == 10
    assert all(len(r.chain_hash) == 64 for r in rows)
    # The bulk path sends no signal: the rows still say where the change came from.
    assert {r.history_source for r in rows} == {Source.COMMAND}
    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert links() == list(range(1, history_rows() + 1))


def test_history_rewrite_lets_a_change_through_then_the_triggers_are_back(registered_version):
    row = _a_row()
    table = row._meta.db_table

    with chain.history_rewrite(), connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{table}" SET changelog = %s WHERE history_id = %s', ["rewritten", row.pk])  # noqa: S608 (a model's table)

    assert type(row)._base_manager.get(pk=row.pk).changelog == "rewritten"
    assert triggers_present()
    _refused(f'UPDATE "{table}" SET changelog = %s WHERE history_id = %s', ["again", row.pk])  # noqa: S608 (a model's table)
    result = verifier.walk()
    assert not result.ok and result.first_break.seq == row.chain_seq
    assert result.first_break.problem == "hash does not match the row"


# --- Keys ------------------------------------------------------------------------------------


def test_a_new_key_starts_a_segment_whose_first_link_names_the_old_key(settings, engineer, registered_model):
    old_id, new_id = auditkit.key_id(OLD_KEY.encode()), auditkit.key_id(NEW_KEY.encode())
    assert chain.keyring().current_id == old_id
    before = history_rows()
    settings.AUDIT_CHAIN_KEY, settings.AUDIT_CHAIN_OLD_KEYS = NEW_KEY, [OLD_KEY]

    services_register(registered_model, engineer)

    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert result.segments == [(old_id, 1), (new_id, before + 1)]
    last_old, first_new = _link(before), _link(before + 1)
    assert (last_old.chain_key, first_new.chain_key) == (old_id, new_id)
    document = chain.document(
        type(first_new),
        chain.row_values(
            type(first_new), [getattr(first_new, f.attname) for f in chain.document_fields(type(first_new))]
        ),
    )
    assert first_new.chain_hash == auditkit.link_hash(NEW_KEY.encode(), old_id, last_old.chain_hash, document)
    assert first_new.chain_hash != auditkit.link_hash(NEW_KEY.encode(), new_id, last_old.chain_hash, document)

    settings.AUDIT_CHAIN_OLD_KEYS = []
    without_old = verifier.walk()
    assert not without_old.ok
    assert without_old.first_break.problem == f"signed with an unknown key id {old_id!r}"
    assert without_old.first_break.seq == 1


def test_a_chain_key_shorter_than_32_characters_is_refused(settings):
    settings.AUDIT_CHAIN_KEY = "x" * 31
    with pytest.raises(ImproperlyConfigured, match="at least 32"):
        chain.keyring()
    settings.AUDIT_CHAIN_KEY = "x" * 32
    assert chain.keyring().current == b"x" * 32


def services_register(model, engineer):
    return services.version_register(
        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload()
    )


def _link(seq: int):
    for model in chain.chained_models():
        found = model._base_manager.filter(chain_seq=seq).first()
        if found:
            return found
    raise AssertionError(f"no link {seq}")


# --- One canonical form, whatever the database ---------------------------------------------------


def test_the_canonical_form_and_link_hash_are_pinned():
    document = {
        "table": "registry_historicalevaluationresult",
        "row": {
            "ran_at": "2026-01-31T22:30:00.000001Z",
            "metrics": {"win_rate": 0.1 + 0.2, "p95_latency_ms": 950.0, "nested": [1e-07, None, {"ü": "✓"}]},
            "usd": "3.1416",
            "flag": True,
            "none": None,
            "n": 2**53 + 1,
        },
    }
    key = b"k" * 32

    canonical = auditkit.canonical(document)

    assert (
        canonical
        == (
            '{"row":{"flag":true,"metrics":{"nested":[1e-07,null,{"ü":"✓"}],"p95_latency_ms":950,'
            '"win_rate":0.30000000000000004},"n":9007199254740993,"none":null,"ran_at":"2026-01-31T22:30:00.000001Z",'
            '"usd":"3.1416"},"table":"registry_historicalevaluationresult"}'
        ).encode()
    )
    assert auditkit.key_id(key) == "c3b042f6d5c8f41d"
    assert auditkit.link_hash(key, "", auditkit.GENESIS, canonical) == (
        "3e4895385d8202d4d123deac250104307d3daaf4b2d67ea29972185ecd185f9a"
    )
    with pytest.raises(ValueError, match="NaN"):
        auditkit.canonical({"x": float("nan")})


def test_a_value_is_spelled_one_way_whatever_form_it_comes_in():
    model = PriceRow.history.model
    fields = {f.attname: f for f in chain.document_fields(model)}

    def plain(name, value):
        return chain._plain(fields[name], value)

    utc = "2026-01-31T22:30:00.000001Z"
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    for when in (
        dt.datetime(2026, 1, 31, 22, 30, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 1, 4, 0, 0, 1, tzinfo=kolkata),
        dt.datetime(2026, 1, 31, 22, 30, 0, 1),  # naive, as SQLite may hand it back
        "2026-01-31 22:30:00.000001",
        "2026-01-31T17:30:00.000001-05:00",
    ):
        assert plain("history_date", when) == utc, when
    for price in (Decimal("3.1416"), Decimal("3.14160000"), "3.1416", 3.1416, Decimal("3.14159")):
        assert plain("usd_per_million_training_tokens", price) == "3.1416", price
    assert plain("effective_from", dt.date(2026, 3, 1)) == plain("effective_from", "2026-03-01") == "2026-03-01"
    assert plain("history_user_id", None) is None
    assert plain("history_user_id", "7") == plain("history_user_id", 7) == 7
    assert plain("source", "prix publié ✓") == "prix publié ✓"


def test_tricky_values_read_back_from_the_database_hash_as_they_were_written(compliance, engineer, registered_model):
    with audit_source(Source.COMMAND, reason="naïve — ✓ 日本"):
        PriceRow.objects.create(
            base_model="gpt-ünïcode-✓",
            usd_per_million_training_tokens=Decimal("3.14159"),
            effective_from=dt.date(2026, 3, 1),
            source="https://example.com/prix-publié",
        )
        version = services_register(registered_model, engineer)
        services.evaluation_record(
            version=version,
            actor=engineer,
            suite="golden-v2",
            golden_set_sha256="0" * 64,
            baseline_version=registered_model.base_model,
            metrics={"win_rate": 0.1 + 0.2, "refusal_rate": 1e-7, "p95_latency_ms": 950.0, "golden_score": 1.0},
            per_intent={"billing": 0.5},
            ran_at=dt.datetime(2026, 2, 1, 4, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        )
        controls.metric_check_create(
            control=controls.control_create(actor=compliance, name="Refusals", description="Low."),
            actor=compliance,
            metric="refusal_rate",
            minimum=1 / 3,
            maximum=1e-300 + 0.9,
            watched_models=[registered_model],
        )

    result = verifier.walk()

    assert result.ok, result.first_break.describe()
    row = ModelVersion.objects.get(pk=version.pk).evaluations.get(suite="golden-v2").history.first()
    assert chain.row_values(type(row), [getattr(row, f.attname) for f in chain.document_fields(type(row))])[
        "ran_at"
    ] == ("2026-01-31T22:30:00.123456Z")
