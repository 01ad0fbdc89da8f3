"""A customer's monthly service-hours statement as one self-contained, printable HTML page.

Pure: takes the statements that build_ledger computed and the month's SLA counts, returns
the document as a string. No scripts, no external resources (a Content-Security-Policy
forbids them), one inline SVG chart of the last 12 months. The SVG is well-formed XML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from slabridge.domain.hours import Statement, percent

ZERO = Decimal(0)
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. Used hours
# are solid and saturated; unused ones light (carried) or hatched (lapsed).
BLUE, VERMILLION, SKY, PURPLE = "#0072B2", "#D55E00", "#56B4E9", "#CC79A7"
SKY_LIGHT = "#C4E4F7"

# Chart geometry (SVG user units).
WIDTH, HEIGHT = 760, 330
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 66, 40
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

STYLE = """
@page { size: A4; margin: 14mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #1a1a1a; background: #fff; max-width: 52rem; margin: 1.5rem auto;
  padding: 0 1.5rem; line-height: 1.4; font-size: 15px; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid #ccc;
  padding-bottom: .2rem; }
.subtitle { margin: 0; color: #444; font-size: 1.05rem; }
.notice { border-left: 5px solid #CC79A7; background: #f9eef4; padding: .5rem .8rem;
  margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; break-inside: avoid; }
th, td { padding: .28rem .6rem; border-bottom: 1px solid #e2e2e2; text-align: left;
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.figures th[scope=row] { font-weight: 600; width: 14rem; }
table.figures td.note { color: #555; font-size: .9rem; }
tr.total th, tr.total td { border-top: 2px solid #999; font-weight: 600; }
tr.key th, tr.key td { background: #f2f2f2; }
tr.lapsed.positive th, tr.lapsed.positive td { background: #f9eef4; }
tr.lapsed.positive th { border-left: 5px solid #CC79A7; }
.badge { display: inline-block; font-size: .75rem; font-weight: 700; letter-spacing: .04em;
  color: #fff; background: #8a3d68; border-radius: 3px; padding: 0 .35rem; margin-left: .4rem; }
td.bad { color: #a63d00; font-weight: 700; }
figure { margin: .5rem 0 0; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: .88rem; margin-top: .3rem; }
.muted { color: #666; }
@media print { body { margin: 0; max-width: none; padding: 0; font-size: 11pt; } }
"""


@dataclass(frozen=True, slots=True)
class Segment:
    """One stacked piece of a month's bar."""

    kind: str
    hours: Decimal
    fill: str


LEGEND: tuple[tuple[str, str, str], ...] = (
    ("covered", "used, covered", BLUE),
    ("extra", "used, billed extra", VERMILLION),
    ("carried", "unused, carried as credit", SKY_LIGHT),
    ("lapsed", "unused, lapsed (credit cap)", "url(#lapsed-hatch)"),
)



def render_statement_html(
    customer_name: str,
    statements: Sequence[Statement],
    compliance: Mapping[str, tuple[int, int, int]],
    currency: str = "EUR",
    metric_compliance: Mapping[str, Mapping[str, tuple[int, int, int]]] | None = None,
) -> str:
    """The whole HTML document for the last statement, charting up to 12 months before it."""
    if not statements:
        raise ValueError("a statement needs at least one month")
    recent = list(statements)[-12:]
    current = recent[-1]
    title = f"Service hours statement {current.month} - {customer_name}"
    body = "\n".join([
        _heading(customer_name, current),
        _lapsed_notice(current),
        "<h2>This month</h2>",
        _figures_table(current, currency),
        _adjustments_section(current),
        "<h2>Last 12 months</h2>",
        _chart_figure(recent),
        "<h2>Response times</h2>",
        _compliance_table(current.month, compliance),
        *(part for metric, counts in (metric_compliance or {}).items()
          for part in (f"<h2>{_e(metric.capitalize())} times</h2>",
                       _compliance_table(current.month, counts, metric))),
    ])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        "<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _e(text: str) -> str:
    """Text escaped for HTML and XML content and attribute values."""
    return escape(text, quote=True)


def format_hours(value: Decimal) -> str:
    """Hours for people: 12.5 h, 8 h, 0.25 h, 1,250 h."""
    text = f"{value.quantize(Decimal('0.01')):,.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text} h"


def format_signed_hours(value: Decimal) -> str:
    """Hours with an explicit sign for changes: +2 h, -1.5 h."""
    return ("+" if value > 0 else "") + format_hours(value)


def format_amount(value: Decimal, currency: str) -> str:
    """Money with two decimals and the currency code: 1,234.50 EUR."""
    return f"{value.quantize(Decimal('0.01')):,.2f} {currency}"


def format_share(in_time: int, breached: int) -> str:
    """Answered in time as a share of the responses that were due, or a dash if none were."""
    due = in_time + breached
    return "\u2013" if due == 0 else f"{100 * in_time / due:.1f} %"


def month_label(month: str) -> str:
    """A month for people: November 2026."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def _heading(customer_name: str, current: Statement) -> str:
    """The page heading: customer, month and tier."""
    return (
        f"<header>\n<h1>Service hours statement: {_e(customer_name)}</h1>\n"
        f"<p class=\"subtitle\"><strong>{_e(month_label(current.month))}</strong> "
        f"<span class=\"muted\">({_e(current.month)})</span> &#183; tier "
        f"<strong>{_e(current.tier)}</strong></p>\n</header>"
    )


def _lapsed_notice(current: Statement) -> str:
    """A prominent note when hours lapsed this month, else nothing."""
    if current.lapsed <= 0:
        return ""
    months = current.credit_cap_months
    rule = (
        "Unused hours do not carry over; they lapse." if months == 0 else
        f"Unused hours carry over as credit up to {_months(months)} of included hours "
        f"({format_hours(current.included * months)}); the hours beyond that lapse."
    )
    return (
        f"<p class=\"notice\" role=\"note\"><strong>{format_hours(current.lapsed)} lapsed "
        f"this month.</strong> {rule}</p>"
    )


def _months(count: int) -> str:
    """1 month, 6 months."""
    return f"{count} month{'' if count == 1 else 's'}"


def _row(label: str, value: str, note: str = "", css: str = "") -> str:
    """One row of the figures table."""
    attribute = f" class=\"{css}\"" if css else ""
    return (
        f"<tr{attribute}><th scope=\"row\">{label}</th><td class=\"num\">{_e(value)}</td>"
        f"<td class=\"note\">{note}</td></tr>"
    )


def _figures_table(current: Statement, currency: str) -> str:
    """The month's hours and amounts as a table of labelled figures."""
    lapsed_css = "lapsed positive" if current.lapsed > 0 else "lapsed"
    lapsed_label = "Lapsed" + ("<span class=\"badge\">LAPSED</span>" if current.lapsed > 0
                               else "")
    entries = "time entry" if current.bookings == 1 else "time entries"
    rows = [
        _row("Included", format_hours(current.included), "the tier's hours per month"),
        _row("Credit in", format_hours(current.credit_in), "unused hours from earlier months"),
        _row("Available", format_hours(current.available), "included + credit in", "total"),
        _row("Used", format_hours(current.used),
             f"{current.bookings:,} {entries}"
             + (", adjustments included" if current.adjustments else ""), "key"),
        _row("Credit out", format_hours(current.credit_out), "carried to next month"),
        _row(lapsed_label, format_hours(current.lapsed),
             f"hours that lapsed because credit is capped at "
             f"{_months(current.credit_cap_months)} of included hours", lapsed_css),
        _row("Billable extra hours", format_hours(current.billable_hours),
             "hours beyond the available ones", "key"),
        _row("Surcharge hours", format_hours(current.surcharge_hours),
             "critical issues fixed in the current sprint"
             + (f", +{percent(current.surcharge)} on the hourly rate" if current.surcharge
                else "")),
    ]
    amounts = (("Monthly fee", current.fee), ("Extra hours amount", current.extra_amount),
               ("Surcharge amount", current.surcharge_amount))
    rows += [_row(label, format_amount(value, currency)) for label, value in amounts
             if value is not None]
    return (
        "<table class=\"figures\">\n<caption class=\"muted\" style=\"text-align:left\">"
        f"Figures for {_e(current.month)}</caption>\n<tbody>\n" + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def _adjustments_section(current: Statement) -> str:
    """Changes to closed months reported in this statement, if any."""
    if not current.adjustments:
        return ""
    rows = "\n".join(
        f"<tr><td>{_e(a.month)}</td><td>{_e(a.entry_id)}</td>"
        f"<td class=\"num\">{_e(format_signed_hours(a.hours))}</td></tr>"
        for a in current.adjustments
    )
    return (
        "<h2>Adjustments to closed months</h2>\n<p class=\"muted\">Time entries of months "
        "already stated that changed afterwards; they count as used hours of this month.</p>"
        "\n<table class=\"adjustments\">\n<thead><tr><th scope=\"col\">Month</th>"
        "<th scope=\"col\">Time entry</th><th scope=\"col\" class=\"num\">Hours</th></tr>"
        f"</thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    )


def _compliance_table(month: str, compliance: Mapping[str, tuple[int, int, int]],
                      metric: str = "response") -> str:
    """Received, met in time and breached per incident class, with the share in time."""
    rows = [_compliance_row(f"<th scope=\"row\">{_e(name)}</th>", counts)
            for name, counts in compliance.items()]
    if not rows:
        rows = ["<tr><td colspan=\"5\" class=\"muted\">No tickets received.</td></tr>"]
    received, in_time, breached = (sum(c[i] for c in compliance.values()) for i in range(3))
    header = "<th scope=\"row\">All</th>"
    total_row = _compliance_row(header, (received, in_time, breached), "total")
    foot = f"<tfoot>{total_row}</tfoot>\n" if len(compliance) > 1 else ""
    return (
        f"<table class=\"sla\">\n<caption class=\"muted\" style=\"text-align:left\">Tickets "
        f"received in {_e(month)}. Share in time: "
        + ("answered in time among the responses" if metric == "response"
           else f"{_e(metric)} in time among those")
        + " that were due (in time + breached).</caption>\n<thead><tr>"
        "<th scope=\"col\">Class</th><th scope=\"col\" class=\"num\">Received</th>"
        "<th scope=\"col\" class=\"num\">In time</th><th scope=\"col\" class=\"num\">"
        "Breached</th><th scope=\"col\" class=\"num\">Share in time</th></tr></thead>\n"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n{foot}</table>"
    )


def _compliance_row(header: str, counts: tuple[int, int, int], css: str = "") -> str:
    """One class's counts; breaches stand out."""
    received, in_time, breached = counts
    attribute = f" class=\"{css}\"" if css else ""
    bad = " bad" if breached else ""
    return (
        f"<tr{attribute}>{header}<td class=\"num\">{received:,}</td>"
        f"<td class=\"num\">{in_time:,}</td><td class=\"num{bad}\">{breached:,}</td>"
        f"<td class=\"num\">{format_share(in_time, breached)}</td></tr>"
    )


# --- the chart -------------------------------------------------------------------------


def segments(statement: Statement) -> list[Segment]:
    """A month's bar, bottom up: used hours covered, billed extra, credit carried, lapsed.

    Under the available hours the bar is as tall as they are (used + carried + lapsed);
    over them, as tall as the used hours (covered + extra).
    """
    covered = max(statement.used - statement.billable_hours, ZERO)
    parts = (("covered", covered, BLUE), ("extra", statement.billable_hours, VERMILLION),
             ("carried", statement.credit_out, SKY_LIGHT),
             ("lapsed", statement.lapsed, "url(#lapsed-hatch)"))
    return [Segment(kind, hours, fill) for kind, hours, fill in parts if hours > 0]


def axis_step(top: float) -> float:
    """A round tick step giving about five ticks up to `top`."""
    raw = max(top, 1.0) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def axis_top(statements: Sequence[Statement]) -> tuple[float, float]:
    """The axis maximum (a whole number of steps) and the step."""
    tallest = max(
        float(max(sum((p.hours for p in segments(s)), ZERO), s.included)) for s in statements
    )
    step = axis_step(tallest)
    return max(step, math.ceil(tallest / step) * step), step


def _n(value: float) -> str:
    """A coordinate with at most two decimals."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tick_label(value: float) -> str:
    """A tick value without needless decimals."""
    return f"{value:g} h"


def _chart_figure(statements: Sequence[Statement]) -> str:
    """The chart with a caption, in a figure."""
    first, last = statements[0].month, statements[-1].month
    return (
        f"<figure>\n{render_chart_svg(statements)}\n<figcaption>Hours per month, {_e(first)} "
        f"to {_e(last)}. Each bar: hours used (dark blue within the available hours, "
        "vermillion billed as extra), then the unused hours (light blue carried as credit, "
        "hatched purple lapsed). The dashed line marks the included hours; the number on "
        "top of the used part is the hours used.</figcaption>\n</figure>"
    )


def render_chart_svg(statements: Sequence[Statement]) -> str:
    """An inline SVG bar chart: one group per month, stacked as described by segments()."""
    top, step = axis_top(statements)
    scale = PLOT_HEIGHT / top
    slot = PLOT_WIDTH / len(statements)
    parts = [
        f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" "
        f"width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-labelledby=\"chart-title "
        "chart-desc\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, "
        "sans-serif\" font-size=\"12\">",
        f"<title id=\"chart-title\">Service hours per month, {_e(statements[0].month)} to "
        f"{_e(statements[-1].month)}</title>",
        f"<desc id=\"chart-desc\">{_e(' '.join(_month_sentence(s) for s in statements))}"
        "</desc>",
        "<defs><pattern id=\"lapsed-hatch\" width=\"6\" height=\"6\" "
        "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
        f"<rect width=\"6\" height=\"6\" fill=\"{PURPLE}\"/>"
        "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ffffff\" stroke-width=\"2.5\"/>"
        "</pattern></defs>",
        _legend(),
        _axis(top, step, scale),
    ]
    for index, statement in enumerate(statements):
        current = index == len(statements) - 1
        first_or_january = index == 0 or statement.month.endswith("-01")
        parts.append(_month_group(statement, LEFT + index * slot, slot, scale, current,
                                  first_or_january))
    parts.append(f"<line x1=\"{LEFT}\" y1=\"{TOP + PLOT_HEIGHT}\" x2=\"{WIDTH - RIGHT}\" "
                 f"y2=\"{TOP + PLOT_HEIGHT}\" stroke=\"#333333\" stroke-width=\"1\"/>")
    parts.append("</svg>")
    return "\n".join(parts)


def _month_sentence(statement: Statement) -> str:
    """One month in words, for screen readers and tooltips."""
    used = f"{month_label(statement.month)}: used {format_hours(statement.used)}"
    if statement.included > 0 or statement.credit_in > 0:
        used += f" of {format_hours(statement.available)} available"
    words = [used]
    if statement.billable_hours > 0:
        words.append(f"{format_hours(statement.billable_hours)} billed extra")
    if statement.credit_out > 0:
        words.append(f"{format_hours(statement.credit_out)} carried")
    if statement.lapsed > 0:
        words.append(f"{format_hours(statement.lapsed)} lapsed")
    return ", ".join(words) + "."


def _legend() -> str:
    """Swatches and labels above the plot: used kinds in the first row, unused in the second."""
    swatches = {kind: f"<rect width=\"14\" height=\"12\" fill=\"{fill}\"{_outline(kind)}/>"
                for kind, _, fill in LEGEND}
    swatches["included"] = ("<line x1=\"0\" y1=\"6\" x2=\"16\" y2=\"6\" "
                            "stroke=\"#000000\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>")
    labels = {kind: label for kind, label, _ in LEGEND} | {"included": "included hours"}
    grid = (("covered", 0, 0), ("extra", 1, 0), ("included", 2, 0), ("carried", 0, 1),
            ("lapsed", 1, 1))
    placed = [
        f"<g class=\"legend-item\" data-kind=\"{kind}\" "
        f"transform=\"translate({LEFT + column * 200} {8 + row * 22})\">{swatches[kind]}"
        f"<text x=\"20\" y=\"10.5\" fill=\"#222222\">{_e(labels[kind])}</text></g>"
        for kind, column, row in grid
    ]
    return "<g class=\"legend\">" + "".join(placed) + "</g>"


def _axis(top: float, step: float, scale: float) -> str:
    """Horizontal grid lines with hour labels, and the axis title."""
    lines = []
    for index in range(round(top / step) + 1):
        value = index * step
        y = TOP + PLOT_HEIGHT - value * scale
        lines.append(
            f"<line x1=\"{LEFT}\" y1=\"{_n(y)}\" x2=\"{WIDTH - RIGHT}\" y2=\"{_n(y)}\" "
            "stroke=\"#dddddd\" stroke-width=\"1\"/>"
            f"<text x=\"{LEFT - 6}\" y=\"{_n(y + 4)}\" text-anchor=\"end\" fill=\"#444444\">"
            f"{_tick_label(value)}</text>"
        )
    return "<g class=\"axis\" aria-hidden=\"true\">" + "".join(lines) + "</g>"


def _outline(kind: str) -> str:
    """A thin border for the light (carried) segment, so it reads against white."""
    return f" stroke=\"{SKY}\" stroke-width=\"1\"" if kind == "carried" else ""


def _month_group(
    statement: Statement, x: float, slot: float, scale: float, current: bool,
    with_year: bool,
) -> str:
    """One month: highlight if current, stacked bar, included marker, value and label."""
    bar_width = min(slot * 0.6, 44)
    bar_x = x + (slot - bar_width) / 2
    baseline = TOP + PLOT_HEIGHT
    sentence = _month_sentence(statement)
    parts = [f"<g class=\"month{' current' if current else ''}\" "
             f"data-month=\"{_e(statement.month)}\" aria-label=\"{_e(sentence)}\">",
             f"<title>{_e(sentence)}</title>"]
    if current:
        parts.append(f"<rect class=\"highlight\" x=\"{_n(x + 2)}\" y=\"{TOP - 4}\" "
                     f"width=\"{_n(slot - 4)}\" height=\"{PLOT_HEIGHT + BOTTOM}\" "
                     "fill=\"#f1f1f1\"/>")
    y = used_top = float(baseline)
    for part in segments(statement):
        height = float(part.hours) * scale
        y -= height
        if part.kind in ("covered", "extra"):
            used_top = y
        parts.append(
            f"<rect class=\"bar {part.kind}\" data-hours=\"{part.hours}\" x=\"{_n(bar_x)}\" "
            f"y=\"{_n(y)}\" width=\"{_n(bar_width)}\" height=\"{_n(height)}\" "
            f"fill=\"{part.fill}\"{_outline(part.kind)}/>"
        )
    if statement.included > 0:
        marker_y = baseline - float(statement.included) * scale
        parts.append(
            f"<line class=\"included\" x1=\"{_n(bar_x - 4)}\" y1=\"{_n(marker_y)}\" "
            f"x2=\"{_n(bar_x + bar_width + 4)}\" y2=\"{_n(marker_y)}\" stroke=\"#000000\" "
            "stroke-width=\"2\" stroke-dasharray=\"4 2\"/>"
        )
    centre = x + slot / 2
    label_y = (min(used_top, baseline - float(statement.included) * scale)
               if used_top == y else used_top) - 4
    parts.append(
        f"<text class=\"value\" x=\"{_n(centre)}\" y=\"{_n(label_y)}\" text-anchor=\"middle\" "
        f"font-weight=\"600\" fill=\"#222222\">{_e(format_hours(statement.used)[:-2])}</text>"
    )
    weight = " font-weight=\"700\"" if current else ""
    year, number = statement.month.split("-")
    parts.append(
        f"<text class=\"label\" x=\"{_n(centre)}\" y=\"{baseline + 16}\" "
        f"text-anchor=\"middle\" fill=\"#222222\"{weight}>{MONTH_NAMES[int(number) - 1][:3]}"
        "</text>"
    )
    if with_year or current:
        parts.append(f"<text class=\"year\" x=\"{_n(centre)}\" y=\"{baseline + 31}\" "
                     f"text-anchor=\"middle\" fill=\"#555555\"{weight}>{_e(year)}</text>")
    parts.append("</g>")
    return "\n".join(parts)
