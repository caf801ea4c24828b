"""The Azure fake as other processes drive it: its control routes, the command that serves it, Entra ID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from providers import azure_openai
from providers.base import ProviderUnavailable
from tests.conftest import TRAINING

ROOT = Path(__file__).resolve().parents[2]


def _post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_it_is_driven_over_http(fake_azure, settings):
    base = settings.AZURE_OPENAI_ENDPOINT
    file_id = azure_openai.file_upload(filename="train.jsonl", content=TRAINING)
    job = azure_openai.job_create(model="gpt-4o-mini-2024-07-18", training_file=file_id)

    _post(base, f"/_fake/jobs/{job.id}/outcome", {"outcome": "failed"})
    _post(base, "/_fake/advance", {"seconds": 500})
    _post(base, "/_fake/faults", {"status": 503, "count": 1})
    _post(base, "/_fake/models", {"id": "gpt-4o-mini-2024-07-18", "shutdown_date": "2027-02-01"})

    with pytest.raises(ProviderUnavailable):
        azure_openai.job_retrieve(job.id)
    assert azure_openai.job_retrieve(job.id).status == "failed"
    assert azure_openai.model_retrieve("gpt-4o-mini-2024-07-18").training_retires_on.isoformat() == "2027-02-01"
    with urllib.request.urlopen(base + "/_fake/stats", timeout=5) as response:
        assert json.loads(response.read())["requests"]["job_get"] == 1


def test_deployment_use_is_marked_over_http(fake_azure, settings):
    file_id = azure_openai.file_upload(filename="train.jsonl", content=TRAINING)
    job = azure_openai.job_create(model="gpt-4o-mini-2024-07-18", training_file=file_id)
    fake_azure.advance(200)
    model = azure_openai.job_retrieve(job.id).fine_tuned_model
    azure_openai.deployment_create(name="used", model=model)

    fake_azure.advance(10 * 86400)
    _post(settings.AZURE_OPENAI_ENDPOINT, "/_fake/deployments/used/use", {})
    fake_azure.advance(10 * 86400)

    assert azure_openai.deployment_get("used").state == "succeeded"


class _Token:
    def __init__(self, token: str):
        self.token = token


class _Credential:
    """Stands in for azure.identity.DefaultAzureCredential: one token per scope."""

    def __init__(self, tokens: dict[str, str]):
        self.tokens, self.scopes = tokens, []

    def get_token(self, scope: str) -> _Token:
        self.scopes.append(scope)
        return _Token(self.tokens[scope])


def test_entra_id_signs_both_planes_when_there_is_no_key(fake_azure, settings, monkeypatch):
    fake_azure.entra_token = "entra-data-plane-token"
    credential = _Credential(
        {
            "https://cognitiveservices.azure.com/.default": "entra-data-plane-token",
            "https://management.azure.com/.default": fake_azure.management_token,
        }
    )
    monkeypatch.setattr(azure_openai, "_entra_credential", lambda: credential)
    settings.AZURE_OPENAI_API_KEY = ""
    settings.AZURE_MANAGEMENT_TOKEN = ""
    settings.AZURE_OPENAI_USE_ENTRA_ID = True

    assert azure_openai.jobs_page() == ([], False)
    assert azure_openai.deployment_get("none").state == "missing"
    assert credential.scopes == [
        "https://cognitiveservices.azure.com/.default",
        "https://management.azure.com/.default",
    ]


def test_the_command_serves_the_azure_flavour():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_openai", "--flavour", "azure", "--port", "0", "--api-key", "k"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        base = line.split(" on ", 1)[1].split(" ", 1)[0]
        request = urllib.request.Request(
            f"{base}/openai/models?api-version=2025-04-01-preview", headers={"api-key": "k"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            models = json.loads(response.read())["data"]
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert line.startswith("Fake Azure OpenAI on http://127.0.0.1:")
    assert {"capabilities", "deprecation", "lifecycle_status"} <= set(models[0])
