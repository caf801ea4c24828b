"""A whole worker SIGKILLed mid-task on Redis: its task goes to another worker within the visibility timeout.

The workers here run with a short visibility timeout (CELERY_VISIBILITY_TIMEOUT) and task time
limits short enough for the settings to accept it (OPENAI_* budgets of 1 s make the longest run
43 s): the mechanism is the production one, only its numbers are smaller.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.integration.slow_task import slow_noted

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 45
TASK_SECONDS = 6


def start_worker(name: str, queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "OPENAI_SYNC_BUDGET_SECONDS": "1",
        "OPENAI_TIMEOUT_SECONDS": "1",
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker"),
            *("--pool=prefork", "--concurrency=1", f"--queues={queue}", "--include=tests.integration.slow_task"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"),
            f"--hostname={name}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill below takes the pool's children too
    )


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.communicate()[0]


def notes(path: Path) -> list[tuple[str, int, float]]:
    if not path.exists():
        return []
    return [(what, int(pid), float(at)) for what, pid, at in (line.split() for line in path.read_text().splitlines())]


def wait_for(condition, *, seconds: float, workers: list[subprocess.Popen]):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert all(worker.poll() is None for worker in workers), "a worker died on its own"
        time.sleep(0.2)
    pytest.fail(f"not within {seconds} s")


@pytest.fixture
def queue():
    # A queue of its own: nothing else on this Redis database consumes or feeds it.
    name = f"worker-crash-{uuid.uuid4().hex[:12]}"
    yield name
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(name)


def test_a_task_of_a_killed_worker_is_redelivered_within_the_visibility_timeout(tmp_path, queue):
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the integration suite runs Celery on Redis"
    log = tmp_path / "notes"
    first = start_worker("crash-first", queue)
    second = None
    try:
        slow_noted.apply_async(args=[str(log), TASK_SECONDS], queue=queue)
        (_, first_pid, _), *_ = wait_for(lambda: notes(log), seconds=60, workers=[first])

        os.killpg(first.pid, signal.SIGKILL)  # the whole worker: main process and pool child
        first.wait(timeout=10)
        killed_at = time.time()
        second = start_worker("crash-second", queue)

        # Redelivered no sooner than the visibility timeout after the first worker took it, and no
        # later than that plus one scan for overdue tasks (and a little for the second worker to start).
        bound = VISIBILITY_TIMEOUT + settings.REDIS_REDELIVERY_SCAN_SECONDS + 5
        done = wait_for(
            lambda: [n for n in notes(log) if n[0] == "done"], seconds=bound + TASK_SECONDS, workers=[second]
        )
    finally:
        output = stop(first) + (stop(second) if second else "")
        print(output)

    (_, pid_1, started_1), (_, pid_2, started_2) = (n for n in notes(log) if n[0] == "start")
    print(f"redelivered {started_2 - started_1:.1f} s after the first start (timeout {VISIBILITY_TIMEOUT} s)")
    assert pid_1 == first_pid
    assert killed_at - started_1 < TASK_SECONDS, "the task was still running when its worker was killed"
    assert [pid for _, pid, _ in done] == [pid_2]  # finished once, by the second worker
    assert VISIBILITY_TIMEOUT - 1 <= started_2 - started_1 <= bound
