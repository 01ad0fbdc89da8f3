"""SLA metrics beyond the response: named clocks that start at receipt, pause in waiting
statuses and stop on entering a stop status (e.g. resolution), with a reopen rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from slabridge.domain.calendar import BusinessCalendar
from slabridge.domain.model import SlaStatus, TicketHistory
from slabridge.domain.sla import Pause, due_with_pauses, in_time_order
from slabridge.domain.values import value

RESPONSE = "response"
"""The built-in metric: stops at acceptance (domain/sla.py), as the contract sheet has it."""

OnReopen = Literal["continue", "restart"]


@value
class MetricDefinition:
    """A named clock (sla.metrics.<name>): what stops and pauses it, what a reopen does."""

    name: str
    stop_statuses: frozenset[str]
    """casefolded: entering one of these stops the clock"""
    pause_statuses: frozenset[str] | None = None
    """casefolded; None: the sla section's pause statuses"""
    on_reopen: OnReopen = "continue"
    """continue: the time since receipt keeps counting (the stopped time not); restart: a
    reopened issue gets the full target again from the reopen"""


@value
class MetricEvaluation:
    """One metric's clock of one ticket at one instant."""

    metric: str
    target: timedelta | None
    due: datetime | None
    status: SlaStatus
    started: datetime
    """receipt, or the last reopen where the metric restarts"""
    stopped_at: datetime | None
    used: timedelta
    remaining: timedelta | None
    pauses: tuple[Pause, ...]
    """the periods not counted: waiting statuses, and stopped time before a reopen"""
    reopened: int = 0
    due_as_paused: datetime | None = None
    """While paused: the due time as the pause began (it does not move with the pause)."""

    @property
    def written_due(self) -> datetime | None:
        """The due time the tracker is given: `due`, or `due_as_paused` while paused."""
        return self.due_as_paused if self.status is SlaStatus.PAUSED else self.due


def evaluate_metric(
    history: TicketHistory,
    definition: MetricDefinition,
    target: timedelta | None,
    calendar: BusinessCalendar,
    now: datetime,
    *,
    pause_statuses: frozenset[str] = frozenset(),
    at_risk_fraction: float = 0.75,
) -> MetricEvaluation:
    """Evaluate one metric's clock as of `now` (events after `now` are not seen).

    The clock counts service time from receipt, except while the ticket is in a pause
    status or stopped; it stops on entering a stop status. A ticket leaving a stop status
    is reopened: with `continue` the clock counts on (the stopped time not counted), with
    `restart` it starts afresh from the reopen with the full target.
    """
    pausing = definition.pause_statuses if definition.pause_statuses is not None \
        else pause_statuses
    stopping = definition.stop_statuses
    received = history.received
    segments = _segments(history, now)
    started, reopened = received, 0
    for index, (status, since, _) in enumerate(segments):
        if index and segments[index - 1][0].casefold() in stopping \
                and status.casefold() not in stopping:
            reopened += 1
            if definition.on_reopen == "restart":
                started = since
    excluded: list[Pause] = []
    stopped_at = None
    for index, (status, since, until) in enumerate(segments):
        if until <= started and index < len(segments) - 1:
            continue
        since = max(since, started)
        folded = status.casefold()
        last = index == len(segments) - 1
        if folded in stopping:
            if last:
                stopped_at = since
            else:
                excluded.append(Pause(since, until, ongoing=False))
        elif folded in pausing and until > since:
            excluded.append(Pause(since, until, ongoing=last))
    end = stopped_at or now
    used = calendar.between(started, end) - sum(
        (calendar.between(p.start, min(p.end, end)) for p in excluded if p.start < end),
        timedelta())
    if target is None:
        return MetricEvaluation(definition.name, None, None, SlaStatus.NO_TARGET, started,
                                stopped_at, used, None, tuple(excluded), reopened)
    due = due_with_pauses(calendar, started, target, excluded)
    due_as_paused = None
    if stopped_at is not None:
        status = SlaStatus.MET if used <= target else SlaStatus.BREACHED
    elif now > due:
        status = SlaStatus.BREACHED
    elif excluded and excluded[-1].ongoing:
        status = SlaStatus.PAUSED
        due_as_paused = due_with_pauses(calendar, started, target, excluded[:-1])
    elif used >= target * at_risk_fraction:
        status = SlaStatus.AT_RISK
    else:
        status = SlaStatus.RUNNING
    return MetricEvaluation(definition.name, target, due, status, started, stopped_at, used,
                            target - used, tuple(excluded), reopened, due_as_paused)


def _segments(history: TicketHistory, now: datetime) -> Sequence[tuple[str, datetime, datetime]]:
    """(status, since, until) from receipt to `now`: the ticket's statuses over time."""
    segments: list[tuple[str, datetime, datetime]] = []
    status, since = history.initial_status, history.received
    for change in in_time_order(history.status_changes):
        if change.at > now:
            break
        at = max(change.at, history.received)
        if at > since:
            segments.append((status, since, at))
        status, since = change.new, max(since, at)
    segments.append((status, since, max(now, since)))
    return segments
