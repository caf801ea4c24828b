"""What the risk register puts on the admin's home page: overdue reviews, breached controls,
acceptances about to expire and open incidents with their reporting clocks.

Each panel reads through risks.selectors and links to the admin list filtered to the same records.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from core.admin_site import ROWS_SHOWN, Panel, Row, dashboard_panel
from risks import selectors
from risks.models import IncidentStatus


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


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
                detail=f"{incident.get_severity_display()}, {incident.version}. {clock}",
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
