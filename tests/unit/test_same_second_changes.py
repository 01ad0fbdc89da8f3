"""A change made within the same second as the update time a cycle saw is not missed:
Redmine's times have whole seconds, so such a change leaves the update time as it was."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from slabridge.adapters.state_sqlite import SqliteStateStore
from slabridge.config import load_config
from slabridge.domain.model import Journal, StatusChange, Ticket
from slabridge.domain.plan import TicketUpdate
from slabridge.service import Syncer
from tests.unit.test_odd_tracker_data import NOW, OddTracker, ticket

CONFIG = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"


class SecondsTracker(OddTracker):
    """Lists its issues with whole-second times, as Redmine does; keeps status changes."""

    def __init__(self, issue: Ticket) -> None:
        super().__init__([issue])
        self.issue = issue
        self.journal_reads = 0
        self.changes: tuple[StatusChange, ...] = ()

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        yield self.issue

    def journal(self, key: str) -> Journal:
        self.journal_reads += 1
        return Journal("New", status_changes=self.changes)

    def update(self, update: TicketUpdate) -> None:
        """Written as Redmine would, within the second the issue was last changed."""
        super().update(update)
        self.issue = replace(self.issue, pristine=False,
                             sla_fields={**self.issue.sla_fields, **update.fields})

    def change_status(self, status: str, at: datetime) -> None:
        """A person's status change at `at`; the listed update time keeps whole seconds."""
        self.changes = (*self.changes, StatusChange(at, self.issue.status, status))
        self.issue = replace(self.issue, status=status,
                             updated=at.replace(microsecond=0), pristine=False)


def cycles(tmp_path: Path, seen_after: timedelta) -> tuple[SecondsTracker, Syncer]:
    """Issue 1 (critical) created at 09:00:00 UTC and classified by a cycle whose listing
    began `seen_after` later."""
    created = NOW - timedelta(hours=1)
    issue = replace(ticket("1"), created=created, updated=created, pristine=True)
    tracker = SecondsTracker(issue)
    tracker.listing_started = created + seen_after
    syncer = Syncer(tracker, SqliteStateStore(tmp_path / "s.sqlite3"),
                    load_config(CONFIG).rules(), timedelta(seconds=30))
    assert syncer.cycle(NOW).writes == 1
    assert tracker.journal_reads == 0  # pristine: its history is known to be empty
    return tracker, syncer


def test_a_status_change_in_the_second_the_cycle_saw_is_read(tmp_path: Path) -> None:
    """Listed at 09:00:00.5, accepted at 09:00:00.8: the next cycle reads the journal and
    the SLA is met, though the issue's update time is still 09:00:00."""
    tracker, syncer = cycles(tmp_path, seen_after=timedelta(milliseconds=500))
    tracker.change_status("In Progress", NOW - timedelta(hours=1) + timedelta(milliseconds=800))
    assert tracker.issue.updated == NOW - timedelta(hours=1)  # unchanged to the second
    tracker.listing_started = NOW
    report = syncer.cycle(NOW, full=True)
    assert tracker.journal_reads == 1
    assert report.statuses == {"met": 1}
    assert tracker.updates[-1].fields["sla_status"] == "met"
    # Settled now: the next cycle reads nothing and writes nothing.
    again = syncer.cycle(NOW + timedelta(minutes=1), full=True)
    assert (again.writes, tracker.journal_reads) == (0, 1)


def test_an_issue_seen_well_after_its_last_change_is_not_read_again(tmp_path: Path) -> None:
    """The margin costs nothing for issues last changed seconds before the listing."""
    tracker, syncer = cycles(tmp_path, seen_after=timedelta(seconds=5))
    tracker.listing_started = NOW
    report = syncer.cycle(NOW, full=True)
    assert (report.writes, tracker.journal_reads) == (0, 0)
