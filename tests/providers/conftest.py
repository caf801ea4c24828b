from __future__ import annotations

import pytest

from providers import openai_api
from providers.fake_openai import Durations, FakeOpenAI, serve

CANARY_KEY = "sk-canary-9f8e7d6c5b4a-must-never-leak"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="


@pytest.fixture
def fake_openai(settings):
    """The fake OpenAI server on a free loopback port, with Fineprint's settings pointed at it."""
    state = FakeOpenAI(
        api_key=CANARY_KEY,
        webhook_secret=WEBHOOK_SECRET,
        durations=Durations(validating=10, queued=10, running=100),
    )
    server, thread = serve(state)
    settings.OPENAI_API_KEY = CANARY_KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    settings.OPENAI_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.OPENAI_TIMEOUT_SECONDS = 1
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


TRAINING = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 3


def launch(metadata=None) -> openai_api.Job:
    file_id = openai_api.file_upload(filename="train.jsonl", content=TRAINING)
    return openai_api.job_create(
        model="gpt-3.5-turbo-0125", training_file=file_id, suffix="support-v3", metadata=metadata, seed=7
    )
