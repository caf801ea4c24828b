"""The registry's runway in the admin: the live deployments' days left, and the migration page.

Both pages read through the registry's runway selectors (`live_deployments`,
`migration_plans`), which read the provider catalogue once whatever the number
of rows. The urgency words and colours come from the catalogue's admin.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from lifecycle.admin import SOURCE_WORDS, days_badge, state_badge, urgency
from lifecycle.models import LifecycleState, Provider
from lifecycle.selectors import Runway
from lifecycle.selectors import today as lifecycle_today
from registry.gates import FAIL, MISSING, PASS
from registry.migration import migration_plans
from registry.models import Environment, RegisteredModel
from registry.runway import live_deployments

RETIRING = (LifecycleState.DEPRECATED, LifecycleState.SHUTDOWN)
OUTCOME_STYLE = {
    PASS: ("Pass", "#2e7d32"),
    FAIL: ("Fail", "#c62828"),
    MISSING: ("Missing", "#8d6e00"),
}


def runway_display(runway: Runway):
    """A runway as a short read-only table: state, shutdown date and its source, days left, replacement."""
    if not runway.known:
        return format_html(
            '{} is not in the provider catalogue yet: no shutdown date is known. <a href="{}">Sync the catalogue</a>.',
            runway.model_id,
            reverse("admin:lifecycle_providermodel_changelist"),
        )
    rows = [
        ("State", state_badge(runway.state)),
        (
            "Shutdown date",
            format_html(
                '{} <span class="quiet">(source: {})</span>',
                runway.shutdown_date.isoformat() if runway.shutdown_date else "none announced",
                SOURCE_WORDS.get(runway.source, runway.source),
            ),
        ),
        ("Days left", days_badge(runway.days_left, with_band=True)),
        ("Replacement", runway.replacement or "none named"),
    ]
    if runway.model_id != runway.base_model:
        rows.insert(0, ("Fine-tuned model", format_html("<code>{}</code>", runway.model_id)))
    return format_html(
        '<table class="fp-runway">{}</table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
    )


def _allowed(request) -> None:
    # Every role reads models and versions; the runway is part of what they read.
    if not request.user.has_perm("registry.view_registeredmodel"):
        raise PermissionDenied


class RunwayFilterForm(forms.Form):
    within_days = forms.IntegerField(required=False, min_value=0, max_value=3650, label="Shutting down within (days)")
    provider = forms.ChoiceField(required=False, choices=[("", "Any provider"), *Provider.choices])


def _context(admin_site, request, title: str) -> dict:
    return {
        **admin_site.each_context(request),
        "title": title,
        "opts": RegisteredModel._meta,
        "today": lifecycle_today(),
    }


def runway_view(request, *, admin_site):
    """Every live deployment (production and canary), soonest shutdown first."""
    _allowed(request)
    form = RunwayFilterForm(request.GET or None)
    within_days = provider = None
    if form.is_valid():
        within_days = form.cleaned_data["within_days"]
        provider = form.cleaned_data["provider"] or None
    rows = []
    for live in live_deployments(within_days=within_days, provider=provider):
        deployment, runway = live.deployment, live.runway
        rows.append(
            {
                "deployment": deployment,
                "model": deployment.model,
                "version": deployment.version,
                "environment": Environment(deployment.environment).label,
                "runway": runway,
                "source": SOURCE_WORDS.get(runway.source, ""),
                "days": days_badge(runway.days_left, with_band=True) if runway.known else state_badge(runway.state),
                "urgency": urgency(runway.days_left).key if runway.known else "unknown",
                "retiring": runway.state in RETIRING,
            }
        )
    context = {
        **_context(admin_site, request, "Runway of live deployments"),
        "form": form,
        "rows": rows,
        "quick": [(f"Within {days} days", days) for days in sorted({7, 30, settings.LIFECYCLE_WARN_DAYS})],
        "within_days": within_days,
        "provider": provider or "",
    }
    return TemplateResponse(request, "admin/registry/runway.html", context)


def _rule_rows(gate) -> list[dict]:
    rows = []
    for rule in gate.rules:
        word, colour = OUTCOME_STYLE.get(rule.outcome, (rule.outcome, "#424242"))
        rows.append(
            {
                "rule": rule.rule,
                "value": "-" if rule.value is None else f"{rule.value:g}",
                "word": word,
                "colour": colour,
                "detail": rule.detail,
            }
        )
    return rows


def migration_view(request, *, admin_site):
    """For each live deployment on a retiring base: the deadline, and which candidate is ready to take over."""
    _allowed(request)
    model = (request.GET.get("model") or "").strip() or None
    plans = []
    for plan in migration_plans(model=model):
        live = plan.live
        plans.append(
            {
                "deployment": live.deployment,
                "model": live.deployment.model,
                "version": live.deployment.version,
                "environment": Environment(live.deployment.environment).label,
                "runway": live.runway,
                "deadline": plan.deadline,
                "days": days_badge(live.runway.days_left, with_band=True),
                "ready": plan.ready,
                "ready_versions": [c.version.version for c in plan.candidates if c.gate.passed],
                "candidates": [
                    {
                        "version": c.version,
                        "runway": c.runway,
                        "state": state_badge(c.runway.state),
                        "passed": c.gate.passed,
                        "policy": f"policy v{c.gate.policy.version}"
                        if c.gate.policy.version
                        else "the default policy (settings)",
                        "rules": _rule_rows(c.gate),
                    }
                    for c in plan.candidates
                ],
            }
        )
    context = {
        **_context(admin_site, request, "Migration: are we ready to move, and by when?"),
        "plans": plans,
        "model": model or "",
        "ready_count": sum(1 for p in plans if p["ready"]),
    }
    return TemplateResponse(request, "admin/registry/migration.html", context)


def lifecycle_urls(admin_site) -> list:
    """The runway pages, mounted under the registry's admin (see DeploymentAdmin.get_urls)."""
    return [
        path("runway/", admin_site.admin_view(lambda r: runway_view(r, admin_site=admin_site)), name="registry_runway"),
        path(
            "migration/",
            admin_site.admin_view(lambda r: migration_view(r, admin_site=admin_site)),
            name="registry_migration",
        ),
    ]
