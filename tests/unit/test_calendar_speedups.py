"""The C hot path of BusinessCalendar.add_micros agrees with the pure-Python reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slabridge.config.loader import load_config
from slabridge.domain import calendar as calendar_module
from slabridge.domain.calendar import BusinessCalendar, Window

CALENDARS = {name: tier.calendar for name, tier in load_config(None).tiers.items()}
VIENNA = ZoneInfo("Europe/Vienna")

zones = st.sampled_from([
    VIENNA, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), UTC,
    timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-9, seconds=30)),
])
# Whole minutes mostly (as trackers send), some with microseconds; fold 0 and 1 so the
# repeated hour of October is met both ways; years far outside the expanded range too.
starts = st.builds(
    lambda minutes, micro, fold, zone: (
        datetime(1990, 1, 1) + timedelta(minutes=minutes, microseconds=micro)
    ).replace(fold=fold, tzinfo=zone),
    st.integers(min_value=0, max_value=110 * 366 * 24 * 60)
    | st.integers(min_value=36 * 366 * 24 * 60, max_value=38 * 366 * 24 * 60),
    st.just(0) | st.integers(min_value=0, max_value=999_999),
    st.sampled_from([0, 1]),
    zones,
)
micros = st.integers(min_value=0, max_value=400 * 3_600_000_000) | st.sampled_from(
    [1, 3_600_000_000, 4 * 3_600_000_000, 21 * 3_600_000_000])


def test_the_speedup_is_built_here() -> None:
    # Otherwise the comparisons below would compare the Python path with itself.
    assert calendar_module.SPEEDUPS, (
        "slabridge.domain._calendar_speedups did not build: install a C compiler and the "
        "Python headers (Debian: gcc python3-dev) and reinstall (make test does)"
    )


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(sorted(CALENDARS)), starts, micros)
def test_c_and_python_agree(tier: str, start: datetime, duration_us: int) -> None:
    calendar = CALENDARS[tier]
    fast = calendar.add_micros(start, duration_us)
    reference = calendar._add_micros_python(start, duration_us)
    assert fast == reference
    assert fast.utcoffset() == reference.utcoffset()  # the same wall clock, same fold
    assert (fast.fold, fast.tzinfo) == (reference.fold, reference.tzinfo)


@settings(max_examples=500, deadline=None)
@given(starts, micros)
def test_agree_on_a_round_the_clock_calendar_across_dst(start: datetime,
                                                        duration_us: int) -> None:
    # 24/7 windows meet at midnight, so intervals span DST changes (02:00-03:00 included).
    always = BusinessCalendar("Europe/Vienna", {d: [Window(0, 1440)] for d in range(7)},
                              lambda year: {})
    fast = always.add_micros(start, duration_us)
    assert fast == always._add_micros_python(start, duration_us)
    assert fast.utcoffset() == always._add_micros_python(start, duration_us).utcoffset()


def test_errors_still_come_from_the_reference_path() -> None:
    calendar = CALENDARS["advanced"]
    with pytest.raises(ValueError, match="naive datetime"):
        calendar.add_micros(datetime(2026, 11, 23, 9), 60_000_000)
    with pytest.raises(ValueError, match="must not be negative"):
        calendar.add_micros(datetime(2026, 11, 23, 9, tzinfo=UTC), -1)
    start = datetime(2026, 11, 23, 9, 30, tzinfo=VIENNA)
    assert calendar.add_micros(start, 0) == start


def test_durations_beyond_64_bits_or_offsets_out_of_range_go_to_python() -> None:
    calendar = CALENDARS["advanced"]
    fast = calendar_module._c_add_micros
    assert fast is not None
    start = datetime(2026, 11, 23, 9, 30, tzinfo=VIENNA)
    calendar.add_micros(start, 1)  # expands the years around the start
    table = calendar._table
    assert fast(table, start, 2**70) is None
    assert fast(table, start, 2**62) is None
    assert fast(table, start, 3_600_000_000) == datetime(2026, 11, 23, 10, 30, tzinfo=VIENNA)
    with pytest.raises(ValueError, match="no service time within"):
        calendar.add_micros(start, 2**70)

    class Broken(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            return timedelta(hours=30)

        def dst(self, dt: datetime | None) -> timedelta:
            return timedelta(0)

        def tzname(self, dt: datetime | None) -> str:
            return "broken"

    assert fast(table, start.replace(tzinfo=Broken()), 3_600_000_000) is None
