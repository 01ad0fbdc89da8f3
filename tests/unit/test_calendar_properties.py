"""Properties of business-time arithmetic that must hold for any instant and duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from slabridge.config.loader import load_config

CONFIG = load_config(None)
CALENDARS = {name: tier.calendar for name, tier in CONFIG.tiers.items()}

instants = st.builds(
    lambda minutes, seconds, offset: datetime(2025, 1, 1, tzinfo=timezone(offset))
    + timedelta(minutes=minutes, seconds=seconds),
    st.integers(min_value=0, max_value=4 * 366 * 24 * 60),
    st.integers(min_value=0, max_value=59),
    st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(hours=-5), timedelta(hours=9)]),
)
durations = st.integers(min_value=0, max_value=200 * 60).map(lambda m: timedelta(minutes=m))
tiers = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=300, deadline=None)
@given(tiers, instants, durations, durations)
def test_adding_twice_equals_adding_the_sum(
    tier: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    """add(add(t, a), b) == add(t, a + b)."""
    calendar = CALENDARS[tier]
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)


@settings(max_examples=300, deadline=None)
@given(tiers, instants, durations)
def test_between_receipt_and_due_is_the_target(
    tier: str, start: datetime, target: timedelta
) -> None:
    """The service time from receipt to due time is exactly the target."""
    calendar = CALENDARS[tier]
    assert calendar.between(start, calendar.add(start, target)) == target


@settings(max_examples=300, deadline=None)
@given(tiers, instants, durations.filter(lambda d: d > timedelta(0)))
def test_due_time_never_in_a_closed_period(tier: str, start: datetime, target: timedelta) -> None:
    """A due time lies inside a service window or exactly at its closing time."""
    calendar = CALENDARS[tier]
    due = calendar.add(start, target)
    assert calendar.is_open(due) or calendar.is_open(due - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(tiers, instants, durations.filter(lambda d: d > timedelta(0)))
def test_due_is_in_the_calendar_zone_and_not_before_receipt(
    tier: str, start: datetime, target: timedelta
) -> None:
    """Results are aware datetimes in the calendar's zone, never earlier than the receipt."""
    calendar = CALENDARS[tier]
    due = calendar.add(start, target)
    assert due.tzinfo is calendar.zone
    assert due > start


# Wall-clock instants in the calendar's own zone, fold 0 and fold 1, including the DST
# weekends: the fast path for such inputs must agree with the general conversion.
zone_instants = st.builds(
    lambda minutes, micro, fold: (
        datetime(2025, 1, 1) + timedelta(minutes=minutes, microseconds=micro)
    ).replace(fold=fold),
    st.integers(min_value=0, max_value=4 * 366 * 24 * 60),
    st.integers(min_value=0, max_value=999_999) | st.just(0),
    st.sampled_from([0, 1]),
)


@settings(max_examples=500, deadline=None)
@given(tiers, zone_instants, durations.filter(lambda d: d > timedelta(0)))
def test_the_zone_a_receipt_is_given_in_does_not_matter(
    tier: str, wall: datetime, target: timedelta
) -> None:
    """A receipt in the calendar's zone, in UTC or at a fixed offset: the same due time."""
    calendar = CALENDARS[tier]
    local = wall.replace(tzinfo=calendar.zone)
    due = calendar.add(local, target)
    assert due == calendar.add(local.astimezone(UTC), target)
    assert due == calendar.add(local.astimezone(timezone(timedelta(hours=-7))), target)
    assert due.tzinfo is calendar.zone
