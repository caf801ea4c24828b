"""Every `manage.py` command the README shows works as written in a fresh clone's shell.

A fresh clone has no SECRET_KEY and no DEBUG in its environment (`make run` sets DEBUG=1 for
itself only); manage.py then runs on the development defaults. These tests start manage.py as a
person would, in a subprocess with those variables removed and an empty var/ directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# `.venv/bin/python manage.py issue_token USERNAME` and the like, in inline code or a code block.
COMMAND = re.compile(r"\.venv/bin/python manage\.py\s+([a-z_]+)")


def _manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    unset = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update(FINEPRINT_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_shows_its_commands_with_the_venvs_python():
    shown = set(COMMAND.findall(README))

    assert {"issue_token", "check_dataset", "generate_report"} <= shown
    # A bare `python manage.py` only in the production block, where the operator's environment has Django.
    bare = [line for line in README.splitlines() if re.search(r"(?<![/\w])python manage\.py", line)]
    assert bare == ["python manage.py migrate && python manage.py collectstatic --noinput"]


@pytest.mark.parametrize("command", sorted(set(COMMAND.findall(README))))
def test_each_readme_command_starts_without_secret_key_or_debug(command, tmp_path):
    result = _manage(command, "--help", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY is required" not in result.stderr
    assert result.stdout.startswith("usage: manage.py " + command)


def test_the_readme_check_dataset_command_runs_as_written(tmp_path):
    chat = {"messages": [{"role": "user", "content": "Where is my refund?"}, {"role": "assistant", "content": "Here."}]}
    (tmp_path / "train.jsonl").write_text(json.dumps(chat) + "\n")
    golden = {"id": "g1", "messages": [{"role": "user", "content": "Can I return socks?"}], "intent": "returns"}
    (tmp_path / "golden.jsonl").write_text(json.dumps(golden) + "\n")
    written = re.search(r"`\.venv/bin/python manage\.py check_dataset ([^`]+)`", README.replace("\n", " "))
    assert written is not None
    args = written.group(1).split()

    result = _manage("check_dataset", *args, tmp_path=tmp_path)

    assert "SECRET_KEY" not in result.stderr
    assert result.returncode in (0, 1), result.stderr  # 1: blocking findings, as the README says
    assert json.loads(result.stdout[result.stdout.index("{") :])["policy"]["min_examples"] >= 1


def test_it_still_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = _manage("check", tmp_path=tmp_path, DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off." in result.stderr
