"""Today's fine-tune jobs for the demo, for `make run`: one new version of each demo model, trained live.

Runs after the other demo commands, so the versions it registers today are numbered after last
month's (seed_sbs_demo's candidate included). Safe to run twice: a model whose demo job version
exists (found by its training file) gets no other.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from core.errors import ApplicationError
from lifecycle.models import Provider
from providers.registry import configured_providers
from registry import fine_tuning, services
from registry.management.commands.seed_demo import MODELS
from registry.models import ModelVersion, RegisteredModel

# The demo model compliance moves to Azure OpenAI before its new version.
AZURE_MODEL = "claims-triage"
CHANGELOG = "Nightly retrain on this week's curated chats; expect the same behaviour, fresher facts."


def training_data(name: str) -> bytes:
    """A small generated training set, the same on every run (so a rerun finds the version it made)."""
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"{name} question {i}"},
                    {"role": "assistant", "content": f"{name} answer {i} (nightly retrain)"},
                ]
            }
        )
        + "\n"
        for i in range(20)
    ).encode()


class Command(BaseCommand):
    help = "Start today's demo fine-tune jobs: a new version of each demo model (needs OPENAI_*). Run seed_demo first."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data: run with DEBUG=1, or --force.")
        users = {u.username: u for u in get_user_model().objects.filter(username__in=("engineer", "compliance"))}
        if len(users) != 2 or RegisteredModel.objects.filter(name__in=[m[0] for m in MODELS]).count() != len(MODELS):
            raise CommandError("Run seed_demo first: it creates the demo models and users.")
        with audit_source(Source.COMMAND):
            self._move_to_azure(users["compliance"])
            self._jobs(users["engineer"])

    def _move_to_azure(self, compliance) -> None:
        """Compliance moves claims-triage to Azure before its new version: OpenAI's fine-tuning closes."""
        model = RegisteredModel.objects.get(name=AZURE_MODEL)
        if model.provider == Provider.AZURE:
            return
        if Provider.AZURE not in configured_providers():
            self.stdout.write(f"Azure OpenAI is not configured: {AZURE_MODEL} stays on OpenAI.")
            return
        services.model_update(
            model=model,
            actor=compliance,
            data={"provider": Provider.AZURE},
            reason="OpenAI takes no new fine-tuning jobs after 2027-01-06: claims-triage trains on Azure OpenAI "
            "from its next version (CAB-31).",
        )
        self.stdout.write(f"Moved {AZURE_MODEL} to Azure OpenAI (its earlier versions stay on OpenAI)")

    def _jobs(self, engineer) -> None:
        """A new version of each demo model, trained on a small generated data set: its job runs live."""
        for name, *_ in MODELS:
            model = RegisteredModel.objects.get(name=name)
            data = training_data(name)
            sha256 = hashlib.sha256(data).hexdigest()
            version = ModelVersion.objects.filter(model=model, training_file_sha256=sha256).first()
            if version is not None and version.provider_job_id:
                continue
            if version is None:
                numbers = [int(v[1:]) for v in model.versions.values_list("version", flat=True) if v[1:].isdigit()]
                version = services.version_register(
                    model=model,
                    actor=engineer,
                    version=f"v{max(numbers, default=0) + 1}",
                    training_file_sha256=sha256,
                    changelog=CHANGELOG,
                    reason="Demo data",
                )
            try:
                fine_tuning.version_fine_tune_launch(
                    version=version,
                    actor=engineer,
                    training=fine_tuning.Dataset(content=data, filename=f"{name}-{version.version}.jsonl"),
                    hyperparameters={"n_epochs": 2},
                )
            except ApplicationError as exc:
                self.stderr.write(f"Could not start the demo job of {model.name}:{version.version}: {exc.message}")
                continue
            self.stdout.write(
                f"Started the fine-tune job of {model.name}:{version.version} on {version.get_provider_display()}"
            )
