"""Fineprint's admin site: its name, its home page (a dashboard of what needs doing) and its menu.

The home page is made of panels that the apps owning the rules contribute, each from its own
`dashboard.py` (`risks/dashboard.py`, `registry/dashboard.py`), the way `admin.py` modules
register models: core stays below every app and never imports them. A panel reads through its
app's selectors, so "overdue" or "expiring" means the same here as in the lists it links to.

Notes are one line each above the panels, for a state rather than a list (`@dashboard_note`).
Alerts are for every admin page rather than the home page: an app registers
`@admin_alert` builders in its `dashboard.py` (the audit trail's failed verification, from
`risks/dashboard.py`), and each page shows their red banners at the top until the condition ends.

Plumbing that people never act on (the beat schedule, webhook receipts, idempotency records,
catalogue sync runs) is left out of the menu except for superusers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.module_loading import autodiscover_modules

# (app label, model name); a model name of None means the whole app.
TECHNICAL_MODELS = frozenset(
    {
        ("django_celery_beat", None),
        ("providers", "webhookreceipt"),
        ("core", "idempotencyrecord"),
        ("lifecycle", "cataloguesync"),
    }
)

ROWS_SHOWN = 5


@dataclass(frozen=True)
class Row:
    """One record on a panel: what it is, a link to it, and the fact that puts it there."""

    label: str
    url: str
    detail: str
    badge: str = ""  # a status word, e.g. "Gate fails"
    tone: str = ""  # "bad", "warn" or "good": the badge's colour, for the reader
    yours: bool = False  # the person logged in owns it


@dataclass(frozen=True)
class Panel:
    title: str
    count: int
    list_url: str  # the admin list, filtered to exactly these records
    empty: str  # said when there are none, e.g. "No review is overdue."
    rows: list[Row] = field(default_factory=list)
    tone: str = "bad"  # the count's colour when it is not zero

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


class _Builders:
    """What other apps' `dashboard.py` modules register: `build(request) -> item | None`, in order.

    None means nothing to show, or not for this person.
    """

    def __init__(self) -> None:
        self._builders: list[tuple[int, Callable]] = []

    def register(self, order: int = 0) -> Callable[[Callable], Callable]:
        def register(build: Callable) -> Callable:
            self._builders.append((order, build))
            self._builders.sort(key=lambda item: item[0])
            return build

        return register

    def collect(self, request) -> list:
        autodiscover_modules("dashboard")
        items = (build(request) for _, build in self._builders)
        return [item for item in items if item is not None]


_panels, _notes, _alerts = _Builders(), _Builders(), _Builders()
# Panels (a count and the first records) and notes (one line of state) on the home page.
dashboard_panel, dashboard_panels = _panels.register, _panels.collect
dashboard_note, dashboard_notes = _notes.register, _notes.collect


@dataclass(frozen=True)
class Note:
    """One line above the panels: the state of something (the audit trail's last check), not a list of records."""

    label: str
    text: str
    url: str = ""
    badge: str = ""
    tone: str = ""  # "bad", "warn" or "good": the badge's colour


@dataclass(frozen=True)
class Alert:
    """A red banner on every admin page: what is wrong, and a link to where it is handled."""

    message: str
    url: str = ""
    link: str = ""  # the link's words, e.g. "INC-0007"


# Banners on every admin page. `@admin_alert` registers a builder, `admin_alerts(request)` collects.
admin_alert, admin_alerts = _alerts.register(), _alerts.collect


def is_technical(app_label: str, model_name: str) -> bool:
    return (app_label, None) in TECHNICAL_MODELS or (app_label, model_name) in TECHNICAL_MODELS


class FineprintAdminSite(admin.AdminSite):
    site_header = "Fineprint"
    site_title = "Fineprint"
    index_title = "What needs doing"
    site_url = "/"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if request.user.is_superuser:
            return apps
        for app in apps:
            app["models"] = [m for m in app["models"] if not is_technical(app["app_label"], m["object_name"].lower())]
        return [app for app in apps if app["models"]]

    def each_context(self, request):
        context = super().each_context(request)
        context["fp_alerts"] = admin_alerts(request) if self.has_permission(request) else []
        return context

    def index(self, request, extra_context=None):
        context = {"panels": dashboard_panels(request), "notes": dashboard_notes(request)}
        return super().index(request, {**context, **(extra_context or {})})


class FineprintAdminConfig(AdminConfig):
    """`django.contrib.admin`, with Fineprint's site as `admin.site` (INSTALLED_APPS names this)."""

    default_site = "core.admin_site.FineprintAdminSite"
