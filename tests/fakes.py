"""The fake providers as fixtures' building blocks, for every test package (tests/conftest.py imports them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from providers import fake_azure
from providers.fake_openai import Durations

AZURE_CANARY_KEY = "azure-canary-4b3a2918-must-never-leak"
AZURE_CANARY_TOKEN = "azure-mgmt-canary-7c6d5e4f-must-never-leak"


@contextmanager
def azure_fake_running(
    settings, *, durations: Durations | None = None, deploy_seconds: float | None = None
) -> Iterator[fake_azure.FakeAzureOpenAI]:
    """The Azure fake on a free loopback port, with Fineprint's Azure settings pointed at it."""
    state = fake_azure.FakeAzureOpenAI(
        api_key=AZURE_CANARY_KEY,
        management_token=AZURE_CANARY_TOKEN,
        durations=durations or Durations(validating=10, queued=10, running=100),
    )
    if deploy_seconds is not None:
        state.deploy_seconds = deploy_seconds
    server, thread = fake_azure.serve(state)
    base = f"http://127.0.0.1:{server.server_port}"
    settings.AZURE_OPENAI_ENDPOINT = base
    settings.AZURE_OPENAI_API_KEY = AZURE_CANARY_KEY
    settings.AZURE_OPENAI_USE_ENTRA_ID = False
    settings.AZURE_MANAGEMENT_ENDPOINT = base
    settings.AZURE_MANAGEMENT_TOKEN = AZURE_CANARY_TOKEN
    settings.AZURE_SUBSCRIPTION_ID = state.subscription_id
    settings.AZURE_RESOURCE_GROUP = state.resource_group
    settings.AZURE_OPENAI_RESOURCE_NAME = state.resource_name
    settings.OPENAI_TIMEOUT_SECONDS = 1
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
