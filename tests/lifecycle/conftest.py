"""The Azure fake for the catalogue tests (the OpenAI fake's fixture lives in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes import azure_fake_running


@pytest.fixture
def fake_azure(settings):
    """The Azure OpenAI fake, with Fineprint's Azure settings pointed at it."""
    with azure_fake_running(settings) as state:
        yield state
