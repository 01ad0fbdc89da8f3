"""Business time: adding service hours to an instant, measuring them, naming closed periods."""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from slabridge.domain.values import value

_c_add_micros: Callable[[tuple[object, ...], datetime, int], datetime | None] | None
try:
    from slabridge.domain._calendar_speedups import add_micros as _c_add_micros
except ImportError:  # installed without a C compiler: the pure-Python path below
    _c_add_micros = None

SPEEDUPS = _c_add_micros is not None
"""Whether the C hot path of add_micros is in use (it is built where a compiler is)."""

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
MINUTES_PER_DAY = 24 * 60
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A calendar with no service time at all would make `add` search forever.
MAX_YEARS_SEARCHED = 50


@value
class DayOff:
    """A whole local day without service: a public holiday or an announced closure."""

    kind: Literal["holiday", "closure"]
    name: str


@value
class Window:
    """One service window of a weekday, in minutes after local midnight (end may be 1440)."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(f"window {self} must satisfy 0 <= start < end <= 24:00")

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


@value
class ClosedPeriod:
    """A gap between two service windows, and why the service was closed then."""

    start: datetime
    end: datetime
    reasons: tuple[str, ...]


DaysOff = Callable[[int], Mapping[date, DayOff]]
"""For a year, the local dates without service and why (holidays and observed closures)."""


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def to_epoch_us(instant: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: a time zone or offset is required")
    if not instant.microsecond:
        # Whole seconds: timestamp() is an exact integer as a float, and faster than below.
        return int(instant.timestamp()) * US_PER_SECOND
    # With microseconds the float may round (and int() truncates before 1970): subtract.
    return (instant - EPOCH) // ONE_MICROSECOND


class BusinessCalendar:
    """Service windows per weekday in one time zone, minus days off.

    Open intervals are expanded year by year into sorted epoch-microsecond arrays with a
    running total of open time, so every operation is two binary searches.
    """

    def __init__(
        self,
        timezone: str,
        weekly: Mapping[int, Sequence[Window]],
        days_off: DaysOff,
        service_day: timedelta | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.weekly: tuple[tuple[Window, ...], ...] = tuple(
            tuple(sorted(weekly.get(day, ()), key=lambda w: w.start_minute)) for day in range(7)
        )
        for day, windows in enumerate(self.weekly):
            for before, after in itertools.pairwise(windows):
                if after.start_minute < before.end_minute:
                    raise ValueError(f"{WEEKDAYS[day]}: windows {before} and {after} overlap")
        if not any(self.weekly):
            raise ValueError("a calendar needs at least one service window")
        self._days_off = days_off
        self.service_day_us = (
            _us(service_day) if service_day is not None else self._typical_day_us()
        )
        self._first_year = 0
        self._last_year = -1
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum_start: list[int] = []
        self._cum_end: list[int] = []
        self._range_start_us = 0
        self._range_end_us = 0
        self._table: tuple[object, ...] = ([], [], [], [], 0, 0, self.zone)
        self._days_off_cache: dict[int, Mapping[date, DayOff]] = {}

    def _typical_day_us(self) -> int:
        lengths = {
            sum(w.end_minute - w.start_minute for w in windows)
            for windows in self.weekly
            if windows
        }
        if len(lengths) != 1:
            raise ValueError(
                "service days differ in length; set service_day to say how long a 'd' is"
            )
        return lengths.pop() * US_PER_MINUTE

    # --- expansion -------------------------------------------------------------------

    def day_off(self, day: date) -> DayOff | None:
        """Why `day` has no service, or None if it is an ordinary day."""
        year_map = self._days_off_cache.get(day.year)
        if year_map is None:
            year_map = self._days_off_cache[day.year] = self._days_off(day.year)
        return year_map.get(day)

    def _cover(self, first_year: int, last_year: int) -> None:
        if self._first_year <= first_year and last_year <= self._last_year:
            return
        if self._last_year >= self._first_year:
            first_year = min(first_year, self._first_year)
            last_year = max(last_year, self._last_year)
        starts: list[int] = []
        ends: list[int] = []
        day = date(first_year, 1, 1)
        stop = date(last_year, 12, 31)
        one_day = timedelta(days=1)
        zone = self.zone
        while day <= stop:
            windows = self.weekly[day.weekday()]
            if windows and self.day_off(day) is None:
                for window in windows:
                    start = _local_us(day, window.start_minute, zone)
                    end = _local_us(day, window.end_minute, zone)
                    if ends and ends[-1] == start:
                        ends[-1] = end  # windows meeting at midnight are one interval
                    else:
                        starts.append(start)
                        ends.append(end)
            day += one_day
        cum_start: list[int] = []
        cum_end: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            cum_start.append(total)
            total += end - start
            cum_end.append(total)
        self._starts, self._ends = starts, ends
        self._cum_start, self._cum_end = cum_start, cum_end
        self._first_year, self._last_year = first_year, last_year
        self._range_start_us = _local_us(date(first_year, 1, 1), 0, zone)
        self._range_end_us = _local_us(date(last_year, 12, 31), MINUTES_PER_DAY, zone)
        self._table = (starts, ends, cum_start, cum_end, self._range_start_us,
                       self._range_end_us, zone)

    def _position(self, instant_us: int) -> int:
        """Open microseconds from the start of the expanded range up to `instant_us`."""
        index = bisect_right(self._starts, instant_us) - 1
        if index < 0:
            return 0
        end = self._ends[index]
        if instant_us < end:
            return self._cum_start[index] + instant_us - self._starts[index]
        return self._cum_end[index]

    def _cover_instant(self, instant: datetime) -> int:
        instant_us = to_epoch_us(instant)
        if not self._range_start_us <= instant_us < self._range_end_us:
            year = instant.astimezone(self.zone).year
            self._cover(year - 1, year + 1)
        return instant_us

    def from_epoch_us(self, instant_us: int) -> datetime:
        """An epoch-microsecond instant as an aware datetime in the calendar's zone."""
        seconds, micro = divmod(instant_us, US_PER_SECOND)
        result = datetime.fromtimestamp(seconds, self.zone)
        return result.replace(microsecond=micro) if micro else result

    # --- operations ------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of service time has passed since `start`.

        A duration that ends exactly at closing time is due at closing time. A zero
        duration returns `start` itself (in the calendar's zone).
        """
        return self.add_micros(start, _us(duration))

    def add_micros(self, start: datetime, micros: int) -> datetime:
        """`add` with the duration in microseconds: the hot path of due-time computation.

        Taken by the C speedup where it is built; whatever it leaves (None) and every
        error take the pure-Python path, which is the reference the tests compare it with.
        """
        if _c_add_micros is not None:
            due = _c_add_micros(self._table, start, micros)
            if due is not None:
                return due
        return self._add_micros_python(start, micros)

    def _add_micros_python(self, start: datetime, micros: int) -> datetime:
        """add_micros in Python.

        The common case (start and result inside the expanded years) is inlined: the start
        as epoch microseconds, two binary searches, one datetime made for the result.
        """
        zone = self.zone
        start_us = to_epoch_us(start)  # raises for a naive start
        starts = self._starts
        if micros > 0 and self._range_start_us <= start_us < self._range_end_us:
            index = bisect_right(starts, start_us) - 1
            if index < 0:
                position = micros
            elif start_us < self._ends[index]:
                position = self._cum_start[index] + start_us - starts[index] + micros
            else:
                position = self._cum_end[index] + micros
            cum_end = self._cum_end
            if position <= cum_end[-1]:
                found = bisect_left(cum_end, position, index if index > 0 else 0)
                due_us = self._ends[found] - (cum_end[found] - position)
                seconds, micro = divmod(due_us, US_PER_SECOND)
                due = datetime.fromtimestamp(seconds, zone)
                return due.replace(microsecond=micro) if micro else due
        return self.from_epoch_us(self.add_us(start_us, micros))

    def add_us(self, start_us: int, duration_us: int) -> int:
        """`add` on epoch microseconds: the hot path of every due-time computation."""
        if duration_us <= 0:
            if duration_us < 0:
                raise ValueError("business durations must not be negative")
            return start_us
        if not self._range_start_us <= start_us < self._range_end_us:
            year = self.from_epoch_us(start_us).year
            self._cover(year - 1, year + 1)
        starts = self._starts
        index = bisect_right(starts, start_us) - 1
        if index < 0:
            position = 0
        elif start_us < self._ends[index]:
            position = self._cum_start[index] + start_us - starts[index]
        else:
            position = self._cum_end[index]
        target = position + duration_us
        cum_end = self._cum_end
        if cum_end and target <= cum_end[-1]:
            found = bisect_left(cum_end, target)
            return self._ends[found] - (cum_end[found] - target)
        return self._add_beyond_range(start_us, duration_us)

    def _add_beyond_range(self, start_us: int, duration_us: int) -> int:
        for _ in range(MAX_YEARS_SEARCHED):
            # Growing the range later keeps every position before it unchanged.
            self._cover(self._first_year, self._last_year + 1)
            target = self._position(start_us) + duration_us
            cum_end = self._cum_end
            if cum_end and target <= cum_end[-1]:
                found = bisect_left(cum_end, target)
                return self._ends[found] - (cum_end[found] - target)
        raise ValueError(
            f"no service time within {MAX_YEARS_SEARCHED} years: check windows and closures"
        )

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Service time from `start` to `end` (negative if `end` is earlier)."""
        start_us, end_us = to_epoch_us(start), to_epoch_us(end)
        if not (self._range_start_us <= start_us < self._range_end_us
                and self._range_start_us <= end_us < self._range_end_us):
            low, high = min(start, end), max(start, end)
            self._cover(low.astimezone(self.zone).year - 1, high.astimezone(self.zone).year + 1)
        return timedelta(microseconds=self._position(end_us) - self._position(start_us))

    def is_open(self, instant: datetime) -> bool:
        """Whether `instant` lies inside a service window (opening inclusive, closing not)."""
        instant_us = self._cover_instant(instant)
        index = bisect_right(self._starts, instant_us) - 1
        return index >= 0 and instant_us < self._ends[index]

    def closed_periods(self, start: datetime, end: datetime) -> list[ClosedPeriod]:
        """The gaps between service windows within [start, end], each with its reasons."""
        start_us, end_us = to_epoch_us(start), to_epoch_us(end)
        self._cover(start.astimezone(self.zone).year - 1, end.astimezone(self.zone).year + 1)
        starts, ends = self._starts, self._ends
        following = bisect_right(starts, start_us)
        inside = following > 0 and start_us < ends[following - 1]
        cursor = ends[following - 1] if inside else start_us
        periods: list[ClosedPeriod] = []
        while cursor < end_us:
            gap_end = min(starts[following], end_us) if following < len(starts) else end_us
            if gap_end > cursor:
                low, high = self.from_epoch_us(cursor), self.from_epoch_us(gap_end)
                periods.append(ClosedPeriod(low, high, self._reasons(low, high)))
            if following >= len(starts):
                break
            cursor = ends[following]
            following += 1
        return periods

    def _reasons(self, low: datetime, high: datetime) -> tuple[str, ...]:
        reasons: list[str] = []
        day = low.date()
        while day <= high.date():
            off = self.day_off(day)
            windows = self.weekly[day.weekday()]
            if off is not None:
                reason = f"{off.kind} {off.name} ({day.isoformat()})"
            elif not windows:
                weekday = day.weekday()
                reason = "weekend" if weekday >= 5 else f"no service on {WEEKDAYS[weekday]}"
            else:
                reason = "outside service hours"
            if reason not in reasons:
                reasons.append(reason)
            day += timedelta(days=1)
        return tuple(reasons)


def _us(duration: timedelta) -> int:
    return duration // ONE_MICROSECOND


def _local_us(day: date, minute: int, zone: ZoneInfo) -> int:
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return to_epoch_us(local)
