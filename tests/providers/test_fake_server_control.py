"""The fake server's control routes, as tests in another process drive them."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from providers import openai_api
from tests.conftest import launch as _launch

ROOT = Path(__file__).resolve().parents[2]


def _post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_it_is_driven_over_http(fake_openai, settings):
    base = settings.OPENAI_BASE_URL.removesuffix("/v1")
    job = _launch()

    _post(base, f"/_fake/jobs/{job.id}/outcome", {"outcome": "failed"})
    _post(base, "/_fake/advance", {"seconds": 500})
    _post(base, "/_fake/faults", {"status": 500, "count": 1})

    try:
        openai_api.job_retrieve(job.id)
        raise AssertionError("the injected 500 did not happen")
    except openai_api.ProviderUnavailable:
        pass
    assert openai_api.job_retrieve(job.id).status == "failed"
    with urllib.request.urlopen(base + "/_fake/stats", timeout=5) as response:
        assert json.loads(response.read())["requests"]["job_get"] == 1  # the faulted call never reached a route


def test_only_the_provider_modules_import_the_sdk():
    importers = [
        path.relative_to(ROOT).as_posix()
        for folder in ("config", "core", "registry", "providers")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*(import openai|from openai\b)", path.read_text(), re.MULTILINE)
    ]

    assert sorted(importers) == ["providers/azure_openai.py", "providers/openai_api.py"]
