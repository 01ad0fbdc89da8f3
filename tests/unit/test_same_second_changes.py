"""Changes the listing cannot show are not missed: one made within the same second as the
update time a cycle saw (Redmine's times have whole seconds, so it leaves that time as it
was), and someone's note made between a cycle's listing and slabridge's own later write
(which is then the last change)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from slabridge.app.sync import Syncer
from slabridge.config.loader import load_config
from slabridge.domain.model import Journal, Note, StatusChange, Ticket
from slabridge.domain.plan import TicketUpdate
from tests.fakes import FakeTracker, memory_store
from tests.listed_tickets import NOW, ticket

CONFIG = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"
CREATED = NOW - timedelta(hours=1)  # 09:00:00 UTC: issue 1, critical on Advanced


class SecondsTracker(FakeTracker):
    """Lists its one issue with whole-second times, as Redmine does; keeps its journal."""

    def __init__(self, issue: Ticket) -> None:
        super().__init__([issue])
        self.key = issue.key

    @property
    def issue(self) -> Ticket:
        """The issue as the tracker holds it now."""
        return self.issues[self.key]

    @property
    def history(self) -> Journal:
        """What people did to the issue."""
        return self.journals.get(self.key, Journal("New"))

    def change_status(self, status: str, at: datetime) -> None:
        """A person's status change at `at`; the listed update time keeps whole seconds."""
        change = StatusChange(at, self.issue.status, status)
        self.journals[self.key] = replace(self.history,
                                          status_changes=(*self.history.status_changes, change))
        self.issues[self.key] = replace(self.issue, status=status,
                                        updated=at.replace(microsecond=0))

    def add_note(self, at: datetime) -> None:
        """A public note by someone else than the reporter (it accepts the issue)."""
        self.journals[self.key] = replace(self.history, notes=(
            *self.history.notes, Note(at, "7", public=True)))
        self.issues[self.key] = replace(self.issue, updated=at.replace(microsecond=0))


def first_cycle(listed_after: timedelta,
                written_after: timedelta | None = None) -> tuple[SecondsTracker, Syncer]:
    """Issue 1, created at 09:00:00, classified by a cycle whose listing began
    `listed_after` later and whose write landed `written_after` later (None: in the
    issue's own second)."""
    issue = replace(ticket("1"), created=CREATED, updated=CREATED, pristine=True)
    tracker = SecondsTracker(issue)
    tracker.listing_started = CREATED + listed_after
    tracker.clock = CREATED + written_after if written_after is not None else None
    syncer = Syncer(tracker, memory_store(),
                    load_config(CONFIG).rules(), timedelta(seconds=30))
    assert syncer.cycle(NOW).writes == 1
    assert tracker.journal_reads == 0  # pristine: its history is known to be empty
    return tracker, syncer


def test_a_status_change_in_the_second_the_cycle_saw_is_read() -> None:
    """Listed at 09:00:00.5, accepted at 09:00:00.8: the next cycle reads the journal and
    the SLA is met, though the issue's update time is still 09:00:00."""
    tracker, syncer = first_cycle(listed_after=timedelta(milliseconds=500))
    tracker.change_status("In Progress", CREATED + timedelta(milliseconds=800))
    assert tracker.issue.updated == CREATED  # unchanged to the second
    tracker.listing_started = NOW
    report = syncer.cycle(NOW, full=True)
    assert tracker.journal_reads == 1
    assert report.statuses == {"met": 1}
    assert tracker.updates[-1].fields["sla_status"] == "met"
    # Settled now: the next cycle reads nothing and writes nothing.
    again = syncer.cycle(NOW + timedelta(minutes=1), full=True)
    assert (again.writes, tracker.journal_reads) == (0, 1)


def test_a_note_in_the_second_the_cycle_saw_is_read_by_an_incremental_cycle() -> None:
    """A note changes nothing the listing shows when it comes in the same second: the
    incremental cycle does not take the issue for unchanged and reads its journal."""
    tracker, syncer = first_cycle(listed_after=timedelta(milliseconds=500))
    listed_before = tracker.issue
    tracker.add_note(CREATED + timedelta(milliseconds=900))
    assert tracker.issue == listed_before  # same status, same update time, same fields
    tracker.listing_started = NOW
    report = syncer.cycle(NOW)
    assert report.mode == "incremental"
    assert (report.unchanged, tracker.journal_reads) == (0, 1)
    assert report.statuses == {"met": 1}


def test_an_issue_seen_well_after_its_last_change_is_not_read_again() -> None:
    """The margin costs nothing for issues last changed seconds before the listing."""
    tracker, syncer = first_cycle(listed_after=timedelta(seconds=5))
    tracker.listing_started = NOW
    report = syncer.cycle(NOW, full=True)
    assert (report.writes, tracker.journal_reads) == (0, 0)


def test_a_note_between_the_listing_and_a_later_own_write_is_read() -> None:
    """Listed at 09:00:05, written at 09:10:00 (a long first cycle), and someone's note came
    at 09:05 in between: our write is the last change, yet the journal is read, not taken
    from before the write, and the note meets the SLA."""
    issue = replace(ticket("1"), created=CREATED, updated=CREATED, pristine=True)
    tracker = SecondsTracker(issue)
    tracker.listing_started = CREATED + timedelta(seconds=5)
    syncer = Syncer(tracker, memory_store(),
                    load_config(CONFIG).rules(), timedelta(seconds=30))
    # The note lands while the cycle is busy with other issues, before this one's write.
    note_at, written_at = CREATED + timedelta(minutes=5), CREATED + timedelta(minutes=10)
    send = syncer.tracker.prepare_update

    def note_first(update: TicketUpdate) -> Callable[[], None]:
        tracker.journals["1"] = Journal("New", notes=(Note(note_at, "7", public=True),))
        tracker.clock = written_at
        return send(update)

    syncer.tracker.prepare_update = note_first  # type: ignore[method-assign]
    assert syncer.cycle(NOW).writes == 1
    assert tracker.issue.updated == written_at  # our write is the last change
    tracker.listing_started = NOW
    report = syncer.cycle(NOW)
    assert tracker.journal_reads == 1
    assert report.statuses == {"met": 1}


def test_after_an_own_write_the_journal_is_read_once() -> None:
    """Even a write 0.4 s after the listing leaves time for someone's note before it: the
    next cycle reads the journal, and the one after reads nothing."""
    tracker, syncer = first_cycle(listed_after=timedelta(seconds=5),
                                  written_after=timedelta(seconds=5, milliseconds=400))
    tracker.listing_started = NOW
    report = syncer.cycle(NOW)
    assert (report.writes, tracker.journal_reads) == (0, 1)
    assert report.statuses == {"running": 1}
    tracker.listing_started = NOW + timedelta(minutes=1)
    again = syncer.cycle(NOW + timedelta(minutes=1))
    assert (again.writes, tracker.journal_reads) == (0, 1)
