"""POST /webhooks/openai/: OpenAI tells us a job finished; we sync that job soon after."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api import error_body
from providers import openai_api
from providers.models import WebhookReceipt
from registry.tasks import fine_tune_job_sync

logger = logging.getLogger(__name__)


@csrf_exempt  # authenticated by its signature, not a session
@require_POST
def openai_webhook(request):
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(error_body("too_large", f"The body is larger than {limit} bytes."), status=413)
    try:
        event = openai_api.webhook_unwrap(body, dict(request.headers))
    except openai_api.WebhookRejected as exc:
        logger.warning("OpenAI webhook rejected: %s", exc.message)
        return JsonResponse(error_body("invalid_webhook", exc.message), status=400)
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(webhook_id=event.webhook_id, event_type=event.type, job_id=event.job_id)
            # Only once the receipt is committed: a replay can never enqueue a second sync.
            fine_tune_job_sync.delay_on_commit(event.job_id)
    except IntegrityError:
        # The provider retries anything but a 2xx: a duplicate delivery is answered as received,
        # and does nothing, or the provider would keep sending it.
        logger.info("OpenAI webhook %s was already received", event.webhook_id)
        return JsonResponse({"received": event.webhook_id, "duplicate": True})
    return JsonResponse({"received": event.webhook_id, "duplicate": False})
