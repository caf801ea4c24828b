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


PanelBuilder = Callable[..., Panel | None]
_builders: list[tuple[int, PanelBuilder]] = []


def dashboard_panel(order: int) -> Callable[[PanelBuilder], PanelBuilder]:
    """Register `build(request) -> Panel | None` (None: not for this person) at a place on the home page."""

    def register(build: PanelBuilder) -> PanelBuilder:
        _builders.append((order, build))
        _builders.sort(key=lambda item: item[0])
        return build

    return register


def dashboard_panels(request) -> list[Panel]:
    autodiscover_modules("dashboard")
    panels = (build(request) for _, build in _builders)
    return [panel for panel in panels if panel is not None]


@dataclass(frozen=True)
class Note:
    """One line above the panels: the state of something (the audit trail's last check), not a list of records."""

    label: str
    text: str
    url: str = ""
    badge: str = ""
    tone: str = ""  # "bad", "warn" or "good": the badge's colour


NoteBuilder = Callable[..., Note | None]
_note_builders: list[tuple[int, NoteBuilder]] = []


def dashboard_note(order: int) -> Callable[[NoteBuilder], NoteBuilder]:
    """Register `build(request) -> Note | None` (None: not for this person) at a place on the home page."""

    def register(build: NoteBuilder) -> NoteBuilder:
        _note_builders.append((order, build))
        _note_builders.sort(key=lambda item: item[0])
        return build

    return register


def dashboard_notes(request) -> list[Note]:
    autodiscover_modules("dashboard")
    notes = (build(request) for _, build in _note_builders)
    return [note for note in notes if note is not None]


@dataclass(frozen=True)
class Alert:
    """A red banner on every admin page: what is wrong, and a link to where it is handled."""

    message: str
    url: str = ""
    link: str = ""  # the link's words, e.g. "INC-0007"


AlertBuilder = Callable[..., Alert | None]
_alert_builders: list[AlertBuilder] = []


def admin_alert(build: AlertBuilder) -> AlertBuilder:
    """Register `build(request) -> Alert | None` (None: nothing to say, or not for this person)."""
    _alert_builders.append(build)
    return build


def admin_alerts(request) -> list[Alert]:
    autodiscover_modules("dashboard")
    alerts = (build(request) for build in _alert_builders)
    return [alert for alert in alerts if alert is not None]


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
