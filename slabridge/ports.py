"""The interfaces the use cases need from the outside world: a tracker, a state store and
its hour ledger, notification channels."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Protocol

from slabridge.domain.model import (
    IssueRecord,
    Journal,
    Sprint,
    Ticket,
    TimeEntry,
    TimeEntryBatch,
)
from slabridge.domain.plan import Notification, TicketUpdate


class Tracker(Protocol):
    """An issue tracker: list issues, read their history, write fields and notes."""

    name: str
    """Identifies the tracker instance (its URL); keys the state store."""
    requests_made: int
    listing_started: datetime | None
    """The tracker's own clock when the last listing began (None if it did not say)."""

    def prepare(self) -> None:
        """Check the connection and read reference data; stops with a clear error."""
        ...

    def own_authors(self) -> frozenset[str]:
        """Author ids of slabridge's own account, whose notes never accept a ticket."""
        ...

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        """Issues of the configured projects, newest change first; all if since is None."""
        ...

    def journal(self, key: str) -> Journal:
        """Status changes, notes and slabridge's own note markers of one issue."""
        ...

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with its journal, read now."""
        ...

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """The write of changed fields, at most one note and the escalation's tracker
        actions, ready to send: calling it writes.

        What can be done before sending is done here (ids looked up, values checked, the
        body encoded), and may raise as the write would. The sync cycle prepares a batch
        of writes with its decisions and then only sends them.
        """
        ...

    def read_back(self, keys: Sequence[str]) -> dict[str, Ticket]:
        """The issues as the tracker stored them after writes, by key: what it dropped of
        slabridge's fields and sprint move (a tracker that refuses what it will not store,
        rather than dropping it, returns {})."""
        ...

    def issue_url(self, key: str) -> str:
        """Where a person opens the issue in the tracker's web interface."""
        ...

    def field_label(self, role: str) -> str:
        """How the tracker names the field slabridge writes in `role` (for messages)."""
        ...

    def current_sprint(self, project: str) -> Sprint | None:
        """The sprint a Fastlane issue goes into (never a closed one), if there is one;
        SprintUnavailableError says why none can be used (e.g. a missing permission)."""
        ...

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """Time entries (Redmine) or worklogs (Jira) for the hour ledger."""
        ...

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """Create or update a monthly statement; returns where it lives."""
        ...


class Notifier(Protocol):
    """A channel for escalation messages."""

    def send(self, notification: Notification) -> None:
        """Deliver one message; raises NotificationError if it could not."""
        ...


class StateStore(Protocol):
    """What slabridge remembers between cycles."""

    def watermark(self, tracker: str) -> datetime | None:
        """The newest `updated` time seen in the last completed listing."""
        ...

    def set_watermark(self, tracker: str, at: datetime) -> None:
        """Record the newest `updated` time of a completed listing."""
        ...

    def get(self, tracker: str, key: str) -> IssueRecord | None:
        """The record of one issue, if any."""
        ...

    def get_many(self, tracker: str, keys: Sequence[str]) -> dict[str, IssueRecord]:
        """The records of those of `keys` that have one, by key."""
        ...

    def put(self, tracker: str, record: IssueRecord) -> None:
        """Store (replace) the record of one issue."""
        ...

    def put_many(self, tracker: str, records: Sequence[IssueRecord]) -> None:
        """Store (replace) several records in one transaction."""
        ...

    def open_records(self, tracker: str, due_by: datetime | None = None) -> list[IssueRecord]:
        """Records of issues last seen open (with due_by: only those due for a look)."""
        ...

    def all_records(self, tracker: str) -> list[IssueRecord]:
        """Every record of a tracker."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...

    def flag_once(self, tracker: str, key: str, on: bool) -> bool:
        """Set (on) or clear a flag; True if it was just set (report once, not every cycle)."""
        ...

    def mark(self, tracker: str, key: str) -> str | None:
        """A remembered value (e.g. slabridge's own accounts), if any."""
        ...

    def set_mark(self, tracker: str, key: str, value: str) -> None:
        """Remember a value."""
        ...


class HoursStore(StateStore, Protocol):
    """A state store that also keeps the hour ledger: time entries and posted statements."""

    def replace_time_entries(
        self, tracker: str, entries: list[TimeEntry], first_day: date | None = None
    ) -> None:
        """Store entries; with `first_day`, entries from then on that are gone are deleted."""
        ...

    def time_entries(self, tracker: str) -> list[tuple[str, str | None, str | None, date, int]]:
        """(id, ticket key, project, day, seconds) of every stored entry."""
        ...

    def posted_statements(self, tracker: str, customer: str) -> dict[str, dict[str, str]]:
        """month -> frozen {entry id: hours} of the statements already posted."""
        ...

    def statement_location(self, tracker: str, customer: str, month: str) -> str | None:
        """Where a posted statement lives (wiki page, comment id), if posted."""
        ...

    def freeze_statement(self, tracker: str, customer: str, month: str,
                         entries: dict[str, str], location: str, posted: datetime) -> None:
        """Record a posted statement; later changes to its month become adjustments."""
        ...
