"""Side-by-side runs in the admin: read-only, as the verdicts made them.

The list shows each run's headline (n, win rate with its 95% interval, the human-rated share);
a run's page draws the per-intent win rates with their intervals as an inline SVG chart (no
JavaScript, so it prints and survives a strict CSP), with a line at 0.5 and at the gate's
minimum, then lists the items the version lost with every verdict on them, and the agreement
between the judge and humans and between raters, in words as well as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models.fields.json import KT
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from core.admin_audit import ReadableHistoryMixin
from core.roles import ADMIN_READERS, has_role
from registry.gates import policy_in_effect
from sbs.models import Outcome, SbsRun, SbsRunItem, SbsVerdict

LOSSES_SHOWN = 50  # the worst; the API pages through the rest

# The chart's geometry, in px: the plot maps a win rate of 0..1 onto [PLOT_LEFT, PLOT_RIGHT].
CHART_WIDTH = 870
LABEL_RIGHT = 180  # intent names end here (right-aligned)
N_RIGHT = 234  # "n 123" ends here
PLOT_LEFT, PLOT_RIGHT = 248, 548
FIGURES_LEFT = 560  # "0.643 [0.388, 0.837]  ✗ n 12 < 30"
ROW_HEIGHT = 24
AXIS_TOP = 22  # room for the tick labels above the first row
BAR_COLOUR, THIN_COLOUR, FAIL_COLOUR = "#79aec8", "#d5d5d5", "#c62828"
WHISKER_COLOUR = "#1f2d3d"
MAX_LABEL = 26


@dataclass(frozen=True)
class WinRateLine:
    """A gate minimum drawn on the chart: over the overall row, or over every intent's row."""

    minimum: float
    bound: str  # "point" or "lower_ci"
    min_n: int | None


def gate_lines(run: SbsRun) -> tuple[WinRateLine | None, WinRateLine | None]:
    """The model's gate win-rate rules in effect: (overall, per intent), either None when the gate has none."""
    overall = per_intent = None
    for rule in policy_in_effect(run.version.model).rules:
        if not isinstance(rule, dict) or rule.get("metric") != "win_rate" or "min" not in rule:
            continue
        line = WinRateLine(minimum=float(rule["min"]), bound=rule.get("bound", "point"), min_n=rule.get("min_n"))
        if rule.get("per_intent"):
            per_intent = per_intent or line
        else:
            overall = overall or line
    return overall, per_intent


def fails(tally: dict, line: WinRateLine | None) -> tuple[str, str]:
    """Why a row fails its gate line, in the gate's words and in short for the chart; ("", "") when it passes."""
    if line is None:
        return "", ""
    if line.min_n and tally["n"] < line.min_n:
        return f"{tally['n']} comparisons, at least {line.min_n} required", f"n < {line.min_n}"
    if line.bound == "lower_ci" and tally["lower"] < line.minimum:
        return f"lower bound {tally['lower']:.2f} below {line.minimum:g}", f"lower < {line.minimum:g}"
    if line.bound != "lower_ci" and tally["win_rate"] < line.minimum:
        return f"win rate {tally['win_rate']:.2f} below {line.minimum:g}", f"< {line.minimum:g}"
    return "", ""


def interval_words(tally: dict) -> str:
    return f"{tally['win_rate']:.3f} [{tally['lower']:.3f}, {tally['upper']:.3f}]"


def _x(rate: float) -> float:
    return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * rate, 1)


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _row(index: int, label: str, tally: dict, line: WinRateLine | None, *, overall: bool) -> SafeString:
    top = AXIS_TOP + index * ROW_HEIGHT
    middle = top + ROW_HEIGHT / 2
    why, short = fails(tally, line)
    thin = bool(line and line.min_n and tally["n"] < line.min_n)
    weight = "bold" if overall else "normal"
    colour = FAIL_COLOUR if why else "#333"
    return format_html(
        '<g class="{}"><title>{}: n {}, {} wins, {} ties, {} losses; win rate {}{}</title>'
        '<text x="{}" y="{}" text-anchor="end" font-size="12" font-weight="{}">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#666">n {}</text>'
        '<rect class="fp-bar" x="{}" y="{}" width="{}" height="10" fill="{}"/>'
        '<line class="fp-whisker" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.5"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.5"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.5"/>'
        '<circle cx="{}" cy="{}" r="3" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11" fill="{}" font-weight="{}">{}</text></g>',
        "fp-row fp-overall" if overall else "fp-row fp-intent",
        label,
        tally["n"],
        tally["wins"],
        tally["ties"],
        tally["losses"],
        interval_words(tally),
        f" (gate: {why})" if why else "",
        LABEL_RIGHT,
        middle + 4,
        weight,
        _short(label),
        N_RIGHT,
        middle + 4,
        tally["n"],
        PLOT_LEFT,
        middle - 5,
        round(_x(tally["win_rate"]) - PLOT_LEFT, 1),
        THIN_COLOUR if thin else BAR_COLOUR,
        _x(tally["lower"]),
        middle,
        _x(tally["upper"]),
        middle,
        WHISKER_COLOUR,
        _x(tally["lower"]),
        middle - 5,
        _x(tally["lower"]),
        middle + 5,
        WHISKER_COLOUR,
        _x(tally["upper"]),
        middle - 5,
        _x(tally["upper"]),
        middle + 5,
        WHISKER_COLOUR,
        _x(tally["win_rate"]),
        middle,
        WHISKER_COLOUR,
        FIGURES_LEFT,
        middle + 4,
        colour,
        weight,
        interval_words(tally) + (f"  ✗ {short}" if short else ""),
    )


def _vertical(rate: float, top: float, bottom: float, colour: str, dash: str, css: str) -> SafeString:
    return format_html(
        '<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.5" stroke-dasharray="{}"/>',
        css,
        _x(rate),
        top,
        _x(rate),
        bottom,
        colour,
        dash,
    )


def win_rate_chart(run: SbsRun) -> SafeString:
    """Overall and per-intent win rates as horizontal bars with their 95% intervals as whiskers."""
    figures = run.figures
    overall_line, intent_line = gate_lines(run)
    intents = list(figures["per_intent"].items())
    rows = [_row(0, "overall", figures["overall"], overall_line, overall=True)]
    rows += [_row(i + 1, intent, tally, intent_line, overall=False) for i, (intent, tally) in enumerate(intents)]
    height = AXIS_TOP + (len(intents) + 1) * ROW_HEIGHT + 6
    bottom = height - 6
    ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e6e6e6"/>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#666">{}</text>',
        ((_x(t), AXIS_TOP, _x(t), bottom, _x(t), AXIS_TOP - 8, label) for t, label in TICKS),
    )
    lines = [_vertical(0.5, AXIS_TOP, bottom, "#888", "4 3", "fp-even")]
    if overall_line:
        lines.append(
            _vertical(overall_line.minimum, AXIS_TOP, AXIS_TOP + ROW_HEIGHT, FAIL_COLOUR, "3 2", "fp-gate-overall")
        )
    if intent_line and intents:
        lines.append(
            _vertical(intent_line.minimum, AXIS_TOP + ROW_HEIGHT, bottom, FAIL_COLOUR, "3 2", "fp-gate-intent")
        )
    separator = format_html(
        '<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#ccc"/>',
        AXIS_TOP + ROW_HEIGHT,
        CHART_WIDTH,
        AXIS_TOP + ROW_HEIGHT,
    )
    return format_html(
        '<svg class="fp-winrates" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}" font-family="sans-serif">{}{}{}{}</svg>',
        CHART_WIDTH,
        height,
        CHART_WIDTH,
        height,
        f"Win rate with 95% interval, overall and for {len(intents)} intents",
        ticks,
        separator,
        format_html_join("", "{}", ((line,) for line in lines)),
        format_html_join("", "{}", ((row,) for row in rows)),
    )


TICKS = ((0.0, "0"), (0.25, "0.25"), (0.5, "0.5"), (0.75, "0.75"), (1.0, "1"))


def line_words(line: WinRateLine | None, where: str) -> str:
    if line is None:
        return ""
    bound = "its lower bound" if line.bound == "lower_ci" else "the win rate"
    n = f", at least {line.min_n} comparisons" if line.min_n else ""
    return f"gate {where}: {bound} at least {line.minimum:g}{n}"


# Landis & Koch (1977): kappa up to each bound, in their words; above 0.8 "almost perfect", below 0 "poor".
KAPPA_WORDS = ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial"))


def kappa_words(kappa: float | None) -> str:
    """Cohen's kappa in Landis & Koch's words."""
    if kappa is None:
        return "undefined (one and the same outcome throughout)"
    if kappa < 0:
        return "poor (below chance)"
    return next((word for upper, word in KAPPA_WORDS if kappa <= upper), "almost perfect")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def losses(run: SbsRun) -> tuple[SafeString, int, int]:
    """The items the version lost (worst first) as table rows, each with every verdict on it; (rows, shown, total).

    Rendered here rather than in a template loop: 50 items with several verdicts each made the
    template the larger part of the page's time.
    """
    lost = SbsRunItem.objects.filter(run=run, outcome=Outcome.LOSS)
    total = lost.count()
    rows = list(
        lost.order_by("score", "item__position").values_list(
            "item_id", "score", "item__item_id", "item__intents", "item__messages"
        )[:LOSSES_SHOWN]
    )
    verdicts: dict[int, list[tuple]] = {}
    found = SbsVerdict.objects.filter(run=run, item_id__in=[row[0] for row in rows]).order_by(
        "item_id", "judge", "rater", "id"
    )
    for item_id, *verdict in found.values_list("item_id", "judge", "rater", "outcome", "comment"):
        verdicts.setdefault(item_id, []).append(verdict)
    html = []
    for item_id, score, key, intents, messages in rows:
        items = format_html_join(
            "",
            "<li>{}{}: <span{}>{}</span>{}</li>",
            (
                (
                    judge,
                    f":{rater}" if rater else "",
                    mark_safe(' class="fp-loss"') if outcome == Outcome.LOSS else "",
                    outcome,
                    f" — {comment}" if comment else "",
                )
                for judge, rater, outcome, comment in verdicts.get(item_id, [])
            ),
        )
        if messages is None:
            prompt = format_html('<span class="quiet">{}</span>', "not kept (GOLDEN_KEEP_TEXT is off)")
        else:
            text = " / ".join(m["content"] for m in messages if m.get("role") == "user")
            prompt = format_html('<div class="fp-prompt">{}</div>', Truncator(text).chars(400))
        html.append(
            format_html(
                '<tr class="fp-lost-item"><td class="fp-item"><code>{}</code></td><td>{}</td><td>{}</td>'
                '<td><ul class="fp-verdicts">{}</ul></td><td>{}</td></tr>',
                key,
                ", ".join(intents),
                f"{score:.2f}",
                items,
                prompt,
            )
        )
    return format_html_join("", "{}", ((row,) for row in html)), len(rows), total


class ReadersMayView:
    """Every role reads runs (the verdicts are evidence); nobody adds, changes or deletes one here."""

    def has_module_permission(self, request) -> bool:
        return super().has_module_permission(request) or has_role(request.user, *ADMIN_READERS)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or has_role(request.user, *ADMIN_READERS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SbsRun)
class SbsRunAdmin(ReadersMayView, ReadableHistoryMixin, SimpleHistoryAdmin):
    # What fits at 1280 px beside the filters (long labels wrap; the interval sits under its rate).
    list_display = ["run_label", "golden_set", "baseline", "judge", "n", "win_rate_ci", "human", "created"]
    list_display_links = ["run_label"]
    list_filter = ["version__model", "judge"]
    search_fields = ["version__model__name", "version__version", "baseline", "judge"]
    change_form_template = "admin/sbs/sbsrun/change_form.html"
    change_list_template = "admin/sbs/sbsrun/change_list.html"

    def get_queryset(self, request):
        # The figures (per intent, raters) and the golden dataset's report and fingerprint are large: not for lists.
        return (
            super()
            .get_queryset(request)
            .select_related("version__model", "golden__golden_set")
            .defer("figures", "golden__report", "golden__fingerprint")
            .annotate(human_share=KT("figures__human_share"))
        )

    @admin.display(description="Model version", ordering="version__model__name")
    def run_label(self, obj):
        return format_html(
            '{} {}<br><span class="quiet">run {}</span>', obj.version.model.name, obj.version.version, obj.pk
        )

    @admin.display(description="Golden set")
    def golden_set(self, obj) -> str:
        return f"{obj.golden.golden_set.name} v{obj.golden.golden_version}"

    @admin.display(description="n", ordering="comparisons")
    def n(self, obj) -> str:
        return f"{obj.comparisons:,}"

    @admin.display(description="Win rate [95% interval]", ordering="win_rate")
    def win_rate_ci(self, obj):
        return format_html(
            '<strong>{}</strong><br><span class="quiet">[{}, {}]</span>',
            f"{obj.win_rate:.3f}",
            f"{obj.win_rate_lower:.3f}",
            f"{obj.win_rate_upper:.3f}",
        )

    @admin.display(description="Human-rated")
    def human(self, obj) -> str:
        return "-" if obj.human_share is None else _share(float(obj.human_share))

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj) -> str:
        return f"{timezone.localtime(obj.created_at):%Y-%m-%d}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = (
            SbsRun.objects.select_related(
                "version__model", "golden__golden_set", "evaluation", "created_by", "baseline_version"
            )
            .defer("golden__report", "golden__fingerprint")
            .filter(pk=object_id)
            .first()
            if str(object_id).isdigit()
            else None
        )
        if run is None:
            raise Http404("No such side-by-side run.")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        overall_line, intent_line = gate_lines(run)
        lost, lost_shown, lost_total = losses(run)
        figures = run.figures
        judge_human = figures["agreement"]["judge_human"]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Run {run.pk}: {run.version.model.name} {run.version.version} against {run.baseline}",
            "run": run,
            "figures": figures,
            "overall": figures["overall"],
            "interval": interval_words(figures["overall"]),
            "coverage": _share(figures["coverage"]),
            "human_share": _share(figures["human_share"]),
            "chart": win_rate_chart(run),
            "gate_words": [
                w for w in (line_words(overall_line, "overall"), line_words(intent_line, "per intent")) if w
            ],
            "losses": lost,
            "losses_shown": lost_shown,
            "losses_total": lost_total,
            "losses_more": max(0, lost_total - lost_shown),
            "judge_human": judge_human,
            "judge_human_agreement": _share(judge_human["agreement"]),
            "judge_human_words": kappa_words(judge_human["kappa"]) if judge_human["pairs"] else "",
            "rater_pairs": [
                {**pair, "share": _share(pair["agreement"]), "words": kappa_words(pair["kappa"])}
                for pair in figures["agreement"]["raters"]
            ],
            "links": {
                "version": reverse("admin:registry_modelversion_change", args=[run.version_id]),
                "evaluation": reverse("admin:registry_evaluationresult_change", args=[run.evaluation_id])
                if run.evaluation_id
                else None,
                "golden_set": reverse("admin:datasets_goldenset_change", args=[run.golden.golden_set_id]),
                "golden_dataset": reverse("admin:datasets_dataset_change", args=[run.golden_id]),
                "history": reverse("admin:sbs_sbsrun_history", args=[run.pk]),
                "baseline": reverse("admin:registry_modelversion_change", args=[run.baseline_version_id])
                if run.baseline_version_id
                else None,
            },
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_form_template, context)
