"""The in-process side of `make bench`: bench user, fast seeding, and query probes.

Run from the repository root with the bench environment (bench/run sets it):

    python bench/seed.py user USERNAME
    python bench/seed.py seed --models 100 --total 10000 --manifest FILE
    python bench/seed.py probe --token TOKEN --manifest FILE --out FILE [--writes]

Seeding writes the rows the API would write -- the version, its evaluation with
five metrics, and one history row for each, tagged as coming from the API --
but with bulk_create_with_history instead of one request per version, so
100,000 versions take seconds rather than minutes. It is for the benchmark
database only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from simple_history.utils import bulk_create_with_history  # noqa: E402

# The same payloads as the HTTP workload (bench/ is on sys.path when this runs as a script).
from workload import BASE_MODEL, sha  # noqa: E402
from workload import evaluation as evaluation_data  # noqa: E402

from core.audit import Source, audit_source  # noqa: E402
from core.roles import Role  # noqa: E402
from registry import services  # noqa: E402
from registry.models import EvaluationResult, ModelVersion, RegisteredModel  # noqa: E402

BATCH = 2_000  # rows per bulk insert when seeding


def cmd_user(args) -> None:
    user, _ = get_user_model().objects.get_or_create(username=args.username, defaults={"is_active": True})
    user.groups.add(Group.objects.get(name=Role.ENGINEER))
    print(user.username)


def cmd_seed(args) -> None:
    """Bring every read model (read-001..) to total/models versions v1..vN, interleaved across models."""
    started = time.monotonic()
    user = get_user_model().objects.get(username=args.username)
    per_model = args.total // args.models
    names = [f"read-{i:03d}" for i in range(1, args.models + 1)]
    with audit_source(Source.API):
        models = []
        for name in names:
            model = RegisteredModel.objects.filter(name=name).first()
            if model is None:
                model = services.model_create(
                    actor=user,
                    name=name,
                    display_name=f"Read benchmark model {name}",
                    purpose="Benchmark fixture: answers support questions.",
                    base_model=BASE_MODEL,
                )
            models.append(model)
    have = {m.pk: ModelVersion.objects.filter(model=m).count() for m in models}
    start = min(have.values()) + 1
    if any(count != start - 1 for count in have.values()):
        sys.exit(f"seed: read models have uneven version counts {sorted(set(have.values()))}; recreate the database")
    rng = random.Random(args.seed + start)  # a different stream when extending 10k to 100k
    pending: list[tuple[RegisteredModel, int]] = [(m, n) for n in range(start, per_model + 1) for m in models]
    history_attrs = {"history_source": Source.API}
    created = 0
    for offset in range(0, len(pending), BATCH):
        chunk = pending[offset : offset + BATCH]
        now = timezone.now()
        versions = []
        for model, n in chunk:
            version = ModelVersion(
                model=model,
                version=f"v{n}",
                training_file_sha256=sha(f"{model.name}/v{n}/train"),
                validation_file_sha256=sha(f"{model.name}/v{n}/valid"),
                changelog=f"Seeded version {n}: 1,000 more support chats. Expect fewer wrong refund promises.",
                created_by=user,
            )
            version._change_reason = f"Version v{n} registered"
            versions.append(version)
        with transaction.atomic():
            versions = bulk_create_with_history(
                versions, ModelVersion, default_user=user, custom_historical_attrs=history_attrs
            )
            evaluations = []
            for version in versions:
                data = evaluation_data(rng)
                evaluation = EvaluationResult(
                    version=version,
                    suite=data["suite"],
                    golden_set_sha256=data["golden_set_sha256"],
                    baseline=data["baseline_version"],
                    metrics=data["metrics"],
                    per_intent=data["per_intent"],
                    ran_by=user,
                    ran_at=now,
                )
                evaluation._change_reason = "Evaluation 'golden-v1' recorded at registration"
                evaluations.append(evaluation)
            bulk_create_with_history(
                evaluations, EvaluationResult, default_user=user, custom_historical_attrs=history_attrs
            )
        created += len(chunk)
    # A production table would have been auto-analysed long ago; do it now so plans are realistic.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    sizes = table_sizes()
    manifest = {
        "models": names,
        "versions_per_model": per_model,
        "versions_total": ModelVersion.objects.count(),
        "evaluations_total": EvaluationResult.objects.count(),
        "created_now": created,
        "seconds": round(time.monotonic() - started, 1),
        "tables": sizes,
    }
    Path(args.manifest).write_text(json.dumps(manifest, indent=2))
    print(
        f"seeded {created} versions in {manifest['seconds']} s: now {manifest['versions_total']} versions, "
        f"{manifest['evaluations_total']} evaluations"
    )


def table_sizes() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'registry_%'
            ORDER BY c.relname
            """
        )
        return {name: {"rows": rows, "bytes": size} for name, rows, size in cursor.fetchall()}


def cmd_probe(args) -> None:
    """Count the SQL statements each endpoint runs (Django's view of them) and EXPLAIN the heaviest."""
    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {args.token}")
    manifest = json.loads(Path(args.manifest).read_text())
    model, label = manifest["models"][0], f"v{max(1, manifest['versions_per_model'] // 2)}"
    rng = random.Random(7)
    calls = [
        ("get_version", "GET", f"/api/v1/models/{model}/versions/{label}/", None),
        ("list_model_versions", "GET", f"/api/v1/models/{model}/versions/", None),
        ("filter_win_rate_gte", "GET", "/api/v1/versions/?win_rate__gte=0.6", None),
    ]
    if args.writes:
        probe = f"probe-{int(time.time())}"
        client.post(
            "/api/v1/models/",
            {"name": probe, "display_name": "Probe", "purpose": "Query count probe.", "base_model": BASE_MODEL},
            content_type="application/json",
        )
        body = {
            "version": "v1",
            "training_file_sha256": sha("p1"),
            "validation_file_sha256": sha("p1v"),
            "changelog": "Probe.",
            "evaluations": [evaluation_data(rng)],
        }
        calls += [
            ("register_inline", "POST", f"/api/v1/models/{probe}/versions/", body),
            (
                "register",
                "POST",
                f"/api/v1/models/{probe}/versions/",
                {k: v for k, v in body.items() if k != "evaluations"} | {"version": "v2"},
            ),
            ("evaluate", "POST", f"/api/v1/models/{probe}/versions/v2/evaluations/", evaluation_data(rng)),
        ]
    report = {}
    for name, method, path, body in calls:
        with CaptureQueriesContext(connection) as ctx:
            response = client.generic(method, path, json.dumps(body) if body else "", "application/json")
        queries = [q["sql"] for q in ctx.captured_queries]
        savepoints = [q for q in queries if q.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"))]
        entry = {
            "status": response.status_code,
            "statements": len(queries),
            "savepoint_statements": len(savepoints),
            "sql": [q if len(q) <= 400 else q[:400] + " ..." for q in queries],
        }
        if method == "GET":
            # The heaviest statement is the version query (the one with ORDER BY / LIMIT on registry_modelversion).
            main = [q for q in queries if 'FROM "registry_modelversion"' in q]
            if main:
                with connection.cursor() as cursor:
                    sql = main[0]
                    entry["explain_sql"] = sql
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    entry["explain"] = [row[0] for row in cursor.fetchall()]
        report[name] = entry
        print(
            f"  {name:22s} HTTP {response.status_code}  {len(queries):2d} SQL statements ({len(savepoints)} savepoint)"
        )
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("user", help="create the bench engineer")
    p.add_argument("username")
    p.set_defaults(func=cmd_user)
    p = sub.add_parser("seed", help="bulk-seed read models to a total number of versions")
    p.add_argument("--username", default="bench-engineer")
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--manifest", required=True)
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("probe", help="count SQL statements per endpoint")
    p.add_argument("--token", required=True)
    p.add_argument("--manifest", required=True, help="from seed: probes the middle version of the first model")
    p.add_argument("--writes", action="store_true")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_probe)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
