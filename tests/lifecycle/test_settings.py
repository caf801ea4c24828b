"""The lifecycle settings: read from the environment, refused loudly when they cannot mean anything."""

from __future__ import annotations

import json
from datetime import date

from tests.core.test_deploy_settings import run

SETTINGS_JSON = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({name: getattr(s, name, None) for name in %r}, default=str))"
)


def load(tmp_path, names: list[str], **env: str) -> dict:
    result = run(["-c", SETTINGS_JSON % (names,)], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_reads_the_providers_last_day_and_the_windows(tmp_path):
    loaded = load(
        tmp_path,
        ["OPENAI_LAST_FINE_TUNING_DAY", "LIFECYCLE_WARN_DAYS", "LIFECYCLE_GATE_DAYS", "OPENAI_FINE_TUNABLE_MODELS"],
        OPENAI_LAST_FINE_TUNING_DAY="2027-03-31",
        LIFECYCLE_WARN_DAYS="120",
        OPENAI_FINE_TUNABLE_MODELS="gpt-4.1-nano-2025-04-14, gpt-4o-2024-08-06",
    )

    assert loaded["OPENAI_LAST_FINE_TUNING_DAY"] == date(2027, 3, 31).isoformat()
    assert (loaded["LIFECYCLE_WARN_DAYS"], loaded["LIFECYCLE_GATE_DAYS"]) == (120, 14)
    assert loaded["OPENAI_FINE_TUNABLE_MODELS"] == ["gpt-4.1-nano-2025-04-14", "gpt-4o-2024-08-06"]


def test_the_default_last_day_is_openais_and_empty_means_none(tmp_path):
    assert load(tmp_path, ["OPENAI_LAST_FINE_TUNING_DAY"])["OPENAI_LAST_FINE_TUNING_DAY"] == "2027-01-06"
    unset = load(tmp_path, ["OPENAI_LAST_FINE_TUNING_DAY"], OPENAI_LAST_FINE_TUNING_DAY="")
    assert unset["OPENAI_LAST_FINE_TUNING_DAY"] is None


def test_it_refuses_a_date_it_cannot_read_and_an_hour_that_is_not_one(tmp_path):
    bad_date = run(["manage.py", "check"], tmp_path, OPENAI_LAST_FINE_TUNING_DAY="06/01/2027")
    bad_hour = run(["manage.py", "check"], tmp_path, LIFECYCLE_SYNC_HOUR="24")

    assert bad_date.returncode != 0 and "OPENAI_LAST_FINE_TUNING_DAY must be a date" in bad_date.stderr
    assert bad_hour.returncode != 0 and "LIFECYCLE_SYNC_HOUR is an hour of the day" in bad_hour.stderr
