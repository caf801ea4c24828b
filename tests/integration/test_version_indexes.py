"""What a registration indexes on PostgreSQL: the versions', evaluations' and their history's indexes.

A registration writes four rows; each index on their tables is one more entry to write, and to
log in the WAL, per registration, for as long as the tables live (registry migration 0015,
docs/benchmarks.md). These are the indexes some query reads; one more needs a query that reads it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from registry.models import ModelVersion

# Each table's indexes, by the columns they cover, in order (partial and expression indexes by name).
EXPECTED = {
    "registry_modelversion": {
        ("id",),
        ("model_id", "version"),  # model_version_unique_label, which also serves the model's foreign key
        ("model_id", "id"),  # version_model_newest
        ("status", "id"),
        ("created_at",),
        ("created_by_id",),
        ("training_file_sha256",),
        ("validation_file_sha256",),
        ("provider_job_id",),  # model_version_unique_job; no LIKE index beside it (0016)
        "version_job_in_flight",
        "version_serving_live",
    },
    "registry_historicalmodelversion": {
        ("history_id",),
        ("chain_seq",),
        ("id",),  # a version's history
        ("model_id",),  # versions as of a date, by model (registry.migration)
        ("history_date",),
        ("history_user_id",),
        ("history_on_behalf_of_id",),
    },
    "registry_evaluationresult": {
        ("id",),
        ("version_id",),
        ("baseline_version_id",),
        ("ran_by_id",),
        "evaluation_win_rate",
        "evaluation_refusal_rate",
    },
    "registry_historicalevaluationresult": {
        ("history_id",),
        ("chain_seq",),
        ("id",),
        ("version_id",),  # a version's history, its evaluations included
        ("history_date",),
        ("history_user_id",),
        ("history_on_behalf_of_id",),
    },
}

# An index's columns, or its name when it is partial or on an expression; a LIKE index is marked by its opclass.
INDEXES_SQL = """
SELECT i.relname, ix.indpred IS NOT NULL OR 0 = ANY (ix.indkey::int2[]),
       array(SELECT a.attname FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(n, o)
             JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.o),
       array(SELECT oc.opcname FROM unnest(ix.indclass::oid[]) AS c(o) JOIN pg_opclass oc ON oc.oid = c.o)
FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
WHERE t.relname = %s
"""


def _indexes(table: str) -> set:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL, [table])
        found = set()
        for name, by_name, columns, opclasses in cursor.fetchall():
            if by_name:
                found.add(name)
            elif any(o.endswith("_pattern_ops") for o in opclasses):
                found.add((*columns, "varchar_pattern_ops"))
            else:
                found.add(tuple(columns))
        return found


def test_a_registrations_tables_carry_the_indexes_their_queries_read_and_no_more(db):
    assert {table: _indexes(table) for table in EXPECTED} == EXPECTED


def test_a_dataset_search_finds_versions_by_either_hash_from_their_indexes(db):
    either = Q(training_file_sha256="a" * 64) | Q(validation_file_sha256="a" * 64)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # an empty table is read whole otherwise, as a large one is not
        try:
            plan = ModelVersion.objects.filter(either).explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "version_training_sha256" in plan and "version_validation_sha256" in plan
