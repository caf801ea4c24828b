from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from providers.fake_openai import Durations, FakeOpenAI, serve


class Command(BaseCommand):
    help = "Serve a fake OpenAI fine-tuning API on loopback (for development and tests)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--api-key", default="sk-fake-local")
        parser.add_argument("--webhook-url", default=None, help="Where to POST signed webhooks.")
        parser.add_argument("--webhook-secret", default=None, help="whsec_... secret to sign them with.")
        parser.add_argument("--running-seconds", type=float, default=20.0, help="How long a job trains.")

    def handle(self, *args, port, api_key, webhook_url, webhook_secret, running_seconds, **options):
        state = FakeOpenAI(
            api_key=api_key,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            durations=Durations(validating=3.0, queued=5.0, running=running_seconds),
        )
        server, _ = serve(state, port=port)
        self.stdout.write(f"Fake OpenAI API on http://127.0.0.1:{server.server_port}/v1 (key {api_key})")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(timeout=5):
                state.advance(0)  # jobs progress (and send webhooks) even when nobody asks
        except KeyboardInterrupt:
            pass
        server.shutdown()
