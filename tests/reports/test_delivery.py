"""Delivery by email to a real SMTP server on loopback (aiosmtpd): per recipient, retried, resent."""

from __future__ import annotations

import contextlib
import email
import socket

import pytest
from aiosmtpd.controller import Controller

from core.audit import service_user
from reports import services
from reports.models import Delivery, DeliveryStatus, ReportRevision, Trigger
from reports.periods import Period
from reports.tasks import report_delivery_send, report_monthly
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings, tmp_path):
    """Django's SMTP backend pointed at a port; `start()` opens the server there, `stop()` closes it."""
    port = _free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.MEDIA_ROOT = tmp_path
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    inbox.start, inbox.stop = controller.start, controller.stop
    yield inbox
    with contextlib.suppress(AssertionError):  # already stopped
        controller.stop()


def test_it_emails_the_pdf_to_every_executive_and_the_extra_addresses(
    world, smtp, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.REPORT_EXTRA_RECIPIENTS = ["board@example.com"]
    make_user("no-mail-exec", "Executives")  # no address: nobody to send to
    smtp.start()

    with django_capture_on_commit_callbacks(execute=True):  # sends are queued once the run commits
        result = report_monthly.delay("2026-10").get()

    assert result["sending"] == 2
    assert sorted(to[0] for to, _ in smtp.messages) == ["board@example.com", "eve@example.com"]
    _, message = smtp.messages[0]
    assert message["Subject"] == "[Fineprint] AI models and risks: October 2026"
    body, attachment = message.get_payload()
    text = body.get_payload(decode=True).decode()
    # Proper plurals: one of a thing, none of another, never "risk(s)".
    assert "Status of the month: RED." in text
    assert "- 1 risk over appetite, not accepted" in text
    assert "- 0 promotions waiting for a decision" in text
    assert "- 1 acceptance expiring within 30 days" in text
    assert "(s)" not in text
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "fineprint-report-2026-10-r1.pdf"
    assert attachment.get_payload(decode=True).startswith(b"%PDF")
    deliveries = Delivery.objects.all()
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert Delivery.objects.get(email="eve@example.com").user == world["executive"]
    sent = Delivery.objects.get(email="eve@example.com").history.first()
    assert (sent.history_user, sent.history_source) == (service_user(), "task")
    assert sent.history_change_reason == "Sent to eve@example.com (attempt 1)"


def test_a_failed_send_is_retried_and_then_succeeds(world, smtp, eager_celery):
    result = services.report_generate(
        period=Period(2026, 10), actor=service_user(), trigger=Trigger.SCHEDULE, trigger_key="schedule:test"
    )
    [delivery] = services.deliveries_create(revision=result.revision, actor=service_user())

    with pytest.raises(services.DeliveryFailed):  # the mail server is down
        services.delivery_send(delivery_id=delivery.pk, actor=service_user(), final_attempt=False)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
    assert "ConnectionRefusedError" in delivery.last_error
    assert delivery.history.first().history_change_reason.startswith("Attempt 1 failed (will retry)")

    smtp.start()
    assert report_delivery_send.delay(delivery.pk).get() == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 2, "")
    assert len(smtp.messages) == 1
    assert ReportRevision.objects.count() == 1  # a retry never regenerates


def test_a_send_that_keeps_failing_is_marked_failed(
    world, smtp, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.REPORT_DELIVERY_MAX_RETRIES = 2
    with django_capture_on_commit_callbacks(execute=True):
        result = report_monthly.delay("2026-10").get()  # the server never starts
    delivery = Delivery.objects.get()

    assert result["sending"] == 1
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.history.first().history_change_reason.startswith("Attempt 3 failed (gave up)")
    # A duplicate task for a delivery given up does nothing.
    assert report_delivery_send.delay(delivery.pk).get() == DeliveryStatus.FAILED
    assert Delivery.objects.get().attempts == 3


def test_resend_sends_the_same_pdf_again_without_regenerating(
    world, smtp, eager_celery, compliance, django_capture_on_commit_callbacks
):
    from reports.tasks import enqueue_pending

    smtp.start()
    with django_capture_on_commit_callbacks(execute=True):
        report_monthly.delay("2026-10").get()
    revision = ReportRevision.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        services.deliveries_resend(revision=revision, actor=compliance, reason="Eve lost it")
        enqueue_pending(revision)

    assert len(smtp.messages) == 2
    first, second = (m.get_payload()[1].get_payload(decode=True) for _, m in smtp.messages)
    assert first == second
    assert ReportRevision.objects.count() == 1
    row = Delivery.objects.get().history.filter(history_user=compliance).first()
    assert row.history_change_reason == "Resend: Eve lost it"
