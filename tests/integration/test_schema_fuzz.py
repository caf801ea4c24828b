"""The live API, fuzzed from its own schema with each role's token: no 5xx, every answer as documented.

Schemathesis reads /api/schema/ from the running app (pytest-django's live server,
on PostgreSQL) and generates requests for every operation: some that fit the schema
(with path parameters pointing at seeded records, so they reach the handlers, and
without, so they mostly meet a 404), and some that break it on purpose. Each answer
must not be a server error and must match the schema for its status code.

Bounded: a few examples per operation and mode, no shrinking, a timeout per request;
derandomized, so a run is repeatable. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from core.roles import Role
from registry import services
from tests.conftest import client_for, make_user, model_payload
from tests.records import one_of_each

EXAMPLES_PER_MODE = 4
REQUEST_TIMEOUT_SECONDS = 10
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

# Operations left out, each for a named reason.
NOT_FUZZED = {
    # Launching a fine-tune uploads files to the model provider and creates a job there:
    # fuzzing it tests the provider (or its fake), not our schema. Its input checks are
    # covered by tests/registry/test_fine_tune_launch.py against the fake server.
    ("POST", "/api/v1/models/{name}/versions/{version}/fine-tune/"),
}


def bearer(user) -> str:
    # The shared helper issues the token the way every API test does; its header is what we send.
    return client_for(user)._credentials["HTTP_AUTHORIZATION"]


def path_parameters(operation, records: dict) -> dict:
    """The seeded record each of the operation's path parameters names ({reference} by its collection)."""
    names = [p.name for p in operation.path_parameters]
    collection = operation.path.split("/")[3]
    values = {**records, "reference": records.get(collection)}
    return {name: values[name] for name in names if values.get(name) is not None}


def fuzz(operation, *, base_url: str, authorization: str, records: dict, statuses: Counter) -> list[str]:
    """Run the bounded examples of one operation; the failures, as text (empty when it behaved).

    Counts the status of each answer in `statuses`, so the caller can tell a run that
    reached the handlers from one that met 401 or 404 throughout.
    """
    fixed = path_parameters(operation, records)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
    )
    failures: list[str] = []

    @settings(
        max_examples=3 * EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: it could take minutes per failure
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=cases)
    def run(case) -> None:
        response = case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": authorization},
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        statuses[response.status_code] += 1

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # collected: every failure is reported at the end
        failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


@pytest.fixture
def quiet_limits(settings):
    # Negative examples send broken tokens and bodies on purpose: the failed-login lockout
    # would answer 429 to everything after a few and leave most of the API unfuzzed.
    settings.API_AUTH_FAILURE_LIMIT = 1_000_000
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Nothing the fuzzer reaches may leave this machine: a provider call gets a closed port.
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"


def test_it_survives_a_schema_driven_fuzz_for_every_role(live_server, transactional_db, quiet_limits):
    engineer = make_user("fuzz-engineer", Role.ENGINEER)
    compliance = make_user("fuzz-compliance", Role.COMPLIANCE, is_staff=True)
    executive = make_user("fuzz-executive", Role.EXECUTIVE)
    model = services.model_create(actor=engineer, **model_payload(name="fuzz-model"))
    records = one_of_each(model=model, engineer=engineer, compliance=compliance).path_parameters()
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if (result.ok().method.upper(), result.ok().path) not in NOT_FUZZED
    ]
    started = time.monotonic()
    failures: list[str] = []

    statuses: dict[str, Counter] = {}

    for user in (engineer, compliance, executive):
        statuses[user.username] = Counter()
        for operation in operations:
            # A fresh token per operation: fuzzing POST .../tokens/{id}/revoke/ may revoke the one in use.
            found = fuzz(
                operation,
                base_url=live_server.url,
                authorization=bearer(user),
                records=records,
                statuses=statuses[user.username],
            )
            failures.extend(f"[{user.username}] {failure}" for failure in found)

    elapsed = time.monotonic() - started
    print(f"Fuzzed {len(operations)} operations x 3 roles in {elapsed:.0f} s: {statuses}")
    assert len(operations) >= 50, [f"{o.method} {o.path}" for o in operations]
    for username, seen in statuses.items():
        # Reads with seeded path parameters succeed for every role: the tokens worked throughout.
        assert sum(n for status, n in seen.items() if 200 <= status < 300) >= 50, (username, seen)
    assert not failures, "\n\n".join(failures)
    assert elapsed < 180, f"the fuzz took {elapsed:.0f} s; keep it bounded"
