"""Choosing a provider module by name: configured or refused, naming the missing setting."""

from __future__ import annotations

import inspect

import pytest

from providers import azure_openai, openai_api
from providers.base import ProviderNotConfigured, ProviderRejected
from providers.registry import configured_providers, provider_api

INTERFACE = [
    "file_upload",
    "job_create",
    "job_retrieve",
    "jobs_page",
    "job_cancel",
    "job_checkpoints",
    "job_events",
    "models_list",
    "model_retrieve",
]


@pytest.fixture
def nothing_configured(settings):
    settings.OPENAI_API_KEY = ""
    settings.AZURE_OPENAI_ENDPOINT = ""
    settings.AZURE_OPENAI_API_KEY = ""
    settings.AZURE_OPENAI_USE_ENTRA_ID = False
    return settings


def test_it_gives_the_module_of_a_configured_provider(nothing_configured):
    nothing_configured.OPENAI_API_KEY = "sk-x"
    nothing_configured.AZURE_OPENAI_ENDPOINT = "https://example.openai.azure.com"
    nothing_configured.AZURE_OPENAI_API_KEY = "k"

    assert provider_api("openai") is openai_api
    assert provider_api("azure") is azure_openai
    assert configured_providers() == ["openai", "azure"]


@pytest.mark.parametrize(
    ("name", "configure", "missing"),
    [
        ("openai", {}, "OPENAI_API_KEY"),
        ("azure", {}, "AZURE_OPENAI_ENDPOINT"),
        ("azure", {"AZURE_OPENAI_API_KEY": "k"}, "AZURE_OPENAI_ENDPOINT"),
        ("azure", {"AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com"}, "AZURE_OPENAI_API_KEY"),
    ],
)
def test_it_refuses_a_provider_that_is_not_configured_naming_the_setting(nothing_configured, name, configure, missing):
    for setting, value in configure.items():
        setattr(nothing_configured, setting, value)

    with pytest.raises(ProviderNotConfigured) as raised:
        provider_api(name)

    assert raised.value.setting == missing
    assert missing in raised.value.message
    assert isinstance(raised.value, ProviderRejected) and not raised.value.retryable
    assert configured_providers() == []


def test_entra_id_stands_in_for_the_azure_key(nothing_configured):
    nothing_configured.AZURE_OPENAI_ENDPOINT = "https://example.openai.azure.com"
    nothing_configured.AZURE_OPENAI_USE_ENTRA_ID = True

    assert provider_api("azure") is azure_openai
    assert configured_providers() == ["azure"]


def test_the_module_refuses_too_when_called_directly(nothing_configured):
    with pytest.raises(ProviderNotConfigured) as raised:
        azure_openai.jobs_page()

    assert raised.value.setting == "AZURE_OPENAI_ENDPOINT"


def test_an_unknown_provider_is_refused():
    with pytest.raises(ProviderRejected) as raised:
        provider_api("anthropic")

    assert raised.value.code == "unknown_provider"


@pytest.mark.parametrize("module", [openai_api, azure_openai])
def test_every_provider_module_has_the_same_interface(module):
    for name in INTERFACE:
        assert inspect.signature(getattr(module, name)) == inspect.signature(getattr(openai_api, name)), name
    assert isinstance(module.NAME, str)
    for flag in ("FILTERS_BY_METADATA", "HAS_WEBHOOKS", "NEEDS_DEPLOYMENT"):
        assert isinstance(getattr(module, flag), bool)
    assert hasattr(module, "webhook_unwrap") == module.HAS_WEBHOOKS
    assert hasattr(module, "deployment_create") == module.NEEDS_DEPLOYMENT
    assert hasattr(module, "deployment_get") == module.NEEDS_DEPLOYMENT


def test_the_providers_differ_where_azure_differs():
    assert (openai_api.FILTERS_BY_METADATA, openai_api.HAS_WEBHOOKS, openai_api.NEEDS_DEPLOYMENT) == (True, True, False)
    assert (azure_openai.FILTERS_BY_METADATA, azure_openai.HAS_WEBHOOKS, azure_openai.NEEDS_DEPLOYMENT) == (
        False,
        False,
        True,
    )
