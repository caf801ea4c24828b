import os
import signal
import subprocess
import sys
import tempfile
import uuid
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
        print(stopped(process))


def stopped(process: subprocess.Popen) -> str:
    """Stop a server or worker this suite started (killed if it has not ended in 20 s); its output."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


class CeleryProcesses:
    """Celery workers and beat for one test: the test database, a queue and a var dir of their own, one log.

    A queue of its own, so nothing another run left in Redis interferes; each process in its own
    session, so stopping it stops its pool too. The log's tail is printed at teardown (shown when
    a test fails).
    """

    def __init__(self, prefix: str, **env: str):
        db = connection.settings_dict
        self.var = tempfile.mkdtemp(prefix=f"fineprint-{prefix}-")
        self.queue = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "FINEPRINT_VAR_DIR": self.var,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            **env,
        }
        self.log_path = Path(self.var, "celery.log")
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop())
        self.started: list[subprocess.Popen] = []

    def _start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel=INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def worker(self) -> subprocess.Popen:
        return self._start(
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            self.queue,
            f"--hostname={self.queue}-{uuid.uuid4().hex[:6]}@%h",
        )

    def beat(self) -> subprocess.Popen:
        return self._start("beat", "--schedule", os.path.join(self.var, "beat-schedule"))

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self._log.close()
        print(self.log_path.read_text()[-6000:])
