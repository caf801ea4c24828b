from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from providers import fake_azure
from providers.fake_openai import Durations, FakeOpenAI, serve


class Command(BaseCommand):
    help = "Serve a fake OpenAI (or, with --flavour azure, Azure OpenAI) fine-tuning API on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--flavour", choices=("openai", "azure"), default="openai")
        parser.add_argument("--port", type=int, default=None, help="Default 8001 (openai), 8002 (azure).")
        parser.add_argument("--api-key", default=None, help="Default sk-fake-local (openai), azure-fake-local.")
        parser.add_argument("--webhook-url", default=None, help="Where to POST signed webhooks (openai only).")
        parser.add_argument("--webhook-secret", default=None, help="whsec_... secret to sign them with.")
        parser.add_argument("--running-seconds", type=float, default=20.0, help="How long a job trains.")
        parser.add_argument(
            "--management-token", default="fake-management-token", help="Bearer token of the control plane (azure)."
        )

    def handle(
        self, *args, flavour, port, api_key, webhook_url, webhook_secret, running_seconds, management_token, **options
    ):
        durations = Durations(validating=3.0, queued=5.0, running=running_seconds)
        if flavour == "azure":
            api_key = api_key or "azure-fake-local"
            state = fake_azure.FakeAzureOpenAI(api_key=api_key, management_token=management_token, durations=durations)
            server, _ = fake_azure.serve(state, port=8002 if port is None else port)
            base = f"http://127.0.0.1:{server.server_port}"
            self.stdout.write(
                f"Fake Azure OpenAI on {base} (AZURE_OPENAI_ENDPOINT and AZURE_MANAGEMENT_ENDPOINT; key {api_key}, "
                f"subscription {state.subscription_id}, resource group {state.resource_group}, "
                f"resource {state.resource_name})"
            )
        else:
            api_key = api_key or "sk-fake-local"
            state = FakeOpenAI(
                api_key=api_key, webhook_url=webhook_url, webhook_secret=webhook_secret, durations=durations
            )
            server, _ = serve(state, port=8001 if port is None else port)
            self.stdout.write(f"Fake OpenAI API on http://127.0.0.1:{server.server_port}/v1 (key {api_key})")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(timeout=5):
                state.advance(0)  # jobs progress (and send webhooks) even when nobody asks
        except KeyboardInterrupt:
            pass
        server.shutdown()
