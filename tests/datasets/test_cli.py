"""`manage.py check_dataset` in a pipeline: no server, no database; exit 1 on blocking findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def run(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check_dataset", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_exits_0_on_a_clean_file():
    done = run(str(FIXTURES / "clean.jsonl"), "--base-model", "gpt-4o-mini")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["blocking"] == 0


def test_it_exits_1_on_blocking_findings_and_prints_the_report():
    done = run(
        str(FIXTURES / "training.jsonl"), "--base-model", "gpt-3.5-turbo", "--golden", str(FIXTURES / "golden.jsonl")
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["leakage"]["exact"] == 4
    assert report["leakage"]["near"] == 2


def test_it_exits_2_on_an_unknown_base_model():
    done = run(str(FIXTURES / "clean.jsonl"), "--base-model", "llama-3")
    assert done.returncode == 2
    assert "unknown base model" in done.stderr
