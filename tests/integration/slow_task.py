"""A task for tests/integration/test_worker_crash.py only: it notes each start and end in a file, and takes a while.

Registered only in the workers that test starts (`celery worker --include tests.integration.slow_task`),
never in the service's own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import shared_task


def _note(path: str, what: str) -> None:
    with Path(path).open("a") as log:
        log.write(f"{what} {os.getpid()} {time.time()}\n")


@shared_task(name="tests.integration.slow_task.slow_noted")
def slow_noted(path: str, seconds: float) -> None:
    _note(path, "start")
    time.sleep(seconds)
    _note(path, "done")
