"""What the risk register puts on the admin's home page: overdue reviews, breached controls,
acceptances about to expire and open incidents with their reporting clocks; the audit trail's
latest verification, and on every admin page a red banner while an incident about a failed
verification is open.

Each panel reads through risks.selectors and links to the admin list filtered to the same records.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from core.admin_site import ROWS_SHOWN, Alert, Note, Panel, Row, admin_alert, dashboard_note, dashboard_panel
from core.models import AuditVerification
from core.wording import plural
from risks import selectors
from risks.models import Incident, IncidentStatus


def _days(n: int) -> str:
    return plural(n, "day")


def _since(moment: datetime, now: datetime) -> str:
    """Today, 1 day ago, 12 days ago: how long ago `moment` (in the past) was, in days."""
    days = (timezone.localdate(now) - timezone.localdate(moment)).days
    return "today" if days <= 0 else f"{_days(days)} ago"


def _until(moment: datetime, now: datetime) -> str:
    """Today, in 1 day, in 12 days: how far off `moment` (in the future) is, in days."""
    days = (timezone.localdate(moment) - timezone.localdate(now)).days
    return "today" if days <= 0 else f"in {_days(days)}"


def _day(moment: datetime) -> str:
    return f"{timezone.localdate(moment):%Y-%m-%d}"


def _list(name: str, **params) -> str:
    url = reverse(f"admin:risks_{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _change(name: str, pk: int) -> str:
    return reverse(f"admin:risks_{name}_change", args=[pk])


@dashboard_panel(order=20)
def overdue_reviews(request) -> Panel | None:
    if not request.user.has_perm("risks.view_risk"):
        return None
    now = timezone.now()
    risks = selectors.risk_list(filters=selectors.RiskFilters(overdue=True)).order_by("next_review_at", "reference")
    me = request.user.pk
    return Panel(
        title="Overdue reviews",
        count=risks.count(),
        list_url=_list("risk", overdue="yes"),
        empty="No risk review is overdue.",
        rows=[
            Row(
                label=f"{risk.reference} {risk.title}",
                url=_change("risk", risk.pk),
                detail=f"Review was due {_day(risk.next_review_at)} ({_since(risk.next_review_at, now)}); "
                f"owner {risk.owner.get_username()}.",
                badge="Overdue",
                tone="bad",
                yours=me in (risk.owner_id, risk.delegate_id),
            )
            for risk in risks[:ROWS_SHOWN]
        ],
    )


@dashboard_panel(order=30)
def breached_controls(request) -> Panel | None:
    if not request.user.has_perm("risks.view_control"):
        return None
    now = timezone.now()
    controls = selectors.control_list(breached=True).order_by("breached_since", "reference")
    me = request.user.pk

    def detail(control) -> str:
        since = f"Breached since {_day(control.breached_since)} ({_since(control.breached_since, now)})"
        return f"{since}: {control.breach_detail}" if control.breach_detail else f"{since}."

    return Panel(
        title="Breached controls",
        count=controls.count(),
        list_url=_list("control", breached__exact="1"),
        empty="No control is breached.",
        rows=[
            Row(
                label=f"{control.reference} {control.name}",
                url=_change("control", control.pk),
                detail=detail(control) if control.breached_since else "Breached.",
                badge="Breached",
                tone="bad",
                yours=control.owner_id == me,
            )
            for control in controls[:ROWS_SHOWN]
        ],
    )


@dashboard_panel(order=40)
def expiring_acceptances(request) -> Panel | None:
    if not request.user.has_perm("risks.view_acceptance"):
        return None
    now = timezone.now()
    acceptances = selectors.acceptance_expiring_list(now=now)
    before = selectors.acceptance_expiring_before(now).isoformat(timespec="seconds")
    me = request.user.pk
    return Panel(
        title=f"Acceptances expiring within {selectors.ACCEPTANCE_EXPIRY_WINDOW_DAYS} days",
        count=acceptances.count(),
        list_url=_list("acceptance", status__exact="active", expires_at__lt=before),
        empty=f"No acceptance expires within {selectors.ACCEPTANCE_EXPIRY_WINDOW_DAYS} days.",
        tone="warn",
        rows=[
            Row(
                label=f"{acceptance.risk.reference} {acceptance.risk.title}",
                url=_change("acceptance", acceptance.pk),
                detail=f"Expires {_day(acceptance.expires_at)} ({_until(acceptance.expires_at, now)}); "
                f"accepted by {acceptance.accepted_by.get_username()}.",
                badge="Expiring",
                tone="warn",
                yours=acceptance.accepted_by_id == me,
            )
            for acceptance in acceptances[:ROWS_SHOWN]
        ],
    )


def reporting_clock(incident, now: datetime) -> tuple[str, str, str]:
    """The incident's reporting clock as (sentence, badge, tone)."""
    if not incident.serious:
        return "Not serious: no report to the authority is due.", incident.get_status_display(), "warn"
    deadline = incident.reporting_deadline
    if incident.reported_to_authority_at:
        reported = _day(incident.reported_to_authority_at)
        return f"Reported to the authority on {reported} (deadline {_day(deadline)}).", "Reported", "good"
    if deadline <= now:
        return f"Report to the authority was due {_day(deadline)} ({_since(deadline, now)}).", "Report late", "bad"
    return f"Report to the authority due by {_day(deadline)} ({_until(deadline, now)}).", "Report due", "bad"


@dashboard_panel(order=50)
def open_incidents(request) -> Panel | None:
    if not request.user.has_perm("risks.view_incident"):
        return None
    now = timezone.now()
    incidents = selectors.incident_open_list()
    me = request.user.pk
    rows = []
    for incident in incidents[:ROWS_SHOWN]:
        clock, badge, tone = reporting_clock(incident, now)
        rows.append(
            Row(
                label=f"{incident.reference} {incident.title}",
                url=_change("incident", incident.pk),
                detail=f"{incident.get_severity_display()}, {incident.subject}. {clock}",
                badge=badge,
                tone=tone,
                yours=incident.reporter_id == me,
            )
        )
    still_open = [status for status in IncidentStatus.values if status != IncidentStatus.CLOSED]
    return Panel(
        title="Open incidents",
        count=incidents.count(),
        list_url=_list("incident", status__in=",".join(still_open)),
        empty="No incident is open.",
        rows=rows,
    )


def _moment(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _can_see_audit_trail(user) -> bool:
    return user.has_perm("risks.view_incident") or user.has_perm("core.view_auditverification")


@admin_alert
def audit_trail_broken(request) -> Alert | None:
    """While an incident about a failed verification is open: when it failed, the broken link, the incident."""
    if not _can_see_audit_trail(request.user):
        return None
    failures = AuditVerification.objects.filter(ok=False, incident_reference=OuterRef("reference")).order_by(
        "started_at", "id"
    )
    incident = (
        Incident.objects.filter(version__isnull=True)
        .exclude(status=IncidentStatus.CLOSED)
        .annotate(
            failed_at=Subquery(failures.values("started_at")[:1]), problem=Subquery(failures.values("problem")[:1])
        )
        .order_by("created_at", "id")
        .only("pk", "reference")
        .first()
    )
    if incident is None:
        return None
    when = f" at {_moment(incident.failed_at)}" if incident.failed_at else ""
    problem = f": {AuditVerification(problem=incident.problem).summary}" if incident.problem else ""
    return Alert(
        message=f"Audit trail verification failed{when}{problem}. Incident {incident.reference} is open.",
        url=_change("incident", incident.pk),
        link=f"Open {incident.reference}",
    )


@dashboard_note(order=10)
def audit_trail_last_check(request) -> Note | None:
    """The latest verification of the audit trail: passed or failed, when, how many rows."""
    if not _can_see_audit_trail(request.user):
        return None
    latest = AuditVerification.objects.order_by("-started_at", "-id").first()
    if latest is None:
        return Note(label="Audit trail", text="Not verified yet: the verifier runs daily and hourly.", tone="warn")
    when = f"{_moment(latest.started_at)} ({_since(latest.started_at, timezone.now())})"
    if latest.ok:
        text = (
            f"Last verified {when}, {latest.get_scope_display().lower()}: "
            f"{latest.rows_checked} rows checked up to link {latest.last_seq}."
        )
    else:
        text = f"Last checked {when}, {latest.get_scope_display().lower()}: {latest.summary}."
    return Note(
        label="Audit trail",
        text=text,
        url=reverse("admin:core_auditverification_changelist"),
        badge="Passed" if latest.ok else "Failed",
        tone="good" if latest.ok else "bad",
    )
