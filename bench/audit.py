"""Audit chain benchmark (issue 16): how fast the verifier walks the chain.

    python bench/audit.py measure --out FILE [--runs 3]

Run by `BENCH_ONLY=audit make bench` after the database has been filled with
chained history rows the honest way: `bench/report.py seed` (risks, controls,
incidents, models, versions, evaluations, with their history) and
`bench/seed.py seed` (versions and evaluations through bulk_create_with_history),
so every row was linked by the application as it was written.

`measure` counts the history rows per table, then times a full walk
(`core.verifier.walk`, in this process, `--runs` times) and, if the command
exists, `manage.py audit_verify` in a fresh process (Django start-up included).
The target is 10,000 rows per second or faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import get_commands  # noqa: E402

from core import chain, verifier  # noqa: E402

TARGET_ROWS_PER_SECOND = 10_000


def table_rows() -> dict[str, int]:
    counts = {m._meta.db_table: m._base_manager.count() for m in chain.chained_models()}
    return {table: n for table, n in sorted(counts.items()) if n}


def time_walk(runs: int) -> dict:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = verifier.walk()
        seconds.append(time.perf_counter() - started)
        if not result.ok:
            sys.exit(f"audit: the chain does not verify: {result.first_break.describe()}")
    best, median = min(seconds), statistics.median(seconds)
    return {
        "rows": result.rows_checked,
        "runs": runs,
        "seconds": {"best": round(best, 2), "median": round(median, 2)},
        "rows_per_second": {"best": round(result.rows_checked / best), "median": round(result.rows_checked / median)},
    }


def time_command(rows: int) -> dict | None:
    if "audit_verify" not in get_commands():
        return None
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"], capture_output=True, text=True, timeout=600, check=False
    )
    seconds = time.perf_counter() - started
    return {
        "exit_code": done.returncode,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "output": (done.stdout + done.stderr).strip()[-2000:],
    }


def measure(runs: int) -> dict:
    tables = table_rows()
    walk = time_walk(runs)
    command = time_command(walk["rows"])
    return {
        "tables": tables,
        "history_rows": sum(tables.values()),
        "walk": walk,
        "audit_verify": command,
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "met": walk["rows_per_second"]["median"] >= TARGET_ROWS_PER_SECOND,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["measure"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    result = measure(args.runs)
    walk, command = result["walk"], result["audit_verify"]
    print(f"  {result['history_rows']:,} history rows in {len(result['tables'])} tables")
    print(
        f"  walk(): {walk['rows']:,} rows in {walk['seconds']['median']} s (median of {walk['runs']}): "
        f"{walk['rows_per_second']['median']:,} rows/s (best {walk['rows_per_second']['best']:,}); "
        f"target >= {TARGET_ROWS_PER_SECOND:,}: {'met' if result['met'] else 'NOT MET'}"
    )
    if command is None:
        print("  manage.py audit_verify: not there yet")
    else:
        print(
            f"  manage.py audit_verify (fresh process): exit {command['exit_code']}, {command['seconds']} s, "
            f"{command['rows_per_second']:,} rows/s"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
