"""SLA evaluation: response due time, acceptance, pauses, reclassification and status at `now`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from slabridge.domain.calendar import BusinessCalendar
from slabridge.domain.contracts import Tier
from slabridge.domain.model import ClassChange, Note, SlaStatus, StatusChange, TicketHistory
from slabridge.domain.values import value

Timed = TypeVar("Timed", StatusChange, Note, ClassChange)


@value
class SlaPolicy:
    """What stops and pauses the clock, and when a running ticket counts as at risk."""

    at_risk_fraction: float = 0.75
    pause_statuses: frozenset[str] = frozenset()
    accept_on_status_change: bool = True
    accept_statuses: frozenset[str] = frozenset()
    """If set, only a change into one of these statuses accepts; else any change away."""
    accept_on_public_note: bool = True
    ignored_authors: frozenset[str] = frozenset()
    """Authors whose notes never accept a ticket (slabridge's own service account)."""


@value
class Reclassification:
    """A class change and how it moved the target (recomputed from the original receipt)."""

    at: datetime
    old: str
    new: str
    old_target: timedelta | None
    new_target: timedelta | None


@value
class Pause:
    """A period the clock stood still because the ticket waited for the customer."""

    start: datetime
    end: datetime
    ongoing: bool


@value
class Evaluation:
    """Everything known about a ticket's response SLA at one instant."""

    incident_class: str
    target: timedelta | None
    due: datetime | None
    status: SlaStatus
    accepted_at: datetime | None
    acceptance: str | None
    used: timedelta
    remaining: timedelta | None
    pauses: tuple[Pause, ...]
    reclassifications: tuple[Reclassification, ...]
    due_as_paused: datetime | None = None
    """While paused: the due time without the ongoing pause (as it stood when the pause
    began), which, unlike `due`, does not move on with every minute of the pause."""
    accepted_by: Acceptance | None = None
    """The accepting event (None: not accepted)."""

    @property
    def written_due(self) -> datetime | None:
        """The due time the tracker is given: `due`, or `due_as_paused` while paused."""
        return self.due_as_paused if self.status is SlaStatus.PAUSED else self.due

    @property
    def used_fraction(self) -> float | None:
        """Share of the target consumed (None where there is no target)."""
        if not self.target:
            return None
        return self.used / self.target


def response_due(calendar: BusinessCalendar, received: datetime, target: timedelta) -> datetime:
    """When a response is due for a ticket received at `received`, without pauses."""
    return calendar.add(received, target)


def in_time_order(events: Sequence[Timed]) -> Sequence[Timed]:
    """Events in time order; most tickets have none or one, which need no sorting."""
    return sorted(events, key=_event_time) if len(events) > 1 else events


def _event_time(event: StatusChange | Note | ClassChange) -> datetime:
    return event.at


@value
class Acceptance:
    """The event that accepted a ticket: a status change or someone's public note."""

    at: datetime
    kind: str
    """"status" (changed to `detail`) or "note" (written by `detail`)"""
    detail: str

    def describe(self) -> str:
        """In English, e.g. "public note by Sam Staff" (notes word it per language)."""
        if self.kind == "status":
            return f"status changed to {self.detail}"
        return f"public note by {self.detail}"


def find_acceptance(history: TicketHistory, policy: SlaPolicy) -> Acceptance | None:
    """The first event that accepts the ticket."""
    candidates: list[Acceptance] = []
    initial = history.initial_status.casefold()
    if policy.accept_on_status_change:
        for change in in_time_order(history.status_changes):
            new = change.new.casefold()
            wanted = new in policy.accept_statuses if policy.accept_statuses else new != initial
            if wanted:
                candidates.append(Acceptance(change.at, "status", change.new))
                break
    if policy.accept_on_public_note:
        for note in in_time_order(history.notes):
            if (
                note.public
                and note.author != history.reporter
                and note.author not in policy.ignored_authors
            ):
                candidates.append(Acceptance(note.at, "note", note.author_name or note.author))
                break
    return min(candidates, key=lambda c: c.at) if candidates else None


def find_pauses(history: TicketHistory, policy: SlaPolicy, until: datetime) -> tuple[Pause, ...]:
    """Periods before `until` in which the ticket sat in a waiting-for-customer status."""
    if not policy.pause_statuses:
        return ()
    pauses: list[Pause] = []
    status, since = history.initial_status, history.received
    for change in in_time_order(history.status_changes):
        if change.at > until:
            break
        if status.casefold() in policy.pause_statuses and change.at > since:
            pauses.append(Pause(since, change.at, ongoing=False))
        status, since = change.new, max(change.at, history.received)
    if status.casefold() in policy.pause_statuses and until > since:
        pauses.append(Pause(since, until, ongoing=True))
    return tuple(pauses)


def due_with_pauses(
    calendar: BusinessCalendar, received: datetime, target: timedelta, pauses: Sequence[Pause]
) -> datetime:
    """When `target` service time has run from `received`, the pauses (in time order, not
    overlapping) not counted."""
    cursor, remaining = received, target
    for pause in pauses:
        if pause.start >= calendar.add(cursor, remaining):
            break
        remaining -= calendar.between(cursor, pause.start)
        cursor = max(cursor, pause.end)
    return calendar.add(cursor, remaining)


def evaluate(
    history: TicketHistory,
    initial_class: str,
    tier: Tier,
    policy: SlaPolicy,
    now: datetime,
) -> Evaluation:
    """Evaluate a ticket against the tier in force at its receipt, as of `now`."""
    calendar = tier.calendar
    received = history.received
    reclassifications: list[Reclassification] = []
    current = initial_class
    for change in in_time_order(history.class_changes):
        if change.new != current:
            reclassifications.append(
                Reclassification(
                    change.at,
                    current,
                    change.new,
                    tier.response_target(current),
                    tier.response_target(change.new),
                )
            )
            current = change.new
    target = tier.response_target(current)
    # Without status changes and notes nothing can accept the ticket.
    accepted = (find_acceptance(history, policy)
                if history.status_changes or history.notes else None)
    accepted_at, acceptance = (accepted.at, accepted.describe()) if accepted else (None, None)
    stop = min(now, accepted_at) if accepted_at else now
    stop = max(stop, received)
    pauses = find_pauses(history, policy, stop)
    paused_time = (sum((calendar.between(p.start, p.end) for p in pauses), timedelta())
                   if pauses else timedelta())
    used = calendar.between(received, stop) - paused_time
    if target is None:
        return Evaluation(
            current, None, None, SlaStatus.NO_TARGET, accepted_at, acceptance, used, None,
            pauses, tuple(reclassifications), accepted_by=accepted,
        )
    due = due_with_pauses(calendar, received, target, pauses)
    due_as_paused = None
    if accepted_at is not None:
        status = SlaStatus.MET if accepted_at <= due else SlaStatus.BREACHED
    elif now > due:
        status = SlaStatus.BREACHED
    elif pauses and pauses[-1].ongoing:
        status = SlaStatus.PAUSED
        due_as_paused = due_with_pauses(calendar, received, target, pauses[:-1])
    elif used >= target * policy.at_risk_fraction:
        status = SlaStatus.AT_RISK
    else:
        status = SlaStatus.RUNNING
    return Evaluation(
        current, target, due, status, accepted_at, acceptance, used, target - used,
        pauses, tuple(reclassifications), due_as_paused, accepted,
    )
