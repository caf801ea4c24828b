"""Production settings: HTTPS on by default outside DEBUG, and a Redis visibility timeout that fits the tasks.

Settings are read once per process, so each case loads them in a fresh one with its own environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_JSON = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({name: getattr(s, name, None) for name in %r}))"
)


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # Only what a production host would set: none of the developer's or the test run's variables.
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "FINEPRINT_VAR_DIR": str(tmp_path),
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-like-secret-key-0123456789-ABCDEFGHIJKLMNOP",
        "AUDIT_CHAIN_KEY": "0f" * 32,
        "ALLOWED_HOSTS": "fineprint.example.com",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def load(tmp_path: Path, names: list[str], **env: str) -> dict:
    result = run(["-c", SETTINGS_JSON % (names,)], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_passes_the_deploy_check_on_https_and_hsts(tmp_path):
    result = run(["manage.py", "check", "--deploy"], tmp_path)

    output = result.stdout + result.stderr
    assert "security.W004" not in output  # HSTS
    assert "security.W008" not in output  # SSL redirect
    assert "security.W005" not in output  # HSTS for subdomains


def test_it_redirects_to_https_and_sends_hsts_for_a_year_by_default(tmp_path):
    loaded = load(tmp_path, ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD"])

    assert loaded == {"SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 365 * 24 * 3600, "SECURE_HSTS_PRELOAD": False}


def test_it_leaves_the_redirect_to_a_proxy_that_terminates_tls(tmp_path):
    loaded = load(
        tmp_path,
        ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER"],
        SECURE_SSL_REDIRECT="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
    )

    assert loaded == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_it_refuses_a_proxy_header_given_as_the_http_header_name(tmp_path):
    result = run(["manage.py", "check"], tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be a request.META name" in result.stderr


def test_it_does_not_redirect_in_debug(tmp_path):
    assert load(tmp_path, ["SECURE_SSL_REDIRECT"], DEBUG="1") == {"SECURE_SSL_REDIRECT": False}


def test_it_sets_the_visibility_timeout_from_the_longest_run_and_retry_wait(tmp_path):
    loaded = load(
        tmp_path,
        ["CELERY_BROKER_TRANSPORT_OPTIONS", "CELERY_TASK_TIME_LIMIT", "TASK_LONGEST_RUN_SECONDS"],
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )

    # A task runs for at most CELERY_TASK_TIME_LIMIT; a delivery retry waits up to 60 s * 2**4 before it runs.
    longest_run = loaded["CELERY_TASK_TIME_LIMIT"]
    assert loaded["TASK_LONGEST_RUN_SECONDS"] == longest_run
    assert loaded["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == 60 * 2**4 + longest_run + 60


def test_it_takes_a_visibility_timeout_from_the_environment(tmp_path):
    loaded = load(
        tmp_path,
        ["CELERY_BROKER_TRANSPORT_OPTIONS"],
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_VISIBILITY_TIMEOUT="600",
    )

    assert loaded["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == 600


def test_it_refuses_a_visibility_timeout_shorter_than_a_task_may_run(tmp_path):
    result = run(
        ["manage.py", "check"],
        tmp_path,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_VISIBILITY_TIMEOUT=str(settings.TASK_LONGEST_RUN_SECONDS - 1),
    )

    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be at least the longest a task may run" in result.stderr


def test_no_task_outlasts_the_visibility_timeout_bounds():
    # The settings compute the visibility timeout from these bounds; a task that runs or waits
    # longer must raise them there, or Redis redelivers it while it still runs or waits.
    celery_app.autodiscover_tasks(force=True)
    ours = {name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")}
    too_long = []
    for name, task in ours.items():
        if (task.time_limit or settings.CELERY_TASK_TIME_LIMIT) > settings.TASK_LONGEST_RUN_SECONDS:
            too_long.append(f"{name} runs longer")
        backoff = getattr(task, "retry_backoff", False)  # set on the task only when it autoretries
        if getattr(task, "autoretry_for", ()) and backoff:
            first = 1 if backoff is True else backoff
            longest_wait = min(first * 2 ** (task.max_retries - 1), getattr(task, "retry_backoff_max", 600))
            if longest_wait > settings.TASK_LONGEST_COUNTDOWN_SECONDS:
                too_long.append(f"{name} waits longer before a retry")

    assert "core.tasks.idempotency_records_purge" in ours  # every app's tasks were found
    assert too_long == []


@pytest.mark.parametrize(
    ("key", "says"), [("", "AUDIT_CHAIN_KEY is required"), ("too-short", "at least 32 characters")]
)
def test_it_refuses_to_start_without_an_audit_chain_key_worth_the_name(tmp_path, key, says):
    result = run(["-c", SETTINGS_JSON % (["AUDIT_CHAIN_KEY"],)], tmp_path, AUDIT_CHAIN_KEY=key)
    assert result.returncode != 0
    assert says in result.stderr


def database_options(tmp_path: Path, **env: str) -> dict:
    return load(tmp_path, ["DATABASES"], DATABASE_URL="postgres://app@db.example.com:5432/fineprint", **env)[
        "DATABASES"
    ]["default"].get("OPTIONS", {})


def test_it_prices_a_random_page_read_for_data_in_memory_on_postgresql(tmp_path):
    assert database_options(tmp_path)["options"] == "-c random_page_cost=1.1"
    assert database_options(tmp_path, DATABASE_RANDOM_PAGE_COST="2")["options"] == "-c random_page_cost=2.0"


def test_it_leaves_the_servers_page_cost_when_told_to(tmp_path):
    assert "options" not in database_options(tmp_path, DATABASE_RANDOM_PAGE_COST="")


def test_it_prepares_the_hot_statements_unless_told_not_to(tmp_path):
    # Behind a pooler that cannot carry prepared statements (docs/production.md).
    assert database_options(tmp_path)["prepared_statements"] is True
    assert database_options(tmp_path, DATABASE_PREPARED_STATEMENTS="0")["prepared_statements"] is False
    refused = run(
        ["manage.py", "check"],
        tmp_path,
        DATABASE_URL="postgres://app@db/fineprint",
        DATABASE_PREPARED_STATEMENTS="maybe",
    )
    assert refused.returncode != 0 and "DATABASE_PREPARED_STATEMENTS must be a boolean" in refused.stderr


def test_it_still_reads_the_former_name_of_prepared_statements(tmp_path):
    assert database_options(tmp_path, DATABASE_PREPARED_READS="0")["prepared_statements"] is False
    agreeing = {"DATABASE_PREPARED_READS": "0", "DATABASE_PREPARED_STATEMENTS": "false"}
    assert database_options(tmp_path, **agreeing)["prepared_statements"] is False
    refused = run(
        ["manage.py", "check"],
        tmp_path,
        DATABASE_URL="postgres://app@db/fineprint",
        DATABASE_PREPARED_READS="0",
        DATABASE_PREPARED_STATEMENTS="1",
    )
    assert refused.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS and DATABASE_PREPARED_READS, its former name, disagree" in refused.stderr


def test_every_variable_the_settings_read_is_in_the_example_environment():
    # .env.example is where an operator learns what can be set (docs/production.md).
    read = set(re.findall(r"env_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]*)\"", (ROOT / "config" / "settings.py").read_text()))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 50  # the pattern finds the settings' variables
    assert sorted(read - listed) == []


@pytest.mark.parametrize("value", ["cheap", "0", "-1", "nan", "inf", "1; DROP TABLE x"])
def test_it_refuses_a_page_cost_that_is_not_a_positive_number(tmp_path, value):
    result = run(
        ["manage.py", "check"], tmp_path, DATABASE_URL="postgres://app@db/fineprint", DATABASE_RANDOM_PAGE_COST=value
    )

    assert result.returncode != 0
    assert "DATABASE_RANDOM_PAGE_COST must be" in result.stderr
