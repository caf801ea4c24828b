"""Golden set versions and side-by-side runs for the sbs tests: built through the services, as users would."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import services as dataset_services
from sbs import services


def golden_jsonl(items: list[tuple[str, list[str]]], *, reference: bool = True) -> bytes:
    """A golden set file: one line per (id, intents), each with a distinct user turn."""
    lines = []
    for item_id, intents in items:
        entry = {
            "id": item_id,
            "intents": intents,
            "messages": [{"role": "user", "content": f"Question number {item_id} about {' and '.join(intents)}?"}],
        }
        if reference:
            entry["reference"] = f"The reference answer to {item_id}."
        lines.append(json.dumps(entry))
    return ("\n".join(lines) + "\n").encode()


def golden_version(actor, items: list[tuple[str, list[str]]], *, name: str = "support-golden"):
    """Upload a golden set version; the golden dataset that is it."""
    content = golden_jsonl(items)
    result = dataset_services.golden_version_upload(
        name=name, upload=SimpleUploadedFile("golden.jsonl", content), actor=actor
    )
    return result.dataset


def run(version, actor, golden, verdicts: list[dict], *, baseline: str = "", judge: str = "gpt-4.1-judge"):
    return services.sbs_run_create(
        version=version,
        actor=actor,
        golden=golden,
        baseline=baseline or version.model.base_model,
        judge=judge,
        verdicts=verdicts,
    )
