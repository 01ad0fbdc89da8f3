"""Metrics beyond the response: start at receipt, pause, stop, reopen (continue or
restart), on a plain calendar (Mon-Fri 09:00-17:00 in Vienna, no days off)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from slabridge.domain.calendar import BusinessCalendar, Window
from slabridge.domain.metrics import MetricDefinition, MetricEvaluation, evaluate_metric
from slabridge.domain.model import SlaStatus, StatusChange, TicketHistory
from tests.conftest import vienna

CALENDAR = BusinessCalendar("Europe/Vienna", {d: [Window(9 * 60, 17 * 60)] for d in range(5)},
                            lambda year: {})
RECEIVED = vienna(2026, 11, 23, 9)  # Monday 09:00
RESOLUTION = MetricDefinition("resolution", frozenset({"resolved", "closed"}),
                              frozenset({"feedback"}))
RESTARTING = MetricDefinition("resolution", frozenset({"resolved", "closed"}),
                              frozenset({"feedback"}), on_reopen="restart")
TARGET = timedelta(hours=16)  # two 8-hour service days: due Tuesday 17:00


def history(*changes: tuple[datetime, str]) -> TicketHistory:
    status, events = "New", []
    for at, new in changes:
        events.append(StatusChange(at, status, new))
        status = new
    return TicketHistory(RECEIVED, "customer", "New", tuple(events))


def metric(ticket: TicketHistory, now: datetime, definition: MetricDefinition = RESOLUTION,
           target: timedelta | None = TARGET) -> MetricEvaluation:
    return evaluate_metric(ticket, definition, target, CALENDAR, now)


def test_running_at_risk_breached_by_the_clock() -> None:
    assert metric(history(), vienna(2026, 11, 23, 12)).status is SlaStatus.RUNNING
    assert metric(history(), vienna(2026, 11, 24, 13)).status is SlaStatus.AT_RISK
    late = metric(history(), vienna(2026, 11, 24, 17, 1))
    assert (late.status, late.due) == (SlaStatus.BREACHED, vienna(2026, 11, 24, 17))


def test_resolved_in_time_is_met_and_late_is_breached() -> None:
    met = metric(history((vienna(2026, 11, 24, 10), "Resolved")), vienna(2026, 12, 1, 9))
    assert (met.status, met.stopped_at, met.used) == (
        SlaStatus.MET, vienna(2026, 11, 24, 10), timedelta(hours=9))
    late = metric(history((vienna(2026, 11, 25, 10), "Resolved")), vienna(2026, 12, 1, 9))
    assert late.status is SlaStatus.BREACHED


def test_the_response_stop_is_not_this_metrics_stop() -> None:
    """In Progress accepts the response; the resolution clock runs on."""
    working = metric(history((vienna(2026, 11, 23, 10), "In Progress")), vienna(2026, 11, 23, 12))
    assert working.status is SlaStatus.RUNNING and working.stopped_at is None


def test_pause_in_a_waiting_status_moves_the_due_time() -> None:
    """Four service hours in Feedback: due four service hours later; while paused the
    written due time stays as the pause began."""
    waiting = history((vienna(2026, 11, 23, 10), "Feedback"), (vienna(2026, 11, 23, 14), "New"))
    evaluation = metric(waiting, vienna(2026, 11, 23, 15))
    assert evaluation.due == vienna(2026, 11, 25, 13)
    paused = metric(history((vienna(2026, 11, 23, 10), "Feedback")), vienna(2026, 11, 23, 12))
    assert paused.status is SlaStatus.PAUSED
    assert paused.written_due == vienna(2026, 11, 24, 17)


def test_own_pause_statuses_replace_the_sla_ones() -> None:
    """A metric without its own pause statuses pauses in the sla section's."""
    no_own = MetricDefinition("resolution", frozenset({"resolved"}))
    waiting = history((vienna(2026, 11, 23, 10), "On hold"))
    now = vienna(2026, 11, 23, 12)
    assert evaluate_metric(waiting, no_own, TARGET, CALENDAR, now,
                           pause_statuses=frozenset({"on hold"})).status is SlaStatus.PAUSED
    assert metric(waiting, now).status is SlaStatus.RUNNING  # its own: feedback only


def test_reopen_continue_counts_on_without_the_stopped_time() -> None:
    """Resolved after 4 h, reopened two days later: 4 h used, 12 h left from the reopen."""
    reopened = history((vienna(2026, 11, 23, 13), "Resolved"), (vienna(2026, 11, 25, 9), "New"))
    evaluation = metric(reopened, vienna(2026, 11, 25, 10))
    assert evaluation.reopened == 1
    assert evaluation.used == timedelta(hours=5)
    assert evaluation.due == vienna(2026, 11, 26, 13)
    assert evaluation.status is SlaStatus.RUNNING


def test_reopen_restart_gives_the_full_target_from_the_reopen() -> None:
    reopened = history((vienna(2026, 11, 23, 13), "Resolved"), (vienna(2026, 11, 25, 9), "New"))
    evaluation = metric(reopened, vienna(2026, 11, 25, 10), RESTARTING)
    assert evaluation.started == vienna(2026, 11, 25, 9)
    assert evaluation.used == timedelta(hours=1)
    assert evaluation.due == vienna(2026, 11, 26, 17)


def test_no_target_no_status() -> None:
    assert metric(history(), vienna(2026, 11, 30, 9), target=None).status is SlaStatus.NO_TARGET


# --- properties ---------------------------------------------------------------------------

hours = st.integers(min_value=1, max_value=60)  # service hours after receipt (8 a day)
statuses = st.sampled_from(["New", "In Progress", "Feedback", "Resolved", "Closed"])


def at_service_hour(hour: int) -> datetime:
    return CALENDAR.add(RECEIVED, timedelta(hours=hour))


changes = st.lists(st.tuples(hours, statuses), max_size=6).map(
    lambda items: tuple((at_service_hour(h), s) for h, s in sorted(set(items))))


@settings(max_examples=200, deadline=None)
@given(changes, st.integers(min_value=0, max_value=80), st.integers(min_value=1, max_value=80))
def test_a_stopped_clock_never_moves(steps: tuple[tuple[datetime, str], ...], first: int,
                                     later: int) -> None:
    ticket = history(*steps)
    early = metric(ticket, at_service_hour(60 + first))
    if early.stopped_at is None:
        return
    late = metric(ticket, at_service_hour(60 + first + later))
    assert (late.status, late.due, late.used, late.stopped_at) == (
        early.status, early.due, early.used, early.stopped_at)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=40))
def test_a_pause_shifts_the_due_time_by_exactly_the_paused_service_time(
    start: int, length: int
) -> None:
    paused = history((at_service_hour(start), "Feedback"),
                     (at_service_hour(start + length), "In Progress"))
    now = at_service_hour(start + length + 1)
    with_pause = metric(paused, now).due
    assert with_pause is not None
    assert CALENDAR.between(RECEIVED, with_pause) == TARGET + timedelta(hours=length)


@settings(max_examples=200, deadline=None)
@given(changes, st.integers(min_value=0, max_value=80))
def test_restart_and_continue_differ_only_after_a_reopen(
    steps: tuple[tuple[datetime, str], ...], after: int
) -> None:
    ticket = history(*steps)
    now = at_service_hour(60 + after)
    continuing, restarting = metric(ticket, now), metric(ticket, now, RESTARTING)
    if continuing.reopened == 0:
        assert continuing == restarting
    else:
        assert restarting.started > RECEIVED
