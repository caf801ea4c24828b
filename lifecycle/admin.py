"""The provider catalogue in the admin: read by every role, corrected by compliance with a reason.

Entries come from the provider's own model list, so nothing is added or deleted
here. Compliance may set a shutdown date or a replacement by hand (or hand the
date back to the provider), always through `catalogue_entry_correct`, which
records who and why. "Sync now" queues the same task the daily beat runs.

The urgency words and colours (`urgency`, `days_badge`, `state_badge`) live here
once; the registry's runway pages use them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_audit import AuditedAdmin, ReadOnlyAdmin, ReasonForm
from core.history import history_entries
from core.roles import ADMIN_READERS, Role, has_role
from core.wording import plural
from lifecycle import services
from lifecycle.models import CatalogueSync, LifecycleState, ModelKind, Provider, ProviderModel, ValueSource
from lifecycle.selectors import IMMINENT, NEAR, WARNING, last_sync, runway_urgency
from lifecycle.selectors import SHUT_DOWN as SHUT_DOWN_STAGE
from lifecycle.selectors import today as lifecycle_today
from lifecycle.tasks import catalogue_sync_task
from providers.registry import configured_providers, missing_setting

# --- urgency: words and colours, worst first --------------------------------------------


@dataclass(frozen=True)
class Urgency:
    key: str
    word: str
    background: str
    foreground: str = "#fff"


SHUT_DOWN = Urgency("shutdown", "Shut down", "#6a1b1a")
WEEK = Urgency("week", "Within 7 days", "#c62828")
MONTH = Urgency("month", "Within 30 days", "#e65100")
QUARTER = Urgency("quarter", "Within the warning window", "#f9a825", "#000")
LATER = Urgency("later", "Beyond the warning window", "#558b2f")
NO_DATE = Urgency("none", "No date announced", "#2e7d32")


def urgency(days_left: int | None) -> Urgency:
    """How pressing a shutdown is, from the days left (none: no date announced).

    The stages of lifecycle.selectors.runway_urgency, which the runway risk and the report use
    too, so a colour here never contradicts the risk register.
    """
    warn_days = settings.LIFECYCLE_WARN_DAYS
    if days_left is None:
        return NO_DATE
    stage = runway_urgency(days_left, warn_days=warn_days)
    if stage is None:
        return replace(LATER, word=f"More than {warn_days} days")
    if stage == WARNING:
        return replace(QUARTER, word=f"Within {warn_days} days")
    return {SHUT_DOWN_STAGE: SHUT_DOWN, IMMINENT: WEEK, NEAR: MONTH}[stage]


def _badge(text: str, colour: Urgency, title: str = ""):
    return format_html(
        '<span class="fp-badge fp-{}" title="{}" style="background:{};color:{};padding:1px 6px;'
        'border-radius:3px;white-space:nowrap">{}</span>',
        colour.key,
        title,
        colour.background,
        colour.foreground,
        text,
    )


def days_words(days_left: int | None) -> str:
    if days_left is None:
        return "No date"
    if days_left < 0:
        return f"Shut down {plural(-days_left, 'day')} ago"
    if days_left == 0:
        return "Shuts down today"
    return f"{plural(days_left, 'day')} left"


def days_badge(days_left: int | None, *, with_band: bool = False, compact: bool = False):
    """Days left as a coloured badge whose words say the same as its colour.

    compact, for narrow list columns: "45 days", "Shut down", "No date"; the band stays in the tooltip.
    """
    band = urgency(days_left)
    if compact:
        if days_left is None:
            text = "No date"
        elif days_left <= 0:
            text = SHUT_DOWN.word
        else:
            text = f"{days_left} day{'s' if days_left != 1 else ''}"
        return _badge(text, band, f"{band.word}: {days_words(days_left)}")
    text = days_words(days_left)
    if with_band and band not in (SHUT_DOWN, NO_DATE):
        text = f"{text} · {band.word.lower()}"
    if days_left is None:
        text = NO_DATE.word
    return _badge(text, band, band.word)


_STATE_COLOURS = {
    LifecycleState.ACTIVE: NO_DATE,
    LifecycleState.DEPRECATED: QUARTER,
    LifecycleState.SHUTDOWN: SHUT_DOWN,
}
STATE_WORDS = {
    LifecycleState.ACTIVE: "Active",
    LifecycleState.DEPRECATED: "Deprecated",
    LifecycleState.SHUTDOWN: "Shut down",
    "unknown": "Not in the catalogue",
}


def state_badge(state: str):
    colour = _STATE_COLOURS.get(state, Urgency("unknown", "", "#757575"))
    title = dict(LifecycleState.choices).get(state, "Not in the catalogue")
    return _badge(STATE_WORDS.get(state, state), colour, title)


SOURCE_WORDS = {
    ValueSource.PROVIDER: "provider",
    ValueSource.MANUAL: "manual",
    ValueSource.BASE_MODEL: "base model",
    ValueSource.AZURE_FINE_TUNED: "base training + 1 year",
}


def _date(value: date | None) -> str:
    return value.isoformat() if value else "none announced"


def _shown(value) -> str:
    if value in (None, ""):
        return "-"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# --- the catalogue ------------------------------------------------------------------------


class DisagreesFilter(admin.SimpleListFilter):
    title = "provider disagrees"
    parameter_name = "disagrees"

    @staticmethod
    def condition() -> Q:
        """The SQL of ProviderModel.disagrees: a manual date the provider's date differs from (nulls included)."""
        differs = (
            Q(provider_shutdown_date__lt=F("shutdown_date"))
            | Q(provider_shutdown_date__gt=F("shutdown_date"))
            | Q(provider_shutdown_date__isnull=True, shutdown_date__isnull=False)
            | Q(provider_shutdown_date__isnull=False, shutdown_date__isnull=True)
        )
        return Q(shutdown_date_source=ValueSource.MANUAL) & differs

    def lookups(self, request, model_admin):
        return [("yes", "Disagrees with a manual date"), ("no", "Agrees")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition())
        if self.value() == "no":
            return queryset.exclude(self.condition())
        return queryset


class CorrectionForm(ReasonForm):
    shutdown_date = forms.DateField(
        required=False,
        # ISO, like the provider's date shown beside it, so the two read alike.
        widget=AdminDateWidget(format="%Y-%m-%d"),
        label="Shutdown date in force",
        help_text="A date typed here becomes manual: later syncs keep it and show the provider's date beside it. "
        "Empty means no shutdown.",
    )
    use_provider_date = forms.BooleanField(
        required=False,
        label="Use the provider's date again",
        help_text="Drops the manual date; the provider's (or the base model's) date is in force again.",
    )

    class Meta:
        model = ProviderModel
        fields = ["shutdown_date", "replacement"]

    def clean(self):
        data = super().clean()
        if data.get("use_provider_date") and "shutdown_date" in self.changed_data:
            raise forms.ValidationError("Either type a date or use the provider's date again, not both.")
        return data


@admin.register(ProviderModel)
class ProviderModelAdmin(AuditedAdmin):
    form = CorrectionForm
    change_list_template = "admin/lifecycle/providermodel/change_list.html"
    # Six columns: they fit beside the navigation and the filters at 1280 px.
    list_display = ["model_shown", "state_shown", "shutdown", "days_left", "replacement", "synced"]
    list_display_links = ["model_shown"]
    list_filter = ["provider", "kind", "state", "shutdown_date_source", DisagreesFilter]
    search_fields = ["model_id"]
    list_per_page = 100
    readonly_fields = [
        "model_id",
        "provider",
        "kind",
        "base_model_id",
        "state_shown",
        "days_left_shown",
        "shutdown_date_source",
        "provider_date",
        "replacement_source",
        "manual_by",
        "manual_reason",
        "training_retires_on",
        "listed",
        "last_synced_at",
        "recent_history",
    ]

    def get_fieldsets(self, request, obj=None):
        writable = self._can_write(request, obj)
        dates = ["shutdown_date", "provider_date", "shutdown_date_source"]
        if writable:
            dates.append("use_provider_date")
        fieldsets = [
            (None, {"fields": ["model_id", ("provider", "kind"), "base_model_id", ("state_shown", "days_left_shown")]}),
            ("Shutdown date", {"fields": dates}),
            ("Replacement", {"fields": ["replacement", "replacement_source"]}),
            ("Last manual correction", {"fields": ["manual_by", "manual_reason"]}),
            ("Provider listing", {"fields": ["training_retires_on", "listed", "last_synced_at"]}),
            ("History (all: History, top right)", {"fields": ["recent_history"]}),
        ]
        if writable:
            fieldsets.append(("Audit", {"fields": ["change_reason"]}))
        return fieldsets

    # --- who may do what: every role reads; only compliance corrects (the service says so too) ---

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, *ADMIN_READERS) or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.COMPLIANCE)

    def has_add_permission(self, request) -> bool:
        return False  # entries come from the provider's model list

    # --- list columns ---

    @admin.display(description="Model id", ordering="model_id")
    def model_shown(self, obj):
        kind = "fine-tuned" if obj.kind == ModelKind.FINE_TUNED else "base model"
        return format_html('{}<span class="fp-sub">{} · {}</span>', obj.model_id, obj.get_provider_display(), kind)

    @admin.display(description="State", ordering="state")
    def state_shown(self, obj):
        return state_badge(obj.state)

    @admin.display(description="Shutdown date", ordering="shutdown_date")
    def shutdown(self, obj):
        source = SOURCE_WORDS.get(obj.shutdown_date_source, obj.shutdown_date_source)
        shown = format_html('{}<span class="fp-sub">{}</span>', _date(obj.shutdown_date), source)
        if obj.disagrees:
            return format_html(
                '{}<strong class="fp-disagrees" style="color:#c62828" title="The provider disagrees with the manual '
                'date in force">⚠ provider says {}</strong>',
                shown,
                _date(obj.provider_shutdown_date),
            )
        return shown

    @admin.display(description="Days left", ordering="shutdown_date")
    def days_left(self, obj):
        if obj.shutdown_date is None:
            return days_badge(None, compact=True)
        return days_badge((obj.shutdown_date - lifecycle_today()).days, compact=True)

    @admin.display(description="Last synced", ordering="last_synced_at")
    def synced(self, obj):
        if obj.last_synced_at is None:
            return "never"
        at = timezone.localtime(obj.last_synced_at)
        return format_html('<span title="{}">{}</span>', at.strftime("%Y-%m-%d %H:%M"), at.strftime("%Y-%m-%d"))

    # --- change page ---

    @admin.display(description="Days left")
    def days_left_shown(self, obj):
        if obj is None or obj.shutdown_date is None:
            return days_badge(None)
        return days_badge((obj.shutdown_date - lifecycle_today()).days, with_band=True)

    @admin.display(description="The provider's date")
    def provider_date(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        said = _date(obj.provider_shutdown_date)
        if obj.disagrees:
            return format_html(
                '<strong style="color:#c62828">⚠ {} says {}</strong>: the manual date {} stays in force '
                "until someone uses the provider's date again.",
                obj.get_provider_display(),
                said,
                _date(obj.shutdown_date),
            )
        return format_html("{} says {}", obj.get_provider_display(), said)

    @admin.display(description="Latest changes")
    def recent_history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        # Newest ten, each diffed against the row before it (an eleventh row gives the tenth its "before").
        ids = obj.history.order_by("-history_date", "-history_id").values_list("history_id", flat=True)[:11]
        entries = history_entries(obj.history.filter(history_id__in=list(ids)))[-10:]
        if not entries:
            return "No history yet."
        shown = [
            (
                timezone.localtime(entry["at"]).strftime("%Y-%m-%d %H:%M"),
                entry["user"] or "-",
                entry["source"],
                entry["reason"] or "-",
                "; ".join(f"{c['field']}: {_shown(c['old'])} → {_shown(c['new'])}" for c in entry["changes"])
                if entry["action"] != "created"
                else "created",
            )
            for entry in reversed(entries)
        ]
        return format_html(
            "<table><tr><th>When</th><th>Who</th><th>From</th><th>Why</th><th>What changed</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", shown),
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        values = {}
        if data.get("use_provider_date"):
            values["use_provider_date"] = True
        elif "shutdown_date" in form.changed_data:
            values["shutdown_date"] = data["shutdown_date"]
        if "replacement" in form.changed_data:
            values["replacement"] = data["replacement"]
        # The form put its values on obj; the service reloads the row and writes the one history row.
        services.catalogue_entry_correct(entry=obj, actor=request.user, reason=data["change_reason"], **values)

    # --- sync now and the last sync ---

    def get_urls(self):
        return [
            path("sync/", self.admin_site.admin_view(self.sync_view), name="lifecycle_providermodel_sync"),
            *super().get_urls(),
        ]

    def sync_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not has_role(request.user, Role.COMPLIANCE):
            raise PermissionDenied
        labels = dict(Provider.choices)
        configured = configured_providers()
        for provider in configured:
            catalogue_sync_task.delay_on_commit(provider, on_behalf_of_id=request.user.pk)
        if configured:
            names = " and ".join(labels[p] for p in configured)
            self.message_user(
                request, f"Queued a sync of the {names} catalogue; refresh in a few seconds.", messages.SUCCESS
            )
        for provider in Provider.values:
            if provider not in configured:
                self.message_user(
                    request,
                    f"{labels[provider]} is not configured ({missing_setting(provider)} is not set): not synced.",
                    messages.INFO,
                )
        return HttpResponseRedirect(reverse("admin:lifecycle_providermodel_changelist"))

    def changelist_view(self, request, extra_context=None):
        syncs = []
        for provider, label in Provider.choices:
            latest = CatalogueSync.objects.filter(provider=provider).first()
            failed = latest if latest is not None and not latest.ok else None
            last_ok = last_sync(provider) if failed else latest
            syncs.append({"provider": label, "last_ok": last_ok, "failed": failed})
        context = {
            "syncs": syncs,
            "can_sync": has_role(request.user, Role.COMPLIANCE),
            "today": lifecycle_today(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)


@admin.register(CatalogueSync)
class CatalogueSyncAdmin(ReadOnlyAdmin):
    """The sync log: when each sync ran, what it listed and changed, and why a failed one failed."""

    # Columns that fit beside the navigation and the filters at 1280 px.
    list_display = ["started", "provider", "ok", "took", "listed", "changed", "short_error"]
    list_filter = ["provider", "ok"]
    date_hierarchy = "started_at"

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.COMPLIANCE) or super().has_view_permission(request, obj)

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj) -> str:
        return timezone.localtime(obj.started_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Took")
    def took(self, obj) -> str:
        if obj.finished_at is None:
            return "-"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="Error")
    def short_error(self, obj):
        if not obj.error:
            return "-"
        shown = obj.error[:60] + ("…" if len(obj.error) > 60 else "")
        return format_html('<span title="{}">{}</span>', obj.error, shown)
