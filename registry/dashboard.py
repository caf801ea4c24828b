"""What the registry puts on the admin's home page: promotions waiting for a decision, with the
gate's verdict as it stands now, and the live deployments whose base model is retiring.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core.admin_site import ROWS_SHOWN, Panel, Row, dashboard_panel
from core.wording import plural
from lifecycle.admin import days_words
from lifecycle.selectors import WARNING, runway_urgency
from registry import selectors
from registry.gates import PASS, gate_evaluate
from registry.runway import live_deployments


def _gate_words(promotion) -> tuple[str, str]:
    """The gate's verdict on the version now (what approving would check): badge and the first failing rule."""
    gate = gate_evaluate(promotion.version)
    if gate.passed:
        return "Gate passes", ""
    failing = [r for r in gate.rules if r.outcome != PASS]
    first = failing[0]
    words = f"{first.rule} ({first.outcome})"
    others = len(failing) - 1
    if others:
        words += f", and {plural(others, 'other rule')}"
    return "Gate fails", f" Gate fails on {words}."


@dashboard_panel(order=10)
def pending_promotions(request) -> Panel | None:
    if not request.user.has_perm("registry.view_promotion"):
        return None
    promotions = selectors.promotion_pending_list()
    rows = []
    for promotion in promotions[:ROWS_SHOWN]:
        badge, failing = _gate_words(promotion)
        target = promotion.target + (f" at {promotion.traffic_percent}%" if promotion.traffic_percent else "")
        yours = promotion.requested_by_id == request.user.pk
        requested = f"Requested by {'you' if yours else promotion.requested_by.get_username()} on " + (
            f"{timezone.localdate(promotion.requested_at):%Y-%m-%d}."
        )
        rows.append(
            Row(
                label=f"{promotion.version} to {target}",
                url=reverse("admin:registry_promotion_change", args=[promotion.pk]),
                detail=requested + failing + (" Someone else decides it." if yours else ""),
                badge=badge,
                tone="good" if badge == "Gate passes" else "bad",
                yours=yours,
            )
        )
    return Panel(
        title="Promotions waiting for a decision",
        count=promotions.count(),
        list_url=f"{reverse('admin:registry_promotion_changelist')}?{urlencode({'status__exact': 'pending'})}",
        empty="No promotion is waiting for a decision.",
        tone="warn",
        rows=rows,
    )


@dashboard_panel(order=60)
def retiring_deployments(request) -> Panel | None:
    """Live deployments whose model shuts down within LIFECYCLE_WARN_DAYS (or has shut down)."""
    if not request.user.has_perm("registry.view_registeredmodel"):
        return None
    warn_days = settings.LIFECYCLE_WARN_DAYS
    retiring = live_deployments(within_days=warn_days)
    rows = []
    for live in retiring[:ROWS_SHOWN]:
        deployment, runway = live.deployment, live.runway
        stage = runway_urgency(runway.days_left, warn_days=warn_days)
        rows.append(
            Row(
                label=f"{deployment.version} in {deployment.environment}",
                url=reverse("admin:registry_registeredmodel_change", args=[deployment.model_id]),
                detail=f"Its base model {runway.base_model} shuts down on {runway.shutdown_date:%Y-%m-%d}."
                + (f" Replacement: {runway.replacement}." if runway.replacement else ""),
                badge=days_words(runway.days_left),
                tone="warn" if stage == WARNING else "bad",
            )
        )
    return Panel(
        title=f"Live deployments retiring within {warn_days} days",
        count=len(retiring),
        list_url=f"{reverse('admin:registry_runway')}?{urlencode({'within_days': warn_days})}",
        empty=f"No live deployment's model shuts down within {warn_days} days.",
        tone="warn",
        rows=rows,
    )
