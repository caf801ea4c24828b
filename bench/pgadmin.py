"""Drop and recreate the benchmark database; report the server's version and settings.

    pgadmin.py recreate fineprint_bench
    pgadmin.py info OUT.json

Connects to the `postgres` maintenance database of BENCH_PG (a libpq URL, default
postgres://postgres@127.0.0.1:5432/postgres) only to run DROP/CREATE DATABASE on
the benchmark database, which must be named *bench*.
"""

from __future__ import annotations

import json
import os
import sys

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
SETTINGS = ("shared_buffers", "work_mem", "synchronous_commit", "fsync", "max_connections", "jit")


def main() -> None:
    command = sys.argv[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if command == "recreate":
            name = sys.argv[2]
            if "bench" not in name or name in ("postgres", "test"):
                sys.exit(f"refusing to drop {name!r}: the benchmark database's name must contain 'bench'")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"database {name} recreated")
        elif command == "info":
            version = conn.execute("SHOW server_version").fetchone()[0]
            rows = conn.execute(
                "SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),)
            ).fetchall()
            info = {
                "postgresql": version,
                "postgresql_settings": {n: f"{s}{' x ' + u if u else ''}" for n, s, u in rows},
            }
            with open(sys.argv[2], "w") as out:
                json.dump(info, out, indent=2)
            print(f"PostgreSQL {version}")
        else:
            sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
