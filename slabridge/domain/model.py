"""Plain records the core works on: classes of handling, SLA states, tickets and their history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from slabridge.domain.values import value


class Handling(StrEnum):
    """How an incident class is handled on a tier, as the contract sheet words it."""

    FASTLANE = "fastlane"
    """Fix at once if simple, else into the current sprint."""
    CURRENT_SPRINT = "current_sprint"
    """Into the current sprint as capacity allows."""
    JOINT_PLANNING = "joint_planning"
    """Fix at once if simple, else prioritised jointly in the next sprint planning."""
    NEXT_SPRINT = "next_sprint"
    """Next sprint as capacity allows."""


HANDLING_TEXT = {
    Handling.FASTLANE: "fix at once if simple, else into the current sprint (Fastlane)",
    Handling.CURRENT_SPRINT: "into the current sprint as capacity allows",
    Handling.JOINT_PLANNING: (
        "fix at once if simple, else prioritised jointly in the next sprint planning"
    ),
    Handling.NEXT_SPRINT: "next sprint as capacity allows",
}


class SlaStatus(StrEnum):
    """Where a ticket stands against its response target."""

    RUNNING = "running"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"
    PAUSED = "paused"
    NO_TARGET = "no_target"


@value
class TicketFacts:
    """What classification rules may look at, tracker-neutral."""

    project: str
    tracker: str = ""
    priority: str = ""
    status: str = ""
    labels: frozenset[str] = frozenset()
    custom_fields: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


@value
class StatusChange:
    """A ticket's status changed at `at` (from and to are tracker status names)."""

    at: datetime
    old: str
    new: str


@value
class Note:
    """A comment on a ticket."""

    at: datetime
    author: str
    public: bool = True
    author_name: str = ""
    """How the tracker names the author (for notes people read); `author` is the id."""


@value
class ClassChange:
    """The incident class of a ticket became `new` at `at`."""

    at: datetime
    new: str


@value
class TicketHistory:
    """What SLA evaluation needs of a ticket: receipt, status changes, notes, class changes."""

    received: datetime
    reporter: str
    initial_status: str
    status_changes: tuple[StatusChange, ...] = ()
    notes: tuple[Note, ...] = ()
    class_changes: tuple[ClassChange, ...] = ()


class FieldRole(StrEnum):
    """The tracker fields slabridge owns and writes."""

    RESPONSE_DUE = "response_due"
    RESPONSE_DUE_DATE = "response_due_date"
    SLA_CLASS = "sla_class"
    SLA_STATUS = "sla_status"
    SLA_HANDLING = "sla_handling"


@value
class Ticket:
    """A tracker issue as the core sees it, without its history."""

    key: str
    facts: TicketFacts
    subject: str
    created: datetime
    updated: datetime
    status: str
    closed: bool
    reporter: str
    received_field: datetime | None = None
    """When the incident really came in, from a configured field (e.g. a phone call)."""
    sla_fields: Mapping[str, str] = field(default_factory=dict)
    """Current values of slabridge's own fields, by FieldRole value ("" if empty)."""
    pristine: bool = False
    """The tracker shows no change since creation, so the history is known to be empty."""
    sprint: str | None = None
    """The sprint (Jira) or target version (Redmine) the ticket is in, if any."""
    tracked_fields: frozenset[str] | None = None
    """The FieldRole values the tracker stores for slabridge (None: all of them)."""
    receipt_problem: str = ""
    """Why the receipt field's text is not used (unreadable, or later than possible)."""

    @property
    def received(self) -> datetime:
        """Receipt time: the configured field if set, else the creation time."""
        return self.received_field or self.created

    def with_sla_fields(self, changed: Mapping[str, str]) -> Ticket:
        """The ticket with some of slabridge's fields changed, as after writing them.

        What dataclasses.replace does, in a quarter of its time (once per write).
        """
        return Ticket(self.key, self.facts, self.subject, self.created, self.updated,
                      self.status, self.closed, self.reporter, self.received_field,
                      {**self.sla_fields, **changed}, self.pristine, self.sprint,
                      self.tracked_fields, self.receipt_problem)


# A receipt typed to the minute may round up the issue's creation second.
RECEIPT_ROUNDING = timedelta(minutes=1)


def checked_receipt(
    field_name: str, text: str, local_zone: tzinfo, created: datetime
) -> tuple[datetime | None, str]:
    """The receipt field's time (ISO 8601; without an offset, in `local_zone`) if it can be
    right, else None and why it is not used.

    An incident comes in before its issue is made (the field is for one typed in later),
    so a later time is a mistake; checked against the creation time, which never moves.
    """
    if not text.strip():
        return None, ""
    try:
        parsed = datetime.fromisoformat(text.strip())  # Jira's own format is ISO 8601 too
    except ValueError:
        return None, (f"{field_name} {text!r} is not a time (write e.g. 2026-11-23 09:30, "
                      "local time, or with an offset)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone)
    if parsed > created + RECEIPT_ROUNDING:
        return None, (f"{field_name} {text!r} is later than the issue's creation, so not "
                      "when the incident came in")
    return parsed, ""


@value
class Journal:
    """What slabridge reads from an issue's history (journals, changelog, comments)."""

    initial_status: str
    status_changes: tuple[StatusChange, ...] = ()
    notes: tuple[Note, ...] = ()
    own_note_keys: frozenset[str] = frozenset()
    """Keys of notes slabridge wrote earlier, recognised by their marker."""


@value
class IssueRecord:
    """What slabridge remembers of one issue between cycles (the state store's row)."""

    ticket: Ticket
    journal: Journal | None = None
    journal_as_of: datetime | None = None
    """The ticket's `updated` when the journal was read; a newer ticket needs a new read,
    and so does None (never read, or read within the tracker's time resolution of it)."""
    class_changes: tuple[ClassChange, ...] = ()
    """Classes over time; the first entry is the class at first classification."""
    accepted_at: datetime | None = None
    done_keys: frozenset[str] = frozenset()
    """Keys of the notes already written (recorded as each write succeeded)."""
    next_check: datetime | None = None
    """When time alone can next change the SLA status (at risk, due); None: only a change
    in the tracker can (met, breached, no target, unclassified, closed)."""


@value
class Sprint:
    """A sprint (Jira) or an open version (Redmine) that issues can be moved into."""

    id: str
    name: str
    state: str
    start: datetime | None = None
    end: datetime | None = None


@value
class TimeEntry:
    """Time spent (Redmine time entry, Jira worklog), for the hour ledger."""

    id: str
    ticket_key: str | None
    author: str
    started: datetime
    seconds: int
    updated: datetime
    comment: str = ""
    project: str | None = None


@value
class TimeEntryBatch:
    """Time entries read from a tracker, and how they relate to what is stored."""

    entries: list[TimeEntry]
    complete_from: date | None
    """Set when these are all entries spent from that day on (the store replaces them)."""
    cursor: str | None
    """Where to continue next time (incremental trackers), or None."""
