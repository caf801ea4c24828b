"""A token revoked elsewhere is refused by a server process that had it cached, on its very next request.

The same holds for the provider catalogue, which the server copies under the same epoch.

The server is gunicorn in a process of its own (one worker, so the request that fills
its token cache and the ones after it meet the same cache); the revocation comes from
this test process's own connection, as from the admin or another worker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.roles import Role
from core.services import token_issue, token_revoke
from lifecycle.models import ModelKind, Provider, ProviderModel
from registry import services
from tests.conftest import make_user, model_payload, version_payload
from tests.integration.conftest import ROOT, stopped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db):
    """A gunicorn server on the test database; yields its base URL."""
    db = connection.settings_dict
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "FINEPRINT_VAR_DIR": tempfile.mkdtemp(prefix="fineprint-gunicorn-"),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        print(stopped(process)[-4000:])


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_token_revoked_by_another_connection_is_refused_on_its_next_request(gunicorn):
    engineer = make_user("cache-engineer", Role.ENGINEER)
    issued = token_issue(user=engineer, name="ci", issued_by=engineer, via="tests")
    url = f"{gunicorn}/api/v1/models/"
    assert [_get(url, issued.secret) for _ in range(3)] == [200, 200, 200]

    # The server answers from its cache: a revocation written behind the triggers' back goes unseen.
    trigger = "fineprint_auth_epoch_core_apitoken_update"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE core_apitoken DISABLE TRIGGER {trigger}")
        cursor.execute("UPDATE core_apitoken SET revoked_at = %s WHERE id = %s", [timezone.now(), issued.token.pk])
        try:
            assert _get(url, issued.secret) == 200
        finally:
            cursor.execute("UPDATE core_apitoken SET revoked_at = NULL WHERE id = %s", [issued.token.pk])
            cursor.execute(f"ALTER TABLE core_apitoken ENABLE TRIGGER {trigger}")

    token_revoke(token=issued.token, actor=engineer, reason="leaked")  # committed: no transaction here

    assert _get(url, issued.secret) == 401
    assert _get(url, issued.secret) == 401


def test_a_user_deactivated_by_another_connection_is_refused_on_the_next_request(gunicorn):
    engineer = make_user("cache-engineer", Role.ENGINEER)
    issued = token_issue(user=engineer, name="ci", issued_by=engineer, via="tests")
    url = f"{gunicorn}/api/v1/models/"
    assert _get(url, issued.secret) == 200

    with connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET is_active = false WHERE id = %s", [engineer.pk])

    assert _get(url, issued.secret) == 401


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_base_model_shut_down_by_another_connection_is_refused_on_the_next_registration(gunicorn):
    """The worker's copy of the catalogue (lifecycle.selectors.catalogue_cached) is current on the next request."""
    engineer = make_user("cache-engineer", Role.ENGINEER)
    issued = token_issue(user=engineer, name="ci", issued_by=engineer, via="tests")
    base = "gpt-4.1-mini-2025-04-14"
    entry = ProviderModel.objects.create(
        provider=Provider.OPENAI,
        model_id=base,
        kind=ModelKind.BASE,
        shutdown_date=timezone.localdate() + timedelta(days=40),
    )
    model = services.model_create(actor=engineer, **model_payload(base_model=base))
    url = f"{gunicorn}/api/v1/models/{model.name}/versions/"
    assert _post(url, issued.secret, version_payload(version="v1"))[0] == 201
    assert _post(url, issued.secret, version_payload(version="v2"))[0] == 201

    # The worker answers from its copy: a shutdown written behind the triggers' back goes unseen.
    yesterday = timezone.localdate() - timedelta(days=1)
    trigger = "fineprint_auth_epoch_lifecycle_providermodel_update"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE lifecycle_providermodel DISABLE TRIGGER {trigger}")
        cursor.execute("UPDATE lifecycle_providermodel SET shutdown_date = %s WHERE id = %s", [yesterday, entry.pk])
        try:
            assert _post(url, issued.secret, version_payload(version="v3"))[0] == 201
        finally:
            cursor.execute(
                "UPDATE lifecycle_providermodel SET shutdown_date = %s WHERE id = %s", [entry.shutdown_date, entry.pk]
            )
            cursor.execute(f"ALTER TABLE lifecycle_providermodel ENABLE TRIGGER {trigger}")

    ProviderModel.objects.filter(pk=entry.pk).update(shutdown_date=yesterday)  # committed: no transaction here

    status, body = _post(url, issued.secret, version_payload(version="v4"))
    assert (status, body["error"]["code"]) == (409, "model_shut_down")
