"""Business-time arithmetic at the edges: weekends, DST, holidays, closures, closing time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from slabridge.config.loader import Config
from slabridge.domain.calendar import BusinessCalendar, DayOff, Window
from tests.conftest import VIENNA, vienna


def _due(config: Config, tier: str, incident_class: str, received: datetime) -> datetime | None:
    return config.response_due(tier, incident_class, received)


def test_friday_afternoon_to_monday(shipped: Config) -> None:
    """Critical on Advanced at Friday 15:00 is due Monday 12:00 (1h Fri + 3h Mon)."""
    assert _due(shipped, "advanced", "critical", vienna(2026, 11, 20, 15)) == vienna(
        2026, 11, 23, 12
    )


def test_march_dst_weekend(shipped: Config) -> None:
    """Across the spring-forward weekend the offset changes and no hour is lost."""
    due = _due(shipped, "advanced", "critical", vienna(2026, 3, 27, 14))
    assert due == vienna(2026, 3, 30, 11)
    assert due is not None and due.utcoffset() == timedelta(hours=2)
    assert due.isoformat() == "2026-03-30T11:00:00+02:00"


def test_october_dst_weekend_and_national_day(shipped: Config) -> None:
    """Fall-back weekend followed by 26 October (National Day): due Tuesday."""
    due = _due(shipped, "advanced", "critical", vienna(2026, 10, 23, 14))
    assert due is not None and due.isoformat() == "2026-10-27T11:00:00+01:00"


def test_easter_monday_and_good_friday(shipped: Config) -> None:
    """Good Friday is a working day, Easter Monday is not; ends exactly at closing time."""
    due = _due(shipped, "advanced", "minor", vienna(2027, 3, 25, 9))
    assert due == vienna(2027, 3, 30, 16)


def test_epiphany(shipped: Config) -> None:
    """6 January is a public holiday."""
    assert _due(shipped, "advanced", "critical", vienna(2027, 1, 5, 15)) == vienna(2027, 1, 7, 12)


def test_christmas_closure_standard_vs_advanced(shipped: Config) -> None:
    """Standard pauses from 24 Dec to 7 Jan inclusive; Advanced works on 24 Dec."""
    received = vienna(2026, 12, 23, 14)
    assert _due(shipped, "standard", "critical", received) == vienna(2027, 1, 8, 15)
    assert _due(shipped, "advanced", "critical", received) == vienna(2026, 12, 24, 11)


def test_received_inside_christmas_closure(shipped: Config) -> None:
    """A Standard ticket received on 5 January starts counting on 8 January."""
    assert _due(shipped, "standard", "critical", vienna(2027, 1, 5, 15)) == vienna(
        2027, 1, 11, 10
    )


def test_holy_week_standard_only(shipped: Config) -> None:
    """Holy Week 2026 (30 Mar-4 Apr) closes Standard; then Easter Monday; due Tue 7 Apr."""
    received = vienna(2026, 3, 27, 14)
    assert _due(shipped, "standard", "critical", received) == vienna(2026, 4, 7, 15)


def test_target_ending_at_closing_time(shipped: Config) -> None:
    """A target that ends exactly at 16:00 is due at 16:00, not next morning."""
    assert _due(shipped, "advanced", "critical", vienna(2026, 11, 23, 12)) == vienna(
        2026, 11, 23, 16
    )


def test_input_in_utc(shipped: Config) -> None:
    """A UTC receipt time gives the same due time, expressed in Vienna time."""
    due = _due(shipped, "advanced", "critical", datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    assert due == vienna(2026, 11, 23, 11)
    assert due is not None and due.tzinfo == VIENNA


def test_input_with_other_offset(shipped: Config) -> None:
    """Any offset is accepted: 08:00-05:00 is 14:00 in Vienna."""
    received = datetime(2026, 11, 20, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert _due(shipped, "advanced", "critical", received) == vienna(2026, 11, 23, 11)


def test_received_on_saturday(shipped: Config) -> None:
    """The clock starts at the next opening, Monday 08:00 on Premium."""
    assert _due(shipped, "premium", "critical", vienna(2026, 11, 21, 10)) == vienna(
        2026, 11, 23, 10
    )


def test_received_before_opening(shipped: Config) -> None:
    """A ticket at 06:30 counts from 09:00."""
    assert _due(shipped, "advanced", "critical", vienna(2026, 11, 24, 6, 30)) == vienna(
        2026, 11, 24, 13
    )


def test_received_at_closing_time(shipped: Config) -> None:
    """A ticket at exactly 16:00 counts from next morning."""
    assert _due(shipped, "advanced", "critical", vienna(2026, 11, 24, 16)) == vienna(
        2026, 11, 25, 13
    )


def test_naive_datetime_rejected(shipped: Config) -> None:
    """Naive times are ambiguous and refused."""
    with pytest.raises(ValueError, match="naive"):
        _due(shipped, "advanced", "critical", datetime(2026, 11, 20, 14))


def test_seconds_and_microseconds_are_kept(shipped: Config) -> None:
    """Sub-minute receipt times carry through exactly."""
    received = vienna(2026, 11, 24, 10).replace(second=7, microsecond=123456)
    due = _due(shipped, "advanced", "critical", received)
    assert due == vienna(2026, 11, 24, 14).replace(second=7, microsecond=123456)


def test_between_is_service_time(shipped: Config) -> None:
    """From Friday 14:00 to Monday 11:00 on Advanced is 4 service hours."""
    calendar = shipped.tier("advanced").calendar
    assert calendar.between(vienna(2026, 11, 20, 14), vienna(2026, 11, 23, 11)) == timedelta(
        hours=4
    )
    assert calendar.between(vienna(2026, 11, 23, 11), vienna(2026, 11, 20, 14)) == -timedelta(
        hours=4
    )


def test_closed_periods_name_their_reasons(shipped: Config) -> None:
    """Explanations can say why time did not count: evening, weekend, holiday by name."""
    calendar = shipped.tier("advanced").calendar
    periods = calendar.closed_periods(vienna(2026, 10, 23, 14), vienna(2026, 10, 27, 11))
    assert [(p.start, p.end) for p in periods] == [
        (vienna(2026, 10, 23, 16), vienna(2026, 10, 27, 9))
    ]
    assert periods[0].reasons == (
        "outside service hours", "weekend", "holiday National Day (2026-10-26)",
    )


def test_closed_periods_name_closures(shipped: Config) -> None:
    """On Standard the Christmas closure is named."""
    calendar = shipped.tier("standard").calendar
    periods = calendar.closed_periods(vienna(2026, 12, 23, 14), vienna(2027, 1, 8, 15))
    reasons = {reason for p in periods for reason in p.reasons}
    assert "closure Christmas closure (2026-12-24)" in reasons
    assert "holiday Christmas Day (2026-12-25)" in reasons


def test_zero_duration_is_the_start(shipped: Config) -> None:
    """Adding nothing returns the start itself."""
    calendar = shipped.tier("advanced").calendar
    assert calendar.add(vienna(2026, 11, 21, 3), timedelta(0)) == vienna(2026, 11, 21, 3)


def test_several_windows_a_day() -> None:
    """A lunch break between two windows is skipped."""
    calendar = BusinessCalendar(
        "Europe/Vienna",
        {d: [Window(8 * 60, 12 * 60), Window(13 * 60, 17 * 60)] for d in range(5)},
        lambda year: {},
    )
    assert calendar.add(vienna(2026, 11, 23, 11), timedelta(hours=2)) == vienna(2026, 11, 23, 14)
    assert calendar.service_day_us == 8 * 3600 * 1_000_000


def test_round_the_clock_across_dst() -> None:
    """A 24/7 calendar counts real elapsed time: the fall-back night has 25 hours."""
    calendar = BusinessCalendar(
        "Europe/Vienna", {d: [Window(0, 24 * 60)] for d in range(7)}, lambda year: {}
    )
    start = vienna(2026, 10, 24, 12)
    assert calendar.add(start, timedelta(hours=24)) == vienna(2026, 10, 25, 11)


def test_overlapping_windows_rejected() -> None:
    """Two windows that overlap on a day are a configuration mistake."""
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar("UTC", {0: [Window(480, 720), Window(700, 900)]}, lambda y: {})


def test_calendar_without_service_time() -> None:
    """A calendar closed every day fails clearly instead of searching forever."""
    def closed_all_year(year: int) -> dict[date, DayOff]:
        first = date(year, 1, 1)
        days = (date(year + 1, 1, 1) - first).days
        return {first + timedelta(days=n): DayOff("closure", "forever") for n in range(days)}

    calendar = BusinessCalendar("UTC", {0: [Window(540, 960)]}, closed_all_year)
    with pytest.raises(ValueError, match="no service time"):
        calendar.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))


def test_far_future_targets_extend_the_range(shipped: Config) -> None:
    """A target longer than a year still resolves exactly."""
    calendar = shipped.tier("advanced").calendar
    start = vienna(2026, 11, 23, 9)
    due = calendar.add(start, timedelta(hours=7 * 600))
    assert calendar.between(start, due) == timedelta(hours=7 * 600)
    assert due.year == 2029

