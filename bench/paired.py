"""A registration's CPU with a part of it on and off, in paired blocks, in one process.

usage: DATABASE_URL=postgres://... bench/paired.py [BLOCK] [PAIRS] [SWITCH]
       (defaults: 100 registrations, 20 pairs, SWITCH "prepared")

On a shared machine whose speed drifts by a fifth within minutes, two runs minutes apart
cannot show a change of a tenth. Here one process registers versions through Django's WSGI
handler (no gunicorn, no client), alternating blocks of BLOCK registrations with SWITCH on and
off (the order swapped every pair), and reads the CPU of this process and of its PostgreSQL
backend (`/proc`, by `pg_backend_pid()`) around each block. Each pair ran within seconds, so
the drift is the same for both halves: the paired differences show what the part costs.

SWITCH is one of:
  prepared  `DATABASE_PREPARED_STATEMENTS`: the registration's statements prepared, or not;
  write     the registration's write (`core.audit.create_tracked`: the version, its evaluation,
            their history rows and the chain's claim), or none: each row gets an id and nothing
            is written (the rest of the request, the data card's read included, runs as ever).
            What the write costs, and so what any change to it can at most buy.

Needs a migrated database it may write to; it creates its own user, token and 20 models, then
registers into them.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402

from core.services import token_issue  # noqa: E402
from registry import services  # noqa: E402
from registry.models import RegisteredModel  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
MODELS = 20
RUN = f"paired-{os.getpid()}"


def setup() -> str:
    if connection.vendor != "postgresql":
        raise SystemExit("paired.py: PostgreSQL only (DATABASE_URL=postgres://...)")
    user, _ = User.objects.get_or_create(username="paired-engineer")
    user.groups.add(Group.objects.get(name="Engineers"))
    for n in range(MODELS):
        name = f"{RUN}-m{n}"
        if not RegisteredModel.objects.filter(name=name).exists():
            services.model_create(
                actor=user, name=name, display_name=name, purpose="bench", base_model="gpt-4.1-mini-2025-04-14"
            )
    return token_issue(user=user, name=RUN, issued_by=user, via="bench").secret


def _environ(token: str, path: str, body: dict) -> dict:
    raw = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }


def _start_response(status: list[str]):
    def start_response(code: str, headers, *_):
        status.append(code)

    return start_response


class Registrations:
    def __init__(self, token: str):
        self.token = token
        self.handler = WSGIHandler()
        self.seq = 0

    def run(self, count: int) -> None:
        for _ in range(count):
            n = self.seq
            self.seq += 1
            body = {  # as the side-by-side harness registers: one evaluation inline, three metrics
                "version": f"v{n}",
                "training_file_sha256": hashlib.sha256(f"{RUN}-{n}".encode()).hexdigest(),
                "changelog": "paired bench",
                "evaluations": [
                    {
                        "suite": "golden",
                        "golden_set_sha256": hashlib.sha256(b"golden").hexdigest(),
                        "baseline_version": "gpt-4.1-mini-2025-04-14",
                        "metrics": {"win_rate": 0.61, "refusal_rate": 0.02, "p95_ms": 800},
                    }
                ],
            }
            status: list[str] = []
            path = f"/api/v1/models/{RUN}-m{n % MODELS}/versions/"
            answer = b"".join(self.handler(_environ(self.token, path, body), _start_response(status)))
            if not status[0].startswith("201"):
                raise SystemExit(f"paired.py: {status[0]} {answer[:300]!r}")


def backend_seconds() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


_written = services.create_tracked
_ids = itertools.count(-1, -1)  # ids no table holds


def _ids_only(objs, using="default", *, read_along=None):
    """The write left out: each instance gets an id, as create_tracked gives it, and nothing is written."""
    for obj in objs:
        obj.pk = next(_ids)
        obj._state.adding = False
        obj._state.db = using
    return read_along() if read_along is not None else None


def _prepared(on: bool) -> None:
    connection.settings_dict["OPTIONS"]["prepared_statements"] = on


def _write(on: bool) -> None:
    services.create_tracked = _written if on else _ids_only


SWITCHES = {"prepared": ("prepared statements", _prepared), "write": ("the write", _write)}


def main(block: int, pairs: int, switch: str) -> int:
    what, turn = SWITCHES[switch]
    registrations = Registrations(setup())
    for on in (True, False):  # warm both: imports, caches, the statements prepared
        turn(on)
        registrations.run(50)
    figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for pair in range(pairs):
        for on in (True, False) if pair % 2 == 0 else (False, True):
            turn(on)
            registrations.run(5)
            process, backend = time.process_time(), backend_seconds()
            registrations.run(block)
            figures[on].append(
                ((time.process_time() - process) * 1000 / block, (backend_seconds() - backend) * 1000 / block)
            )
    turn(True)
    print(f"{pairs} pairs of {block} registrations; CPU per registration, ms (median over the blocks)")
    for on in (False, True):
        process = statistics.median(f[0] for f in figures[on])
        backend = statistics.median(f[1] for f in figures[on])
        state = "on " if on else "off"
        print(f"  {what} {state}: this process {process:.2f}, its PostgreSQL backend {backend:.2f}")
    for index, part in ((0, "this process"), (1, "its PostgreSQL backend")):
        diffs = [on[index] - off[index] for on, off in zip(figures[True], figures[False], strict=True)]
        lower = sum(d < 0 for d in diffs)
        print(
            f"  on - off, {part}: median {statistics.median(diffs):+.2f} ms; lower with it in {lower} of {pairs} pairs"
        )
    return 0


if __name__ == "__main__":
    block, pairs, switch = (sys.argv[1:] + ["100", "20", "prepared"][len(sys.argv) - 1 :])[:3]
    if switch not in SWITCHES:
        raise SystemExit(f"paired.py: SWITCH is one of {', '.join(SWITCHES)}, not {switch!r}")
    sys.exit(main(int(block), int(pairs), switch))
