import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


@pytest.fixture(autouse=True)
def _require_postgresql():
    # The integration suite exists to exercise the real services; on anything
    # else it must fail, not pass vacuously.
    assert connection.vendor == "postgresql", "Run the integration suite with DATABASE_URL=postgres://..."


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db):
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the integration suite runs Celery on Redis"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname=integration@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output)
