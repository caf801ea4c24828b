"""The monthly report's PDF, drawn by reportlab from the builder's data alone.

Every text that came from a record (names, titles, changelogs, examples) is
escaped before it reaches a Paragraph: markup in a changelog is shown as text.
"""

from __future__ import annotations

import functools
import io
import re
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Circle, Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.wording import plural

BAND_COLOURS = {
    "low": colors.HexColor("#2e7d32"),
    "medium": colors.HexColor("#f9a825"),
    "high": colors.HexColor("#ef6c00"),
    "critical": colors.HexColor("#c62828"),
}
BAND_LABELS = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
LINE_COLOURS = [colors.HexColor(c) for c in ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#558b2f")]
GATE_COLOUR = colors.HexColor("#c62828")
PAGE_WIDTH = A4[0] - 3.6 * cm


class _Styles:
    def __init__(self):
        base = getSampleStyleSheet()
        self.title = ParagraphStyle("CoverTitle", parent=base["Title"], fontSize=26, leading=32, spaceAfter=18)
        self.h1 = ParagraphStyle("H1", parent=base["Heading1"], fontSize=16, spaceBefore=6, spaceAfter=8)
        self.h2 = ParagraphStyle("H2", parent=base["Heading2"], fontSize=12.5, spaceBefore=10, spaceAfter=4)
        self.body = ParagraphStyle("Body", parent=base["BodyText"], fontSize=9.5, leading=12.5)
        self.small = ParagraphStyle("Small", parent=self.body, fontSize=8, leading=10)
        self.cell = ParagraphStyle("Cell", parent=self.body, fontSize=8.5, leading=10.5)
        self.big = ParagraphStyle("Big", parent=self.body, fontSize=12, leading=16)
        self.mono = ParagraphStyle("Mono", parent=self.small, fontName="Courier")


@functools.cache
def _styles() -> _Styles:
    return _Styles()


def text(value, style=None) -> Paragraph:
    """A paragraph of record-supplied text: escaped, never interpreted as markup."""
    return Paragraph(escape("" if value is None else str(value)), style or _styles().body)


def markup(value: str, style=None) -> Paragraph:
    """A paragraph of our own wording, whose markup (bold) is ours; values inside are escaped by the caller."""
    return Paragraph(value, style or _styles().body)


def table(header: list[str] | None, rows: list[list], widths: list[float] | None = None) -> Table:
    """A table whose header (if any) repeats on every page it spans; cells wrap."""
    st = _styles()
    data = [[markup(f"<b>{escape(h)}</b>", st.cell) for h in header]] if header else []
    data += [[c if isinstance(c, Paragraph) else text(c, st.cell) for c in row] for row in rows]
    first = 1 if header else 0
    result = Table(
        data, repeatRows=first, colWidths=[w * PAGE_WIDTH for w in widths] if widths else None, hAlign="LEFT"
    )
    result.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bdbdbd")),
                *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1"))] if header else []),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, first), (-1, -1), [colors.white, colors.HexColor("#fafafa")]),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return result


def when(iso: str | None) -> str:
    """An ISO time from the data as "2026-10-05 10:00"."""
    return (iso or "-")[:16].replace("T", " ")


# An executive reads the first rows; the data (kept with every revision) has all of them.
SUMMARY_ROWS = 5
SECTION_ROWS = 25
CHARTS = 6
DETAILED_INCIDENTS = 10


def capped(rows: list, limit: int) -> tuple[list, Paragraph | None]:
    """The first `limit` rows, and a line saying how many more there are."""
    if len(rows) <= limit:
        return rows, None
    note = markup(f"<i>... and {len(rows) - limit} more, in the register and in this report's data.</i>")
    return rows[:limit], note


def _none(what: str) -> Paragraph:
    return markup(f"<i>{escape(what)}</i>")


# --- Charts -----------------------------------------------------------------------------


def heatmap_drawing(
    grid: list[list[int]],
    bands: list[list[str]],
    title: str,
    *,
    likelihood_names: list[str],
    impact_names: list[str],
    size: float = 8.4 * cm,
) -> Drawing:
    """A 5x5 heat map: likelihood up, impact across, each axis step named ("3 Possible"); each cell in its
    band's colour (from the data's matrix) with its count."""
    label = 2.1 * cm
    cell = (size - label) / 5
    drawing = Drawing(size, size + 0.9 * cm)
    drawing.add(String(0, size + 0.45 * cm, title, fontName="Helvetica-Bold", fontSize=10))

    def fitted(words: str, width: float, largest: float = 7) -> float:
        return min(largest, largest * width / max(stringWidth(words, "Helvetica", largest), 1))

    for likelihood in range(1, 6):
        y = label + (likelihood - 1) * cell
        name = f"{likelihood} {likelihood_names[likelihood - 1]}"
        drawing.add(
            String(label - 0.15 * cm, y + cell / 2 - 3, name, fontSize=fitted(name, label - 0.2 * cm), textAnchor="end")
        )
        for impact in range(1, 6):
            x = label + (impact - 1) * cell
            band = bands[likelihood - 1][impact - 1]
            count = grid[likelihood - 1][impact - 1]
            colour = BAND_COLOURS[band] if count else colors.Color(*BAND_COLOURS[band].rgb(), alpha=0.25)
            drawing.add(Rect(x, y, cell - 1.5, cell - 1.5, fillColor=colour, strokeColor=colors.white))
            if count:
                drawing.add(
                    String(
                        x + cell / 2,
                        y + cell / 2 - 4,
                        str(count),
                        fontName="Helvetica-Bold",
                        fontSize=11,
                        fillColor=colors.white,
                        textAnchor="middle",
                    )
                )
    for impact in range(1, 6):
        x = label + (impact - 0.5) * cell - 0.75
        name = impact_names[impact - 1]
        drawing.add(String(x, label - 0.35 * cm, str(impact), fontSize=7, textAnchor="middle"))
        drawing.add(String(x, label - 0.7 * cm, name, fontSize=fitted(name, cell - 2), textAnchor="middle"))
    drawing.add(
        String(
            label + 2.5 * cell, label - 1.15 * cm, "Impact", fontName="Helvetica-Bold", fontSize=8, textAnchor="middle"
        )
    )
    drawing.add(
        String(
            label - 0.15 * cm,
            label + 5 * cell + 0.1 * cm,
            "Likelihood",
            fontName="Helvetica-Bold",
            fontSize=8,
            textAnchor="end",
        )
    )
    return drawing


def band_trend_drawing(trend: list[dict]) -> Drawing:
    """Open risks per residual band, month by month: one bar per band per month."""
    width, height = PAGE_WIDTH, 6 * cm
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 1.2 * cm, 1.2 * cm, width - 4.5 * cm, height - 1.8 * cm
    bands = list(BAND_LABELS)
    chart.data = [[month[band] for month in trend] for band in bands]
    chart.categoryAxis.categoryNames = [month["period"] for month in trend]
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7.5
    top = max([max(series) for series in chart.data] + [1])
    chart.valueAxis.valueMax = top + 1
    chart.valueAxis.valueStep = max(1, (top + 1) // 5)
    chart.groupSpacing = 6
    for index, band in enumerate(bands):
        chart.bars[index].fillColor = BAND_COLOURS[band]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 3 * cm, height - 1 * cm
    legend.fontSize = 8
    legend.columnMaximum = 4
    legend.colorNamePairs = [(BAND_COLOURS[b], BAND_LABELS[b]) for b in bands]
    drawing.add(legend)
    return drawing


def win_rate_drawing(model: dict, colour) -> Drawing:
    """The win rate of a production model's evaluations against one baseline, one point per evaluation.

    A point backed by verdicts carries its 95% interval as an error bar (a vertical whisker with
    caps) and a filled marker; a win rate typed in by hand has no interval: an open marker, no bar.
    The gate's minimum, when the policy has one, is a dashed line labelled at the right.
    """
    width, height = PAGE_WIDTH, 5.5 * cm
    drawing = Drawing(width, height)
    points = [p for p in model["points"] if p["win_rate"] is not None]
    threshold = (model.get("threshold") or {}).get("min")
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 1.2 * cm, 1 * cm, width - 2.9 * cm, height - 1.6 * cm
    plot.data = [[(index, p["win_rate"]) for index, p in enumerate(points)]]
    plot.lines[0].strokeColor = colour
    plot.lines[0].strokeWidth = 1.2
    plot.lines[0].symbol = None  # the markers are drawn below, over the bars
    lowest = min(
        [p["win_rate"] for p in points]
        + [p["lower"] for p in points if p.get("lower") is not None]
        + [0.5]
        + ([threshold] if threshold is not None else [])
    )
    bottom = max(0.0, round(lowest - 0.1, 1))
    plot.yValueAxis.valueMin = bottom
    plot.yValueAxis.valueMax = 1.0
    plot.yValueAxis.valueStep = 0.1
    plot.yValueAxis.labels.fontSize = 7.5
    left, right = -0.3, max(len(points) - 1, 1) + 0.3
    plot.xValueAxis.valueMin = left
    plot.xValueAxis.valueMax = right
    plot.xValueAxis.valueSteps = list(range(len(points)))
    plot.xValueAxis.labels.fontSize = 7
    # At most eight labels under the axis, evenly spread, so they never run into each other.
    step = max(1, -(-len(points) // 8))
    labels = [
        f"{p['version']} {p['at'][5:10]}" if index % step == 0 or index == len(points) - 1 else ""
        for index, p in enumerate(points)
    ]
    plot.xValueAxis.labelTextFormat = lambda value: labels[int(value)] if 0 <= int(value) < len(labels) else ""
    drawing.add(plot)

    def x_at(index: int) -> float:
        return plot.x + (index - left) / (right - left) * plot.width

    def y_at(value: float) -> float:
        return plot.y + (value - bottom) / (1.0 - bottom) * plot.height

    # The 0.5 line: below it the model loses more comparisons than it wins.
    if bottom < 0.5:
        drawing.add(Rect(plot.x, y_at(0.5), plot.width, 0.6, fillColor=colors.HexColor("#9e9e9e"), strokeColor=None))
    if threshold is not None and bottom <= threshold <= 1.0:
        y = y_at(threshold)
        drawing.add(
            Line(plot.x, y, plot.x + plot.width, y, strokeColor=GATE_COLOUR, strokeWidth=0.8, strokeDashArray=[3, 2])
        )
        drawing.add(String(plot.x + plot.width + 3, y - 2.5, f"gate {threshold:g}", fontSize=7, fillColor=GATE_COLOUR))
    cap = 3
    for index, p in enumerate(points):
        x, y = x_at(index), y_at(p["win_rate"])
        if p.get("lower") is not None:
            low, high = y_at(p["lower"]), y_at(p["upper"])
            drawing.add(Line(x, low, x, high, strokeColor=colour, strokeWidth=1))
            drawing.add(Line(x - cap, low, x + cap, low, strokeColor=colour, strokeWidth=1))
            drawing.add(Line(x - cap, high, x + cap, high, strokeColor=colour, strokeWidth=1))
            drawing.add(Circle(x, y, 2.6, fillColor=colour, strokeColor=colour))
        else:
            drawing.add(Circle(x, y, 2.6, fillColor=colors.white, strokeColor=colour, strokeWidth=1.2))
    return drawing


# --- Pages ------------------------------------------------------------------------------


class _NumberedCanvas(pdf_canvas.Canvas):
    """Writes "page n of m" once the number of pages is known."""

    footer = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            if self._pageNumber > 1:
                self.setFont("Helvetica", 7.5)
                self.setFillColor(colors.HexColor("#757575"))
                self.drawString(1.8 * cm, 1.1 * cm, self.footer)
                self.drawRightString(A4[0] - 1.8 * cm, 1.1 * cm, f"page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


STATUS = {
    "red": ("RED", colors.HexColor("#c62828"), "Past a limit the board set: decide now."),
    "amber": ("AMBER", colors.HexColor("#f9a825"), "Needs attention."),
    "green": ("GREEN", colors.HexColor("#2e7d32"), "Nothing needs attention."),
}
DECISION_ROWS = 12


def _decisions_required(data: dict) -> list[list]:
    """Every decision waiting at month end, with who owns it and by when."""
    d = data["decisions"]
    rows = []
    for r in d["over_appetite"]:
        rows.append(
            [f"Treat or accept {r['reference']} {r['title']} (residual {r['residual']})", r["owner"], r["next_review"]]
        )
    for r in d["runway_without_candidate"]:
        rows.append([f"Plan a replacement: {r['statement']}", r.get("owner", "-"), r["shutdown_date"] or "-"])
    for a in d["acceptances_expiring"]:
        rows.append(
            [f"Renew or treat the acceptance of {a['risk']} (residual {a['residual']})", a["accepted_by"], a["expires"]]
        )
    for r in d["overdue_reviews"]:
        rows.append([f"Review {r['reference']} {r['title']}", r["owner"], f"{r['next_review']} (overdue)"])
    for a in data["risks"]["overdue_actions"]:
        rows.append([f"Finish the treatment of {a['risk']}: {a['action']}", a["owner"], f"{a['due']} (overdue)"])
    for p in d["pending_promotions"]:
        rows.append(
            [f"Approve or reject {p['version']} for {p['target']}", "Compliance", f"waiting since {p['requested']}"]
        )
    return rows


def _arrow(change: dict) -> Paragraph:
    """The change of a figure as an arrow and a number, red when it is bad news, green when good."""
    st = _styles()
    if change["previous"] is None:
        return markup("<i>first month</i>", st.cell)
    delta = change["now"] - change["previous"]
    if delta == 0:
        return markup("= unchanged", st.cell)
    arrow = "\u2191" if delta > 0 else "\u2193"
    colour = "#424242"
    if change["worse"]:
        worse = (delta > 0) == (change["worse"] == "up")
        colour = "#c62828" if worse else "#2e7d32"
    return markup(f'<font color="{colour}"><font name="Symbol">{arrow}</font> {delta:+d}</font>', st.cell)


# How much of a broken link's description the cover prints (without the hashes); section 8 and the
# incident have all of it.
COVER_PROBLEM_CHARS = 160


def _checkpoint_line(chain: dict) -> str:
    cp = chain["checkpoint"]
    if cp is None:
        return "No checkpoint of the audit chain was verified by the end of the month."
    return (
        f"Link {cp['seq']} ({cp['rows']} rows), made {when(cp['made_at'])}, hash {cp['row_hash'][:16]}..., "
        f"signed with key {cp['key_id']}; kept at {cp['location']}"
    )


def _verifier_summary(chain: dict) -> str:
    """The verifier's month in words: how many runs, how many failed, the last one."""
    if not chain["runs"]:
        return "The verifier did not run this month."
    last = chain["last"]
    runs = "1 run" if chain["runs"] == 1 else f"{chain['runs']} runs"
    return (
        f"{runs}: {chain['passed']} passed, {chain['failed']} failed. Last run {'passed' if last['ok'] else 'FAILED'} "
        f"{when(last['at'])} ({last['scope'].lower()}, {last['rows_checked']} rows)."
    )


def _verifier_failure(chain: dict, *, brief: bool = False) -> str:
    """The month's first failure and the incident it opened; empty when every run passed.

    Brief (the cover): the broken link without its two hashes, cut to a line or two.
    """
    failure = chain["first_failure"]
    if not failure:
        return ""
    problem = (failure["summary" if brief else "problem"] or "no link named").rstrip(".")
    if brief and len(problem) > COVER_PROBLEM_CHARS:
        problem = problem[:COVER_PROBLEM_CHARS].rstrip() + "..."
    incident = f" Incident {failure['incident']}." if failure["incident"] else ""
    return f"First failure {when(failure['at'])}: {problem}{'' if problem.endswith('...') else '.'}{incident}"


def _verifier_cell(chain: dict) -> str:
    """The cover's cell: a failure in red."""
    failure = _verifier_failure(chain, brief=True)
    summary = escape(_verifier_summary(chain))
    if chain["failed"]:
        summary = summary.replace("FAILED", '<font color="#c62828"><b>FAILED</b></font>')
    return summary + (f' <font color="#c62828">{escape(failure)}</font>' if failure else "")


def _cover(data: dict, sha256: str) -> list:
    """Page 1, the decision page: what the month was, the status, what to decide, and what changed."""
    st = _styles()
    word, colour, meaning = STATUS[data["status"]["colour"]]
    reasons = data["status"]["reasons"]
    status = Table(
        [
            [
                markup(f'<font color="white" size="14"><b>{word}</b></font>', st.body),
                markup(
                    f"<b>{escape(meaning)}</b>" + (" " + escape("; ".join(reasons)) + "." if reasons else ""),
                    st.body,
                ),
            ]
        ],
        colWidths=[2.6 * cm, PAGE_WIDTH - 2.6 * cm],
        hAlign="LEFT",
    )
    status.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (0, 0), colour),
                ("BOX", (0, 0), (-1, -1), 0.8, colour),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    decisions = _decisions_required(data)
    shown, more = capped(decisions, DECISION_ROWS)
    changes = data["changes"]
    flow = [
        markup(f"AI models and risks: {escape(data['period_label'])}", st.title),
        text(f"Monthly report for executives, {data['organisation']}", st.big),
        Spacer(1, 0.3 * cm),
        table(
            None,
            [
                [
                    "Period",
                    f"{data['period_start'][:10]} to {data['period_end'][:10]} (exclusive), {data['time_zone']}",
                ],
                ["Generated", f"{when(data['generated_at'])} {data['time_zone']}"],
                ["SHA-256 of the data", markup(f'<font name="Courier" size="7.5">{sha256}</font>', st.cell)],
                ["Audit chain checkpoint", text(_checkpoint_line(data["audit_chain"]), st.cell)],
                ["Verifier this month", markup(_verifier_cell(data["audit_chain"]), st.cell)],
            ],
            widths=[0.22, 0.78],
        ),
        markup("Status of the month", st.h2),
        status,
        markup("Decisions required", st.h2),
        table(["Decision", "Owner", "Due"], shown, [0.64, 0.16, 0.2])
        if decisions
        else _none("None: no decision waits at the end of the month."),
    ]
    if more:
        flow.append(more)
    flow += [
        markup("Changes since last month", st.h2),
        table(
            ["", "This month", "Last month", "Change"],
            [
                [c["what"], str(c["now"]), "-" if c["previous"] is None else str(c["previous"]), _arrow(c)]
                for c in changes
            ],
            [0.46, 0.16, 0.16, 0.22],
        ),
        Spacer(1, 0.3 * cm),
        text(
            "Built by Fineprint from its records as they stood at the end of the period; regenerating it for "
            "the same period from the same records gives the same data and the same SHA-256. The pages that "
            "follow hold the detail of every line above.",
            st.small,
        ),
        PageBreak(),
    ]
    return flow


def _summary(data: dict) -> list:
    st = _styles()
    d, inv, incidents = data["decisions"], data["inventory"]["counts"], data["incidents"]
    figures = [
        ["Risks over appetite, not accepted", len(d["over_appetite"])],
        ["Acceptances expiring within 30 days", len(d["acceptances_expiring"])],
        ["Risk reviews overdue", len(d["overdue_reviews"])],
        ["Promotions waiting for a decision", len(d["pending_promotions"])],
        ["Release gates overridden this month", len(d["gate_overrides"])],
        [
            f"Production versions within {data['runway']['thresholds']['warning']} days of shutdown, "
            "no candidate ready",
            len(d["runway_without_candidate"]),
        ],
        [
            "New versions trained without a dataset check / with overridden findings",
            f"{len(data['training_data']['unchecked'])} / {len(data['training_data']['overridden'])}",
        ],
        ["Breached controls", len(data["risks"]["breached_controls"])],
        ["Incidents opened / closed", f"{len(incidents['opened'])} / {len(incidents['closed'])}"],
        [
            "Versions registered / promoted / rolled back",
            f"{inv['registered']} / {inv['promoted']} / {inv['rolled_back']}",
        ],
    ]
    flow = [markup("The month in figures", st.h1)]
    flow.append(table(["", "This month"], [[k, str(v)] for k, v in figures], widths=[0.75, 0.25]))
    flow.append(Spacer(1, 0.3 * cm))
    sections = [
        (
            "Risks over appetite: treat them or accept them",
            ["Risk", "Title", "Residual", "Owner"],
            [[r["reference"], r["title"], r["residual"], r["owner"]] for r in d["over_appetite"]],
            [0.14, 0.5, 0.16, 0.2],
        ),
        (
            "Production running out of runway, with no candidate ready",
            ["Days left", "What runs out, and why nothing is ready to replace it"],
            [[_coloured_days(r["days_left"], r["urgency"]), r["statement"]] for r in d["runway_without_candidate"]],
            [0.14, 0.86],
            [r["urgency"] for r in d["runway_without_candidate"]],
        ),
        (
            "Acceptances expiring within 30 days: renew or treat",
            ["Risk", "Accepted by", "Expires", "Residual", "Conditions"],
            [
                [a["risk"], a["accepted_by"], a["expires"], a["residual"], a["conditions"]]
                for a in d["acceptances_expiring"]
            ],
            [0.13, 0.17, 0.14, 0.14, 0.42],
        ),
        (
            "Reviews overdue",
            ["Risk", "Title", "Owner", "Was due"],
            [[r["reference"], r["title"], r["owner"], r["next_review"]] for r in d["overdue_reviews"]],
            [0.14, 0.5, 0.2, 0.16],
        ),
        (
            "Promotions waiting for a decision",
            ["Version", "Target", "Requested by", "On", "Why"],
            [
                [p["version"], p["target"], p["requested_by"], p["requested"], p["justification"]]
                for p in d["pending_promotions"]
            ],
            [0.22, 0.12, 0.16, 0.12, 0.38],
        ),
        (
            "Failed release gates overridden",
            ["Version", "Target", "Approved by", "On", "Justification"],
            [
                [o["version"], o["target"], o["decided_by"], o["decided"], o["justification"]]
                for o in d["gate_overrides"]
            ],
            [0.22, 0.12, 0.16, 0.12, 0.38],
        ),
    ]
    for title, header, rows, widths, *urgencies in sections:
        flow.append(markup(escape(title), st.h2))
        shown, more = capped(rows, SUMMARY_ROWS)
        if not rows:
            flow.append(_none("None."))
        elif urgencies:
            flow.append(_urgency_styles(table(header, shown, widths), urgencies[0][: len(shown)], column=0))
        else:
            flow.append(table(header, shown, widths))
        if more:
            flow.append(more)
    flow.append(CondPageBreak(6 * cm))
    return flow


def _inventory(data: dict) -> list:
    st = _styles()
    inv, jobs, trained = data["inventory"], data["jobs"], data["training_data"]
    counts = inv["counts"]
    flow = [markup("1. Inventory changes", st.h1)]
    flow.append(
        text(
            f"{plural(counts['models'], 'registered model')} and {plural(counts['versions'], 'version')} at the end "
            f"of the month. This month: {plural(counts['registered'], 'version')} registered, {counts['promoted']} "
            f"promoted, {counts['rolled_back']} rolled back, {counts['retired']} retired, {counts['failed']} failed in "
            f"training; {plural(jobs['finished'], 'fine-tune job')} finished"
            + (" (" + ", ".join(f"{n} {s}" for s, n in jobs["by_status"].items()) + ")." if jobs["by_status"] else ".")
            + f" {plural(trained['trained'], 'new version')} started training: "
            f"{len(trained['unchecked'])} without a dataset check, {len(trained['overridden'])} on data with "
            "overridden blocking findings."
        )
    )
    parts = [
        (
            "Promoted",
            ["Version", "Where", "When", "Approved by", "Why"],
            [
                [
                    p["version"],
                    f"{p['environment']} {p['traffic_percent']}%",
                    when(p["at"]),
                    p["approved_by"],
                    p["reason"],
                ]
                for p in inv["promoted"]
            ],
            [0.22, 0.14, 0.16, 0.14, 0.34],
        ),
        (
            "Rolled back",
            ["Version restored", "Where", "When", "By", "Why"],
            [
                [p["version"], p["environment"], when(p["at"]), p["approved_by"], p["reason"]]
                for p in inv["rolled_back"]
            ],
            [0.22, 0.14, 0.16, 0.14, 0.34],
        ),
        ("Retired", ["Version", "When"], [[r["version"], when(r["at"])] for r in inv["retired"]], [0.5, 0.5]),
        (
            "Failed in training",
            ["Version", "When", "Error"],
            [[f["version"], when(f["at"]), f["error"]] for f in inv["failed"]],
            [0.25, 0.2, 0.55],
        ),
        (
            "Trained without a dataset check",
            ["Version", "Job started", "Data not checked then"],
            [
                [t["version"], when(t["job_started"]), "; ".join(_unchecked_file(f) for f in t["files"])]
                for t in trained["unchecked"]
            ],
            [0.22, 0.16, 0.62],
        ),
        (
            "Trained on data with overridden blocking findings",
            ["Version", "Job started", "Findings overridden, by whom, why"],
            [
                [t["version"], when(t["job_started"]), "; ".join(_overridden_file(f) for f in t["files"])]
                for t in trained["overridden"]
            ],
            [0.22, 0.16, 0.62],
        ),
        (
            "Registered",
            ["Version", "When", "By", "Changelog"],
            [[r["version"], when(r["at"]), r["by"], r["changelog"]] for r in inv["registered"]],
            [0.2, 0.15, 0.13, 0.52],
        ),
    ]
    for title, header, rows, widths in parts:
        flow.append(markup(title, st.h2))
        shown, more = capped(rows, SECTION_ROWS)
        flow.append(table(header, shown, widths) if rows else _none("None this month."))
        if more:
            flow.append(more)
    return flow


def _unchecked_file(f: dict) -> str:
    return f"{f['role']} {f['sha256'][:12]}… ({f['state']})"


def _overridden_file(f: dict) -> str:
    return (
        f"{f['role']} {f['sha256'][:12]}…: {f['blocking']} blocking, overridden by {f['overridden_by']} "
        f"on {f['overridden_on']}: {f['justification']}"
    )


def _risk_sections(data: dict) -> list:
    st = _styles()
    risks = data["risks"]
    flow = [CondPageBreak(14 * cm), markup("2. Risk heat maps, inherent and residual", st.h1)]
    flow.append(
        text(
            f"{risks['open']} open risks, scored with matrix {risks['matrix_version']}: likelihood (up) times "
            f"impact (across). Inherent is before controls, residual after. The risk appetite is "
            f"{risks['appetite']}: risks above it need a decision."
        )
    )
    names = {"likelihood_names": risks["likelihood_names"], "impact_names": risks["impact_names"]}
    maps = Table(
        [
            [
                heatmap_drawing(risks["heatmap"]["inherent"], risks["matrix_bands"], "Inherent", **names),
                heatmap_drawing(risks["heatmap"]["residual"], risks["matrix_bands"], "Residual", **names),
            ]
        ],
        hAlign="LEFT",
    )
    flow += [Spacer(1, 0.2 * cm), maps]
    previous, now = risks["by_band_previous"], risks["by_band"]
    if previous is None:
        flow += [
            markup("Residual bands", st.h2),
            table(
                ["Band", "Now", "Last month"],
                [[label, str(now[band]), "first month"] for band, label in BAND_LABELS.items()],
                [0.4, 0.3, 0.3],
            ),
        ]
    else:
        rows = []
        for band, label in BAND_LABELS.items():
            change = now[band] - previous[band]
            rows.append([label, str(now[band]), str(previous[band]), f"{change:+d}" if change else "="])
        flow += [
            markup("Residual bands against last month", st.h2),
            table(["Band", "Now", "Last month", "Change"], rows, [0.3, 0.2, 0.25, 0.25]),
        ]
    # A chart keeps its heading and its line of context, so it never stands alone on a page.
    trend = risks["trend"]
    if len(trend) > 1:
        flow.append(
            KeepTogether(
                [
                    markup("Trend: open risks per residual band", st.h2),
                    text(f"From {trend[0]['period']}, the register's first month in the last six.", st.small),
                    band_trend_drawing(trend),
                ]
            )
        )

    flow += [CondPageBreak(8 * cm), markup("3. Top risks", st.h1)]
    flow.append(
        table(
            ["Risk", "Title", "Owner", "Inherent", "Residual", "Status", "Next review"],
            [
                [
                    r["reference"],
                    r["title"] + (" (control breached)" if r["breached"] else ""),
                    r["owner"],
                    r["inherent"],
                    r["residual"],
                    r["status"],
                    (r["next_review"] or "-") + (" OVERDUE" if r["overdue"] else ""),
                ]
                for r in risks["top"]
            ],
            [0.11, 0.31, 0.12, 0.11, 0.11, 0.11, 0.13],
        )
        if risks["top"]
        else _none("No open risk.")
    )
    flow += [markup("4. Treatment actions overdue", st.h1)]
    actions, more = capped(risks["overdue_actions"], SECTION_ROWS)
    flow.append(
        table(
            ["Risk", "Action", "Owner", "Was due", "Status"],
            [[a["risk"], a["action"], a["owner"], a["due"], a["status"]] for a in actions],
            [0.12, 0.46, 0.14, 0.13, 0.15],
        )
        if actions
        else _none("None.")
    )
    if more:
        flow.append(more)
    flow += [markup("Controls breached (key risk indicators)", st.h2)]
    breached, more = capped(risks["breached_controls"], SECTION_ROWS)
    flow.append(
        table(
            ["Control", "Name", "Since", "What was seen"],
            [[c["reference"], c["name"], when(c["since"]), c["detail"]] for c in breached],
            [0.12, 0.25, 0.16, 0.47],
        )
        if breached
        else _none("None: every metric check passed or had no data.")
    )
    if more:
        flow.append(more)
    return flow


def _evaluations(data: dict) -> list:
    st = _styles()
    flow = [CondPageBreak(10 * cm), markup("5. Evaluation trends of production models", st.h1)]
    if not data["evaluations"]:
        return [*flow, _none("No model was in production at the end of the month.")]
    flow.append(
        text(
            "Side-by-side win rate of each evaluation of the model's versions over the last six months "
            "(above 0.5: it wins more comparisons than it loses), against one baseline: the baseline of the "
            "model's latest evaluation, since a win rate compares only with the same baseline. Bars show each "
            "win rate's 95% interval from the verdicts; a win rate typed in by hand has none (an open circle). "
            "The dashed line is the gate's minimum."
        )
    )
    flow.append(
        text(
            "A win-rate regression is declared only when the intervals of consecutive runs no longer overlap, "
            "or when a run's lower bound falls below the gate's minimum; a drop within the interval is not one. "
            "A rise of p95 latency by 10% or more between consecutive evaluations is one too.",
            st.small,
        )
    )
    models = data["evaluations"]

    def latest(model: dict):
        rates = [p["win_rate"] for p in model["points"] if p["win_rate"] is not None]
        return rates[-1] if rates else None

    def latest_words(model: dict) -> str:
        shown = [p for p in model["points"] if p["win_rate"] is not None]
        if not shown:
            return "-"
        p = shown[-1]
        interval = f" [{p['lower']:.2f}, {p['upper']:.2f}]" if p.get("lower") is not None else " (typed in)"
        return f"{p['win_rate']:.2f}{interval} vs {model['baseline']}"

    # The charts go to the models that most need a look: regressions first, then the lowest win rate.
    concerning = sorted(models, key=lambda m: (-len(m["regressions"]), latest(m) if latest(m) is not None else 1))
    for index, model in enumerate(concerning[:CHARTS]):
        block = [
            markup(
                f"{escape(model['model'])}: <b>{escape(model['production_version'])}</b> in production since "
                f"{escape((model['since'] or '')[:10])}",
                st.h2,
            )
        ]
        if any(p["win_rate"] is not None for p in model["points"]):
            threshold = model.get("threshold")
            gate = (
                f"; gate {threshold['rule']} ({threshold['policy']})" if threshold else "; no win-rate rule in its gate"
            )
            block.append(text(f"Against {model['baseline']}{gate}.", st.small))
            block.append(win_rate_drawing(model, LINE_COLOURS[index % len(LINE_COLOURS)]))
        else:
            block.append(_none("No evaluation with a win rate in the last six months."))
        notes = []
        if model.get("typed"):
            count, total = model["typed"], len(model["points"])
            notes.append(
                f"{count} of the {total} win rates plotted {'was' if count == 1 else 'were'} typed in, not supported "
                "by verdicts: drawn without an interval, never called a regression by their win rate."
            )
        if model.get("left_out_note"):
            notes.append(model["left_out_note"][0].upper() + model["left_out_note"][1:] + ".")
        if notes:
            block.append(text(" ".join(notes), st.small))
        if model["regressions"]:
            shown = model["regressions"][-3:]
            earlier = len(model["regressions"]) - len(shown)
            note = f" (and {earlier} earlier)" if earlier else ""
            block.append(text("Regressions: " + "; ".join(shown) + note, st.small))
        else:
            block.append(text("No regression.", st.small))
        flow.append(KeepTogether(block))
    if len(models) > CHARTS:
        flow.append(markup(f"All {len(models)} production models", st.h2))
        flow.append(
            table(
                ["Model", "In production", "Latest win rate", "Evaluations", "Regressions (latest)"],
                [
                    [
                        m["model"],
                        m["production_version"],
                        latest_words(m),
                        str(len(m["points"]))
                        + (
                            f" (and {sum(o['evaluations'] for o in m['left_out'])} against other baselines, "
                            "not plotted)"
                            if m.get("left_out")
                            else ""
                        ),
                        f"{len(m['regressions'])}: {m['regressions'][-1]}" if m["regressions"] else "-",
                    ]
                    for m in sorted(models, key=lambda m: m["model"])
                ],
                [0.17, 0.12, 0.2, 0.14, 0.37],
            )
        )
    return flow


def _incidents(data: dict) -> list:
    st = _styles()
    incidents = data["incidents"]
    flow = [CondPageBreak(6 * cm), markup("6. Incidents", st.h1)]
    flow.append(
        text(
            f"{len(incidents['opened'])} opened and {len(incidents['closed'])} closed this month; "
            f"{plural(len(incidents['serious_open']), 'serious incident')} still open."
        )
    )
    severity_rank = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
    for title, rows in (
        ("Opened", incidents["opened"]),
        ("Closed", incidents["closed"]),
        ("Serious, still open", incidents["serious_open"]),
    ):
        flow.append(markup(title, st.h2))
        if not rows:
            flow.append(_none("None."))
            continue
        ranked = sorted(rows, key=lambda i: (not i["serious"], severity_rank.get(i["severity"], 9)))
        for incident in ranked[:DETAILED_INCIDENTS]:
            flow += _incident(incident)
        rest = ranked[DETAILED_INCIDENTS:]
        if rest:
            flow.append(markup(f"{len(rest)} more, in short", st.body))
            flow.append(
                table(
                    ["Incident", "Title", "Version", "Severity", "Status"],
                    [[i["reference"], i["title"], i["version"], i["severity"], i["status"]] for i in rest],
                    [0.12, 0.4, 0.22, 0.12, 0.14],
                )
            )
    return flow


def _incident(i: dict) -> list:
    st = _styles()
    facts = [
        ["Version", i["version"]],
        ["Severity", i["severity"] + (f"; serious: {i['serious']}" if i["serious"] else "")],
        ["Reporting clock", i["clock"] or "not a serious incident"],
        ["Status", f"{i['status']} (aware {i['aware']}" + (f", closed {i['closed']})" if i["closed"] else ")")],
        ["Impact", i["impact"] or "-"],
        ["Root cause", i["root_cause"] or "not yet known"],
        ["Fix", i["fix"] or "-"],
        ["Guard examples added", i["guard_examples"] or "-"],
    ]
    flow = [
        markup(f"<b>{escape(i['reference'])}</b> {escape(i['title'])}", st.body),
        table(None, facts, [0.22, 0.78]),
    ]
    if i["examples"]:
        flow.append(
            table(
                ["Prompt (redacted)", "Bad answer", "Expected answer"],
                [[e["prompt"], e["bad_answer"], e["expected_answer"]] for e in i["examples"]],
                [0.34, 0.33, 0.33],
            )
        )
    flow.append(Spacer(1, 0.3 * cm))
    return flow


# The urgency of a runway: a word always (never colour alone), and a background behind it.
URGENCY = {
    "shut_down": ("SHUT DOWN", colors.HexColor("#7f0000"), colors.white),
    "imminent": ("CRITICAL", BAND_COLOURS["critical"], colors.white),
    "near": ("HIGH", BAND_COLOURS["high"], colors.white),
    "warning": ("WARNING", colors.HexColor("#fff3c4"), colors.black),
}


@functools.cache
def _days_style(urgency: str) -> ParagraphStyle:
    """The days-left cell's text, in the colour that reads on the urgency's background."""
    colour = URGENCY[urgency][2] if urgency in URGENCY else colors.black
    return ParagraphStyle(f"Days-{urgency}", parent=_styles().cell, textColor=colour)


def _coloured_days(days: int | None, urgency: str) -> Paragraph:
    """Days left at month end, with the urgency's word under them (its background is set on the table)."""
    if days is None:
        return text("-", _styles().cell)
    if days > 0:
        count = f"{days} day{'s' if days != 1 else ''}"
    elif days == 0:
        count = "0 (last day)"
    else:
        count = f"{-days} day{'s' if days != -1 else ''} ago"
    word = URGENCY.get(urgency, ("", None, None))[0]
    return markup(f"<b>{escape(count)}</b>" + (f"<br/>{word}" if word else ""), _days_style(urgency))


def _urgency_styles(table_: Table, urgencies: list[str], column: int, first_row: int = 1) -> Table:
    commands = []
    for index, urgency in enumerate(urgencies, start=first_row):
        if urgency in URGENCY:
            _, background, _ = URGENCY[urgency]
            commands.append(("BACKGROUND", (column, index), (column, index), background))
    if commands:
        table_.setStyle(TableStyle(commands))
    return table_


def _runway(data: dict) -> list:
    st = _styles()
    runway = data["runway"]
    thresholds = runway["thresholds"]
    flow = [CondPageBreak(6 * cm), markup("7. Runway of live deployments", st.h1)]
    flow.append(
        text(
            f"Every deployment live at the end of the month, with the shutdown date of the model it runs on as "
            f"the provider catalogue stood then, and the days left counted from {runway['counted_from']}, the "
            f"month's last day. A deployment on a retiring base model shows its best migration candidate then (a "
            f"version of the same model on a base with no announced shutdown) and that candidate's release gate."
        )
    )
    flow.append(
        text(
            f"Urgency, as the runway risk in the register: WARNING within {thresholds['warning']} days (the risk "
            f"opens), HIGH at {thresholds['near']} days or fewer, CRITICAL at {thresholds['imminent']} or fewer, "
            "SHUT DOWN once the date has come.",
            st.small,
        )
    )
    flow.append(Spacer(1, 0.2 * cm))
    rows = runway["deployments"]
    if not rows:
        return [*flow, _none("No deployment was live at the end of the month.")]
    shown, more = capped(rows, SECTION_ROWS)

    def shutdown(r: dict) -> str:
        if r["state"] == "unknown":
            return "not in the catalogue"
        return r["shutdown_date"] or "none announced"

    def candidate(r: dict) -> Paragraph:
        # Its base model is left out: a candidate runs on a base with no announced shutdown by definition.
        if r["gate"] is None:
            return text("not needed", st.cell)
        if r["candidate"] is None:
            return markup("<b>none</b>", st.cell)
        more_ = f" (best of {r['candidates']})" if r["candidates"] > 1 else ""
        return text(r["candidate"]["version"] + more_, st.cell)

    gate_words = {"passed": "passed", "failed": "<b>failed</b>", "none": "<b>none</b>", None: "-"}
    result = table(
        ["Deployment", "Base model", "Shuts down", "Days left", "Replacement", "Candidate", "Gate"],
        [
            [
                markup(f"{escape(r['model'])} <b>{escape(r['version'])}</b><br/>{escape(r['environment'])}", st.cell),
                r["base_model"],
                shutdown(r),
                _coloured_days(r["days_left"], r["urgency"]),
                r["replacement"] or ("none named" if r["shutdown_date"] else "-"),
                candidate(r),
                markup(gate_words[r["gate"]], st.cell),
            ]
            for r in shown
        ],
        [0.17, 0.22, 0.13, 0.14, 0.14, 0.12, 0.08],
    )
    flow.append(_urgency_styles(result, [r["urgency"] for r in shown], column=3))
    if more:
        flow.append(more)
    flow.append(Spacer(1, 0.4 * cm))
    return flow


def _closing(data: dict, sha256: str) -> list:
    st = _styles()
    flow = _runway(data)
    audit = data["audit"]
    flow += [markup("8. Audit trail", st.h1)]
    flow.append(
        text(
            f"{audit['changes']} changes recorded this month, each with who, when, from where and what; "
            f"{audit['without_reason']} without a written reason (system bookkeeping such as sign-ins and "
            "job sync)."
        )
    )
    keys = audit.get("chain_keys") or []
    flow.append(
        text(
            "Every history row is linked into one hash chain (HMAC-SHA256) in the transaction that writes it, "
            + (
                f"under key {' then '.join(keys)}"
                if keys
                else "under the key of its time (no row was recorded this month)"
            )
            + "; the database refuses to change or delete history, and signed checkpoints kept outside it "
            "show whether anything was rewritten."
        )
    )
    chain = data["audit_chain"]
    flow.append(
        text(" ".join(filter(None, ["Verifier:", _verifier_summary(chain), _verifier_failure(chain)])), st.small)
    )
    flow.append(text("Checkpoint: " + _checkpoint_line(chain), st.small))
    flow.append(
        table(
            ["By whom", "Changes"],
            [[user, str(n)] for user, n in audit["by_user"]],
            [0.7, 0.3],
        )
        if audit["by_user"]
        else _none("No change recorded.")
    )
    flow.append(Spacer(1, 0.2 * cm))
    flow.append(text("From where: " + (", ".join(f"{k} {v}" for k, v in audit["by_source"].items()) or "-"), st.small))
    flow.append(
        text("Records changed most: " + (", ".join(f"{k} {v}" for k, v in audit["by_record"]) or "-"), st.small)
    )
    flow.append(Spacer(1, 0.6 * cm))
    flow.append(
        markup(f'SHA-256 of the data this report was built from: <font name="Courier">{sha256}</font>', st.small)
    )
    return flow


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF reportlab wrote (its page objects, not the page tree)."""
    return len(re.findall(rb"/Type /Page[^s]", pdf))


def render_pdf(data: dict, *, sha256: str) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        topMargin=1.6 * cm,
        bottomMargin=1.8 * cm,
        title=f"AI models and risks: {data['period_label']}",
        author="Fineprint",
        subject=f"Monthly report for executives, {data['organisation']}",
    )
    story = [
        *_cover(data, sha256),
        *_summary(data),
        *_inventory(data),
        *_risk_sections(data),
        *_evaluations(data),
        *_incidents(data),
        *_closing(data, sha256),
    ]

    class Canvas(_NumberedCanvas):
        footer = f"{data['organisation']} · AI models and risks · {data['period_label']}"

    document.build(story, canvasmaker=Canvas)
    return buffer.getvalue()
