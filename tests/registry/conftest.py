"""Registry fixtures: the Azure OpenAI fake (the OpenAI fake's fixtures live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes import azure_fake_running


@pytest.fixture
def fake_azure(settings):
    """The Azure OpenAI fake (data plane and control plane), with Fineprint's Azure settings pointed at it."""
    with azure_fake_running(settings) as state:
        yield state
