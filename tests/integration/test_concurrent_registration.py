"""Real concurrent HTTP requests against a live server on PostgreSQL."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from core.services import token_issue
from registry import services
from registry.models import ModelVersion
from tests.conftest import make_user, model_payload, version_payload

CLIENTS = 20


def _post(url: str, token: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _race(url: str, tokens: list[str], bodies: list[dict], headers: dict | None = None) -> list[tuple[int, dict]]:
    results: list = [None] * len(tokens)
    start = threading.Barrier(len(tokens))

    def client(index: int) -> None:
        start.wait()
        results[index] = _post(url, tokens[index], bodies[index], headers)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def engineers(transactional_db):
    from core.roles import Role

    users = [make_user(f"racer-{i}", Role.ENGINEER) for i in range(CLIENTS)]
    return users, [token_issue(user=u, name="race", issued_by=u, via="tests").secret for u in users]


def test_it_creates_one_version_when_twenty_clients_race_for_it(live_server, engineers):
    users, tokens = engineers
    model = services.model_create(actor=users[0], **model_payload())
    url = f"{live_server.url}/api/v1/models/{model.name}/versions/"
    bodies = [version_payload(version="v-race") for _ in range(CLIENTS)]

    results = _race(url, tokens, bodies)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (CLIENTS - 1), results
    assert all(body["error"]["code"] == "conflict" for status, body in results if status == 409)
    assert ModelVersion.objects.filter(model=model, version="v-race").count() == 1
    assert ModelVersion.history.filter(version="v-race").count() == 1


def test_it_answers_every_concurrent_retry_of_one_key_with_the_first_response(live_server, engineers):
    users, tokens = engineers
    model = services.model_create(actor=users[0], **model_payload())
    url = f"{live_server.url}/api/v1/models/{model.name}/versions/"
    body = version_payload(version="v-retry")

    results = _race(url, [tokens[0]] * 8, [body] * 8, headers={"Idempotency-Key": "pipeline-run-7"})

    assert [status for status, _ in results] == [201] * 8, results
    assert len({json.dumps(b, sort_keys=True) for _, b in results}) == 1
    assert ModelVersion.objects.filter(model=model).count() == 1
    assert ModelVersion.history.count() == 1
