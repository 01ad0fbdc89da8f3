"""Days off for a calendar: public holidays (holidays package) and company closures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import holidays
import icalendar
from dateutil.easter import easter

from slabridge.config.models import ClosureSettings, HolidaySettings
from slabridge.domain.calendar import DayOff


@dataclass(frozen=True, slots=True)
class DatedClosure:
    """A closure already resolved to dates (from config or an iCalendar file)."""

    name: str
    first: date
    last: date


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def closure_days(closure: ClosureSettings, year: int) -> list[date]:
    """The days of `year` that a configured closure covers."""
    if closure.yearly is not None:
        start_month, start_day = (int(p) for p in closure.yearly.from_.split("-"))
        end_month, end_day = (int(p) for p in closure.yearly.to.split("-"))
        days: list[date] = []
        # A range that crosses New Year contributes its tail from last year's start.
        for start_year in (year - 1, year):
            first = _safe_date(start_year, start_month, start_day)
            crosses = (end_month, end_day) < (start_month, start_day)
            last = _safe_date(start_year + 1 if crosses else start_year, end_month, end_day)
            days += [d for d in _days(first, last) if d.year == year]
        return days
    if closure.easter is not None:
        sunday = easter(year)
        return _days(
            sunday + timedelta(days=closure.easter.from_),
            sunday + timedelta(days=closure.easter.to),
        )
    assert closure.dated is not None  # noqa: S101 - settings allow exactly one kind
    return [d for d in _days(closure.dated.from_, closure.dated.to) if d.year == year]


def _safe_date(year: int, month: int, day: int) -> date:
    # 02-29 in a common year means the last day of February.
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def read_ical_closures(path: Path) -> list[DatedClosure]:
    """All-day events of an .ics file as closures (DTEND is exclusive, as RFC 5545 says)."""
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    closures = []
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND") if "DTEND" in event else None
        first = start if isinstance(start, date) else start.date()
        if hasattr(first, "date"):
            first = first.date()
        if end is None:
            last = first
        else:
            last_exclusive = end.date() if hasattr(end, "date") else end
            last = max(first, last_exclusive - timedelta(days=1))
        closures.append(DatedClosure(str(event.get("SUMMARY", "closure")), first, last))
    return closures


class DaysOffProvider:
    """Callable giving, for a year, each day without service and why."""

    def __init__(
        self,
        holiday_settings: HolidaySettings,
        closures: Sequence[ClosureSettings],
        dated: Sequence[DatedClosure],
    ) -> None:
        self.holiday_settings = holiday_settings
        self.closures = tuple(closures)
        self.dated = tuple(dated)

    def __call__(self, year: int) -> Mapping[date, DayOff]:
        """Days off in `year`; a closure day that is also a holiday is named as the holiday."""
        result: dict[date, DayOff] = {}
        for closure in self.closures:
            for day in closure_days(closure, year):
                result.setdefault(day, DayOff("closure", closure.name))
        for dated in self.dated:
            for day in _days(dated.first, dated.last):
                if day.year == year:
                    result.setdefault(day, DayOff("closure", dated.name))
        settings = self.holiday_settings
        if settings.country is not None:
            public = holidays.country_holidays(
                settings.country,
                subdiv=settings.subdivision,
                years=year,
                categories=settings.categories,
            )
            for day, name in public.items():
                result[day] = DayOff("holiday", name)
        return result
