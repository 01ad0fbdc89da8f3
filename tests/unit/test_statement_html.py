"""The HTML statement: figures formatted, lapsed and adjustments shown, chart to scale, escaped."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

from slabridge.domain.hours import (
    Adjustment,
    Booking,
    MonthTerms,
    Statement,
    build_ledger,
    months_between,
    settle_month,
)
from slabridge.render.statement_html import format_hours, render_statement_html

SVG = "{http://www.w3.org/2000/svg}"
ADVANCED = MonthTerms(
    tier="advanced", model="monthly_flat", included=Decimal(10), credit_cap_months=3,
    surcharge=Decimal(0), extra_hourly_rate=Decimal(95), monthly_fee=Decimal(1150),
)
STANDARD = MonthTerms(
    tier="standard", model="hourly", included=Decimal(0), credit_cap_months=0,
    surcharge=Decimal("0.20"), hourly_rate=Decimal(110), surcharged_classes=frozenset({"critical"}),
)
MONTHS = months_between("2025-12", "2026-11")
# Hours booked per month: credit builds up and lapses in April, extra hours in July,
# credit builds up again and lapses in November (the statement month).
USED = ("6", "4", "2.5", "3", "1", "14", "22", "29", "2", "1.5", "3", "1")
ADJUSTMENTS = {"2026-11": (Adjustment("TE-8812", "2026-09", Decimal("0.75")),
                           Adjustment("TE-8790", "2026-10", Decimal("-0.5")))}
COMPLIANCE = {"critical": (3, 3, 0), "minor": (11, 10, 1), "trivial": (4, 0, 0)}


def bookings(customer: str, months: list[str], used: tuple[str, ...]) -> list[Booking]:
    """Time entries of at most 1.5 h adding up to each month's hours."""
    entries: list[Booking] = []
    for month, hours in zip(months, used, strict=True):
        year, number = (int(part) for part in month.split("-"))
        left = Decimal(hours)
        while left > 0:
            chunk = min(left, Decimal("1.5"))
            entries.append(Booking(f"TE-{len(entries)}", customer, date(year, number, 3),
                                   chunk))
            left -= chunk
    return entries


def realistic() -> tuple[Statement, ...]:
    """Twelve months of an Advanced customer, built by the real ledger."""
    terms = dict.fromkeys(MONTHS, ADVANCED)
    ledger = build_ledger("acme", MONTHS, terms, bookings("acme", MONTHS, USED), ADJUSTMENTS)
    return ledger.statements


def parse(markup: str) -> ET.Element:
    """Our own rendered markup (a test input, not untrusted data), parsed as XML."""
    return ET.fromstring(markup.removeprefix("<!DOCTYPE html>\n"))  # noqa: S314


def svg_of(document: str) -> ET.Element:
    """The chart's <svg> element, parsed as XML."""
    start, end = document.index("<svg"), document.index("</svg>") + len("</svg>")
    return parse(document[start:end])


def month_groups(svg: ET.Element) -> list[ET.Element]:
    """The chart's per-month groups."""
    return [g for g in svg.iter(f"{SVG}g") if "month" in g.get("class", "").split()]


def bars(group: ET.Element, kind: str | None = None) -> list[ET.Element]:
    """A month group's bar rectangles, optionally of one kind."""
    found = [r for r in group.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]
    return [r for r in found if kind is None or kind in r.get("class", "").split()]


def height(rects: list[ET.Element]) -> float:
    """The summed height of rectangles."""
    return sum(float(r.get("height", "0")) for r in rects)


@pytest.fixture(scope="module")
def document() -> str:
    return render_statement_html("ACME Shop GmbH", realistic(), COMPLIANCE)


def test_the_realistic_ledger_is_what_the_tests_assume() -> None:
    statements = realistic()
    assert [s.month for s in statements] == MONTHS
    assert statements[4].lapsed == Decimal("3.5")
    assert statements[7].billable_hours == Decimal("5")
    november = statements[-1]
    assert (november.used, november.credit_in, november.credit_out, november.lapsed) == (
        Decimal("1.25"), Decimal("23.5"), Decimal(30), Decimal("2.25"))


@pytest.mark.parametrize(("value", "text"), [
    ("12.5", "12.5 h"), ("8", "8 h"), ("0.25", "0.25 h"), ("0", "0 h"), ("-1.5", "-1.5 h"),
    ("1250.00", "1,250 h"), ("2.125", "2.12 h"), ("-0.001", "0 h"),
])
def test_hours_are_formatted_for_people(value: str, text: str) -> None:
    assert format_hours(Decimal(value)) == text


def test_whole_document_is_well_formed_and_self_contained(document: str) -> None:
    root = parse(document)
    assert root.tag == "html"
    assert "<script" not in document.lower()
    assert re.findall(r"(?:https?:)?//[\w.-]+", document) == ["http://www.w3.org"]
    assert "default-src 'none'" in document


def test_heading_names_customer_month_and_tier(document: str) -> None:
    heading = document[document.index("<h1>"):document.index("</header>")]
    assert "ACME Shop GmbH" in heading
    assert "November 2026" in heading
    assert "2026-11" in heading
    assert "<strong>advanced</strong>" in heading


def figure(document: str, label: str) -> str:
    """The value cell of a figures-table row, by its label."""
    match = re.search(rf"<th scope=\"row\">{label}(?:<span[^<]*</span>)?</th>"
                      r"<td class=\"num\">([^<]*)</td>", document)
    assert match, label
    return match.group(1)


def test_figures_appear_formatted(document: str) -> None:
    assert figure(document, "Included") == "10 h"
    assert figure(document, "Credit in") == "23.5 h"
    assert figure(document, "Available") == "33.5 h"
    assert figure(document, "Used") == "1.25 h"
    assert figure(document, "Credit out") == "30 h"
    assert figure(document, "Lapsed") == "2.25 h"
    assert figure(document, "Billable extra hours") == "0 h"
    assert figure(document, "Surcharge hours") == "0 h"
    assert figure(document, "Monthly fee") == "1,150.00 EUR"
    assert figure(document, "Extra hours amount") == "0.00 EUR"
    assert "Surcharge amount" not in document


def test_amounts_use_the_given_currency() -> None:
    document = render_statement_html("x", realistic(), {}, currency="CHF")
    assert figure(document, "Monthly fee") == "1,150.00 CHF"


def test_lapsed_hours_are_marked_when_positive(document: str) -> None:
    assert "LAPSED" in document
    assert "<p class=\"notice\" role=\"note\"><strong>2.25 h lapsed this month.</strong>" in (
        document)
    assert "(30 h)" in document
    assert "<tr class=\"lapsed positive\">" in document


def test_no_lapsed_mark_when_nothing_lapsed() -> None:
    statement = settle_month("acme", "2026-11", ADVANCED, Decimal("12.5"), Decimal(0),
                             Decimal(4))
    document = render_statement_html("ACME", [statement], {})
    assert figure(document, "Lapsed") == "0 h"
    assert figure(document, "Used") == "12.5 h"
    assert figure(document, "Credit out") == "1.5 h"
    assert "LAPSED" not in document
    assert "class=\"notice\"" not in document
    assert "Adjustments to closed months" not in document


def test_adjustments_are_listed_with_month_and_hours(document: str) -> None:
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=\"num\">([^<]*)</td>",
                      document)
    assert rows == [("2026-09", "TE-8812", "+0.75 h"), ("2026-10", "TE-8790", "-0.5 h")]


def test_chart_has_one_group_per_month_in_order(document: str) -> None:
    groups = month_groups(svg_of(document))
    assert [g.get("data-month") for g in groups] == MONTHS
    assert [g.get("class") for g in groups][-1] == "month current"
    assert all(g.find(f"{SVG}title") is not None for g in groups)


def test_chart_is_accessible(document: str) -> None:
    svg = svg_of(document)
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-title chart-desc"
    assert svg.findtext(f"{SVG}title") == "Service hours per month, 2025-12 to 2026-11"
    desc = svg.findtext(f"{SVG}desc") or ""
    assert "July 2026: used 29 h of 24 h available, 5 h billed extra." in desc
    assert "November 2026: used 1.25 h of 33.5 h available, 30 h carried, 2.25 h lapsed." in (
        desc)
    kinds = [g.get("data-kind") for g in svg.iter(f"{SVG}g") if g.get("data-kind")]
    assert kinds == ["covered", "extra", "included", "carried", "lapsed"]


def test_bar_heights_scale_with_the_hours(document: str) -> None:
    groups = month_groups(svg_of(document))
    statements = realistic()
    ratios = [float(r.get("height", "0")) / float(r.get("data-hours", "0"))
              for g in groups for r in bars(g)]
    assert len(ratios) >= 24
    assert max(ratios) - min(ratios) < 0.01 * min(ratios)
    scale = ratios[0]
    for group, statement in zip(groups, statements, strict=True):
        used = height(bars(group, "covered")) + height(bars(group, "extra"))
        assert used == pytest.approx(float(statement.used) * scale, abs=0.02)
        assert height(bars(group, "lapsed")) == pytest.approx(
            float(statement.lapsed) * scale, abs=0.02)
    # July used the most: the tallest used bar; November's is 1.25 h high.
    used_heights = [height(bars(g, "covered")) + height(bars(g, "extra")) for g in groups]
    assert used_heights.index(max(used_heights)) == 7
    assert used_heights[-1] == pytest.approx(1.25 * scale, abs=0.02)


def test_bars_stack_bottom_up_without_gaps(document: str) -> None:
    for group in month_groups(svg_of(document)):
        rects = bars(group)
        for lower, upper in itertools.pairwise(rects):
            assert float(upper.get("y", "0")) + float(upper.get("height", "0")) == (
                pytest.approx(float(lower.get("y", "0")), abs=0.02))


def test_extra_and_lapsed_bars_only_where_they_happened(document: str) -> None:
    groups = month_groups(svg_of(document))
    assert [i for i, g in enumerate(groups) if bars(g, "extra")] == [7]
    assert [i for i, g in enumerate(groups) if bars(g, "lapsed")] == [4, 11]
    assert all(len([e for e in g.iter(f"{SVG}line") if e.get("class") == "included"]) == 1
               for g in groups)


def test_only_the_last_twelve_months_are_charted() -> None:
    months = months_between("2025-10", "2026-11")
    ledger = build_ledger("acme", months, dict.fromkeys(months, ADVANCED),
                          bookings("acme", months, ("1", "2", *USED)))
    document = render_statement_html("ACME", ledger.statements, {})
    assert [g.get("data-month") for g in month_groups(svg_of(document))] == MONTHS


def test_hourly_tier_bills_every_hour() -> None:
    months = MONTHS[-3:]
    ledger = build_ledger("shop", months, dict.fromkeys(months, STANDARD),
                          bookings("shop", months, ("4", "7.5", "2")))
    document = render_statement_html("Shop", ledger.statements, {"critical": (1, 1, 0)})
    groups = month_groups(svg_of(document))
    assert [len(bars(g)) for g in groups] == [1, 1, 1]
    assert all(bars(g, "extra") for g in groups)
    assert figure(document, "Billable extra hours") == "2 h"
    assert figure(document, "Extra hours amount") == "220.00 EUR"
    assert "class=\"included\"" not in document


def compliance_rows(document: str) -> list[list[str]]:
    """The compliance table's rows (body and footer), cell texts."""
    root = parse(document)
    table = next(t for t in root.iter("table") if t.get("class") == "sla")
    return [["".join(cell.itertext()) for cell in row] for row in table.iter("tr")][1:]


def test_compliance_table_rows(document: str) -> None:
    assert compliance_rows(document) == [
        ["critical", "3", "3", "0", "100.0 %"],
        ["minor", "11", "10", "1", "90.9 %"],
        ["trivial", "4", "0", "0", "\u2013"],
        ["All", "18", "13", "1", "92.9 %"],
    ]
    assert "<td class=\"num bad\">1</td>" in document


def test_compliance_table_without_tickets() -> None:
    document = render_statement_html("ACME", realistic(), {})
    assert compliance_rows(document) == [["No tickets received."]]


def test_text_is_escaped() -> None:
    hostile = "<script>alert('x')</script> & Co"
    terms = MonthTerms(tier="<b>gold</b>", model="monthly_flat", included=Decimal(5),
                       credit_cap_months=3, surcharge=Decimal(0))
    statement = settle_month(
        hostile, "2026-11", terms, Decimal(2), Decimal(0), Decimal(0),
        (Adjustment("<img src=x>", "2026-10", Decimal(1)),),
    )
    document = render_statement_html(hostile, [statement], {"<i>class</i>": (1, 1, 0)})
    assert "<script" not in document
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in document
    assert "<b>" not in document and "&lt;b&gt;gold&lt;/b&gt;" in document
    assert "<img" not in document and "<i>" not in document
    parse(document)


def test_no_statements_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one month"):
        render_statement_html("ACME", [], {})
