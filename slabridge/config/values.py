"""Value types of the configuration: durations, windows, zones, month-days, shares, months."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
)

from slabridge.domain.calendar import WEEKDAYS, Window
from slabridge.domain.durations import ServiceDuration

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


# --- value types -------------------------------------------------------------------------


def check_duration(text: Any) -> str:
    if isinstance(text, int | float):
        # pydantic turns ValueError (not TypeError) into a located validation message.
        raise ValueError(f"{text!r} has no unit: write e.g. {text}h or {text}d")  # noqa: TRY004
    ServiceDuration.parse(str(text))
    return str(text).strip()


def _window(text: str) -> str:
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window: write HH:MM-HH:MM, e.g. 09:00-16:00")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise ValueError(f"{text!r} is not a time of day")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if end <= start:
        raise ValueError(f"window {text!r} ends before it starts")
    return text.strip()


def parse_window(text: str) -> Window:
    """A validated window string as a domain Window."""
    match = _WINDOW.match(text)
    assert match is not None  # noqa: S101 - validated by _window at load
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    return Window(start_h * 60 + start_m, end_h * 60 + end_m)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Vienna)")
    ZoneInfo(name)
    return name


def _month_day(text: Any) -> str:
    match = _MONTH_DAY.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a month and day: write MM-DD in quotes, e.g. '12-24'")
    try:
        date(2000, int(match.group(1)), int(match.group(2)))  # a leap year: 02-29 is fine
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the year") from None
    return str(text)


def check_time_of_day(text: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"{text!r} is not a time of day: write HH:MM, e.g. 02:30")
    return text


def _fraction(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        percent = float(value.strip()[:-1])
        if not 0 < percent < 100:
            raise ValueError(f"{value.strip()} is not a share: give more than 0% and less "
                             "than 100%")
        return percent / 100
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
        raise ValueError(f"{value} is not a share: write {value:g}% or {value / 100:g}")
    return value


def weekday_keys(key: str) -> list[int]:
    parts = key.lower().split("-")
    if not all(p in WEEKDAYS for p in parts) or len(parts) > 2:
        raise ValueError(f"{key!r} is not a weekday or range: use mon..sun or e.g. mon-fri")
    first, last = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[-1])
    if last < first:
        raise ValueError(f"weekday range {key!r} runs backwards")
    return list(range(first, last + 1))


DurationText = Annotated[str, BeforeValidator(check_duration)]
WindowText = Annotated[str, AfterValidator(_window)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
MonthDay = Annotated[str, BeforeValidator(_month_day)]
Share = Annotated[
    float, BeforeValidator(_fraction), Field(gt=0, lt=1),
    # Editors should accept what the loader accepts: 0.75 or "75%".
    WithJsonSchema({"anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        # More than 0% and less than 100%, as the loader takes them.
        {"type": "string",
         "pattern": r"^\s*(0*[1-9][0-9]?(\.[0-9]+)?|0*\.[0-9]*[1-9][0-9]*)\s*%\s*$"},
    ]}),
]
Money = Annotated[Decimal, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


def _month(text: Any) -> str:
    if not isinstance(text, str) or not _MONTH.match(text):
        raise ValueError(f"{str(text)!r} is not a month: write YYYY-MM, e.g. 2026-11")
    return text


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Month = Annotated[str, BeforeValidator(_month),
                  WithJsonSchema({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"})]


