"""What the pages show, as plain values: board rows for people, filters, pages, service hours.

No HTTP and no templates here (slabridge/web/app.py has both): these functions take the
board rows that `slabridge status` prints and shape them for a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from math import ceil
from urllib.parse import urlencode

from slabridge.app.board import BoardRow
from slabridge.domain.calendar import BusinessCalendar
from slabridge.domain.metrics import MetricEvaluation
from slabridge.domain.model import SlaStatus

PAGE_SIZE = 100
"""Rows per page: a wall screen shows fewer, and 10,000 rows would make a slow page."""

SCHEDULE_HOURS = 48
"""How far ahead the page is told each tier's service hours. The page reloads its rows
every REFRESH_SECONDS, so this only matters while the server does not answer: the
countdown then stops at the horizon rather than guess."""

REFRESH_SECONDS = 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A word and a symbol beside the colour, so the status reads without colour vision too.
STATUS_LABELS: dict[SlaStatus, tuple[str, str]] = {
    SlaStatus.BREACHED: ("breached", "\u2716"),
    SlaStatus.AT_RISK: ("at risk", "\u26a0"),
    SlaStatus.RUNNING: ("running", "\u25b6"),
    SlaStatus.PAUSED: ("paused", "\u23f8"),
    SlaStatus.MET: ("met", "\u2714"),
    SlaStatus.NO_TARGET: ("no target", "\u2013"),
}


@dataclass(frozen=True)
class Filters:
    """The board's filters from the query string; empty: all."""

    customer: str = ""
    status: str = ""
    incident_class: str = ""
    page: int = 1

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> Filters:
        """Filters from a parsed query string; an unreadable page number is page 1."""
        def one(name: str) -> str:
            return (query.get(name) or [""])[0].strip()

        page = one("page")
        return cls(one("customer"), one("status"), one("class"),
                   int(page) if page.isdigit() and int(page) > 0 else 1)

    def keep(self, row: BoardRow) -> bool:
        """Whether the row passes every filter set."""
        return ((not self.customer or row.customer == self.customer)
                and (not self.status or row.status.value == self.status)
                and (not self.incident_class or row.incident_class == self.incident_class))

    def query(self, page: int | None = None) -> str:
        """The query string of these filters (on another page)."""
        pairs = [("customer", self.customer), ("status", self.status),
                 ("class", self.incident_class)]
        number = self.page if page is None else page
        if number > 1:
            pairs.append(("page", str(number)))
        return urlencode([(k, v) for k, v in pairs if v])


@dataclass(frozen=True)
class MetricCell:
    """One metric beyond the response (sla.metrics) of one row, as the page shows it."""

    status: str
    status_label: str
    status_icon: str
    due: str
    due_iso: str


@dataclass(frozen=True)
class RowView:
    """One board row as the page shows it."""

    key: str
    url: str
    subject: str
    customer: str
    tier: str
    incident_class: str
    status: str
    status_label: str
    status_icon: str
    due: str
    due_iso: str
    left_ms: int | None
    left: str
    ticking: bool
    metrics: tuple[MetricCell | None, ...] = ()
    """One per metric column, in the board's order; None: no target for this issue."""


@dataclass(frozen=True)
class BoardPage:
    """One page of the filtered board."""

    rows: tuple[RowView, ...]
    matching: int
    total: int
    page: int
    pages: int
    filters: Filters
    schedules: dict[str, list[tuple[int, int]]]
    """tier -> service-hour intervals [start, end) in epoch milliseconds, from `as_of`."""
    as_of: datetime

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 if none)."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """1-based number of the last row shown."""
        return self.first + len(self.rows) - 1 if self.rows else 0


def epoch_ms(instant: datetime) -> int:
    """An aware datetime as whole epoch milliseconds (what the page's script counts in)."""
    return (instant - EPOCH) // timedelta(milliseconds=1)


def service_intervals(calendar: BusinessCalendar, start: datetime,
                      hours: int = SCHEDULE_HOURS) -> list[tuple[int, int]]:
    """The calendar's service hours from `start` for `hours` hours, as epoch-millisecond
    intervals: the complement of its closed periods (days off included)."""
    end = start + timedelta(hours=hours)
    intervals: list[tuple[int, int]] = []
    cursor = start
    for period in calendar.closed_periods(start, end):
        if period.start > cursor:
            intervals.append((epoch_ms(cursor), epoch_ms(period.start)))
        cursor = max(cursor, period.end)
    if cursor < end:
        intervals.append((epoch_ms(cursor), epoch_ms(end)))
    return intervals


def format_left(left: timedelta | None) -> str:
    """Service time left as the page first shows it (the script then counts seconds)."""
    if left is None:
        return "\u2013"
    sign = "-" if left < timedelta(0) else ""
    seconds = int(abs(left) // timedelta(seconds=1))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}h {minutes:02d}m {seconds:02d}s"


def row_view(row: BoardRow, url: Callable[[str], str],
             metric_names: Sequence[str] = ()) -> RowView:
    """The row for people: due times in the tier's zone, statuses as word and symbol."""
    label, icon = STATUS_LABELS[row.status]
    zone = row.due.tzinfo if row.due else None
    return RowView(
        row.key, url(row.key), row.subject, row.customer, row.tier, row.incident_class,
        row.status.value, label, icon, _due_text(row.due, zone),
        row.due.isoformat() if row.due else "",
        None if row.left is None else row.left // timedelta(milliseconds=1),
        format_left(row.left), row.clock_running,
        tuple(_metric_cell(row.metrics.get(name), zone) for name in metric_names),
    )


def _due_text(due: datetime | None, zone: tzinfo | None) -> str:
    return due.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if due else "\u2013"


def _metric_cell(metric: MetricEvaluation | None, zone: tzinfo | None) -> MetricCell | None:
    if metric is None or metric.status is SlaStatus.NO_TARGET:
        return None  # a dash, not a "no target" badge on every issue of other classes
    label, icon = STATUS_LABELS[metric.status]
    due = metric.written_due
    return MetricCell(metric.status.value, label, icon, _due_text(due, zone),
                      due.isoformat() if due else "")


def board_page(rows: Sequence[BoardRow], filters: Filters, as_of: datetime,
               url: Callable[[str], str],
               calendars: Callable[[str], BusinessCalendar],
               metric_names: Sequence[str] = ()) -> BoardPage:
    """The page of rows the filters select, with the service hours of their tiers and a
    column per metric in `metric_names`."""
    matching = [row for row in rows if filters.keep(row)]
    pages = max(1, ceil(len(matching) / PAGE_SIZE))
    page = min(filters.page, pages)
    shown = matching[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    tiers = sorted({row.tier for row in shown if row.clock_running})
    return BoardPage(
        tuple(row_view(row, url, metric_names) for row in shown), len(matching), len(rows),
        page, pages,
        filters, {tier: service_intervals(calendars(tier), as_of) for tier in tiers}, as_of,
    )
