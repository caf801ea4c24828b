"""Generating a report revision, and delivering it by email; every write leaves a history row.

Generating claims the trigger first (a lease named after its key), so two beats or a
retried task never build two revisions for one trigger; the revision row carries the
key under a unique constraint, the database's last word on a race. Regenerating a
period is a new trigger and makes revision n+1; earlier revisions are kept.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audited_save
from core.errors import Conflict, PermissionDenied
from core.leases import lease_claim, lease_release
from core.roles import Role, has_role
from core.wording import plural
from reports.builder import data_sha256, report_data
from reports.models import Delivery, DeliveryStatus, Report, ReportRevision, Trigger
from reports.periods import Period
from reports.render import pdf_pages, render_pdf

logger = logging.getLogger(__name__)

# Long enough for the largest report the benchmark builds, many times over.
GENERATION_LEASE_SECONDS = 600


def schedule_trigger_key(period: Period) -> str:
    """The one scheduled trigger of a period: the 1st-of-month run reports on it once, however often it fires."""
    return f"schedule:{period}"


def manual_trigger_key() -> str:
    return f"manual:{uuid.uuid4()}"


def require_report_reader(actor) -> None:
    if not has_role(actor, Role.EXECUTIVE, Role.COMPLIANCE):
        raise PermissionDenied("Reports are for executives and compliance staff.")


@dataclass(frozen=True)
class Generated:
    revision: ReportRevision
    created: bool  # False: this trigger had already produced it


def report_generate(*, period: Period, actor, trigger: str, trigger_key: str | None = None) -> Generated | None:
    """Build, render and store a revision of `period`'s report.

    Returns the existing revision when this trigger already produced one, and None
    when another process is generating it right now (it will store it).
    """
    # The schedule and the command line act with the server's authority; people need the role.
    if trigger in (Trigger.ADMIN, Trigger.API) and not has_role(actor, Role.COMPLIANCE):
        raise PermissionDenied("Only compliance staff generate reports.")
    key = trigger_key or manual_trigger_key()
    done = ReportRevision.objects.filter(trigger_key=key).first()
    if done is not None:
        return Generated(done, created=False)
    holder = lease_claim(f"report:{key}", seconds=GENERATION_LEASE_SECONDS)
    if holder is None:
        logger.info("Report trigger %s is being generated elsewhere; leaving it to that process.", key)
        return None
    try:
        done = ReportRevision.objects.filter(trigger_key=key).first()  # finished while we claimed
        if done is not None:
            return Generated(done, created=False)
        started = timezone.now()
        clock = time.perf_counter()
        data = report_data(period, now=started)
        sha = data_sha256(data)
        built = time.perf_counter()
        pdf = render_pdf(data, sha256=sha)
        rendered = time.perf_counter()
        revision = _store(
            period=period,
            actor=actor,
            trigger=trigger,
            key=key,
            data=data,
            sha=sha,
            pdf=pdf,
            started=started,
            build_seconds=built - clock,
            render_seconds=rendered - built,
        )
        return Generated(revision, created=True)
    finally:
        lease_release(f"report:{key}", holder)


def _report_for(period: Period, *, actor) -> Report:
    """The period's report row, created on first use, locked: revision numbers are taken one at a time."""
    if not Report.objects.filter(period=period.first_day).exists():
        try:
            with transaction.atomic():
                audited_save(Report(period=period.first_day), actor=actor, reason=f"First report for {period}")
        except IntegrityError:
            pass  # created by a concurrent generation a moment ago
    return Report.objects.select_for_update().get(period=period.first_day)


@transaction.atomic
def _store(*, period, actor, trigger, key, data, sha, pdf, started, build_seconds, render_seconds) -> ReportRevision:
    report = _report_for(period, actor=actor)
    last = report.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    revision = ReportRevision(
        report=report,
        number=last + 1,
        trigger=trigger,
        trigger_key=key,
        triggered_by=actor,
        data=data,
        data_sha256=sha,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pdf_bytes=len(pdf),
        pages=pdf_pages(pdf),
        started_at=started,
        generated_at=timezone.now(),
        build_seconds=round(build_seconds, 3),
        render_seconds=round(render_seconds, 3),
    )
    revision.pdf.save(f"{period}-r{revision.number}.pdf", ContentFile(pdf), save=False)
    what = "regenerated" if last else "generated"
    reason = f"Report {period} {what} as revision {revision.number} ({Trigger(trigger).label})"
    try:
        with transaction.atomic():
            audited_save(revision, actor=actor, reason=reason)
    except IntegrityError:
        revision.pdf.delete(save=False)
        raise Conflict(f"The report of {period} was generated by this trigger already.") from None
    return revision


# --- Delivery ---------------------------------------------------------------------------


def recipients() -> list[tuple[str, int | None]]:
    """(email, user id): active Executives with an address, then the configured extra addresses."""
    users = (
        get_user_model()
        .objects.filter(groups__name=Role.EXECUTIVE, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", "pk")
    )
    found = {email.lower(): (email, pk) for email, pk in users}
    for email in settings.REPORT_EXTRA_RECIPIENTS:
        found.setdefault(email.lower(), (email, None))
    return list(found.values())


@transaction.atomic
def deliveries_create(*, revision: ReportRevision, actor, reason: str = "") -> list[Delivery]:
    """One pending delivery per recipient; a recipient that already has one for this revision keeps it."""
    created = []
    existing = set(revision.deliveries.values_list("email", flat=True))
    for email, user_id in recipients():
        if email in existing:
            continue
        delivery = Delivery(revision=revision, email=email, user_id=user_id)
        audited_save(delivery, actor=actor, reason=reason or f"{revision} to be sent to {email}")
        created.append(delivery)
    return created


def deliveries_resend(*, revision: ReportRevision, actor, reason: str) -> list[Delivery]:
    """Send the same PDF again to every recipient (and to any new one); nothing is regenerated."""
    deliveries_create(revision=revision, actor=actor, reason=reason)
    resent = []
    for delivery in revision.deliveries.all():
        with transaction.atomic():
            delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
            delivery.status = DeliveryStatus.PENDING
            audited_save(delivery, actor=actor, reason=f"Resend: {reason}")
        resent.append(delivery)
    return resent


def _message(delivery: Delivery) -> EmailMessage:
    revision = delivery.revision
    data = revision.data
    d = data["decisions"]
    runway = d.get("runway_without_candidate", [])  # revisions built before the runway section have none
    status = data.get("status")  # and those built before the decision page have no status
    body = "\n".join(
        [
            f"The AI models and risks report for {data['period_label']} is attached (revision {revision.number}).",
            *([f"Status of the month: {status['colour'].upper()}.", ""] if status else [""]),
            "Decisions required:",
            f"- {plural(len(d['over_appetite']), 'risk')} over appetite, not accepted",
            f"- {plural(len(d['acceptances_expiring']), 'acceptance')} expiring within 30 days",
            f"- {plural(len(d['overdue_reviews']), 'risk review')} overdue",
            f"- {plural(len(d['pending_promotions']), 'promotion')} waiting for a decision",
            f"- {plural(len(d['gate_overrides']), 'release gate')} overridden this month",
            f"- {plural(len(runway), 'production version')} running out of runway with no candidate ready",
            "",
            f"Open risks: {data['risks']['open']}. Incidents opened this month: {len(data['incidents']['opened'])}.",
            "",
            f"SHA-256 of the PDF: {revision.pdf_sha256}",
            f"SHA-256 of its data: {revision.data_sha256}",
        ]
    )
    message = EmailMessage(
        subject=f"[Fineprint] AI models and risks: {data['period_label']}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.email],
    )
    with revision.pdf.open("rb") as pdf:
        message.attach(
            f"fineprint-report-{revision.report.period:%Y-%m}-r{revision.number}.pdf", pdf.read(), "application/pdf"
        )
    return message


class DeliveryFailed(Exception):
    """A send failed in a way a later attempt may fix (the mail server was down, refused for now...)."""


def delivery_send(*, delivery_id: int, actor, final_attempt: bool) -> Delivery:
    """Send one delivery if it is pending; record the attempt. Raises DeliveryFailed to ask for a retry."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("revision__report").get(pk=delivery_id)
        if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return delivery  # done, or given up: a duplicate task does nothing
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        try:
            _message(delivery).send(fail_silently=False)
        except (OSError, ConnectionError, TimeoutError) as exc:  # smtplib.SMTPException is an OSError
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            delivery.status = DeliveryStatus.FAILED if final_attempt else DeliveryStatus.RETRYING
            what = "gave up" if final_attempt else "will retry"
            audited_save(
                delivery, actor=actor, reason=f"Attempt {delivery.attempts} failed ({what}): {delivery.last_error}"
            )
            failed = True
        else:
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = timezone.now()
            delivery.last_error = ""
            audited_save(delivery, actor=actor, reason=f"Sent to {delivery.email} (attempt {delivery.attempts})")
            failed = False
    if failed and not final_attempt:
        raise DeliveryFailed(delivery.last_error)
    return delivery
