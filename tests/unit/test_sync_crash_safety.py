"""A cycle cut short anywhere (crash, failed write, auth error, unstorable record) loses
nothing and repeats nothing: no write skipped, no notification sent twice, nothing of one
cycle leaking into the next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.app import sync as service
from slabridge.app.sync import Syncer
from slabridge.config.loader import load_config
from slabridge.domain.model import (
    IssueRecord,
    Ticket,
    TicketFacts,
)
from slabridge.domain.plan import Notification
from slabridge.errors import (
    IssueError,
    NotificationError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
)
from tests.conftest import vienna
from tests.fakes import FakeTracker, memory_store
from tests.fakes import example_config as config
from tests.listed_tickets import NOW
from tests.listed_tickets import ticket as odd_ticket


class Killed(BaseException):
    """A kill -9 in the middle of a write: nothing after it runs."""


class Channel:
    """A notification channel that remembers what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification.key)


def setup(tmp_path: Path) -> tuple[FakeTracker, SqliteStateStore, Syncer, Channel]:
    """Issue 7 of acme (critical, Advanced: due 13:00) classified at 10:00 and settled."""
    created = vienna(2026, 11, 23, 9)
    issue = Ticket(key="7", facts=TicketFacts(project="acme-shop", tracker="Bug",
                                              priority="Urgent"),
                   subject="Checkout broken", created=created, updated=created, status="New",
                   closed=False, reporter="5",
                   tracked_fields=frozenset({"response_due", "sla_class", "sla_status"}))
    tracker = FakeTracker([issue])
    store = memory_store()
    chat = Channel()
    syncer = Syncer(tracker, store, config(tmp_path).rules(), timedelta(seconds=30),
                    {"mail": Channel(), "chat": chat, "pager": Channel()})
    assert syncer.cycle(vienna(2026, 11, 23, 10)).writes == 1
    tracker.clock = vienna(2026, 11, 23, 10, 1)
    syncer.cycle(vienna(2026, 11, 23, 10, 5))  # reads back its own write: settled
    return tracker, store, syncer, chat


def test_killed_during_the_write_the_write_and_notification_still_come(
    tmp_path: Path,
) -> None:
    tracker, store, syncer, chat = setup(tmp_path)
    tracker.fail_update = Killed()
    with pytest.raises(Killed):  # at risk at 12:01: the process dies in the tracker write
        syncer.cycle(vienna(2026, 11, 23, 12, 1))
    assert chat.sent == []  # the tracker is written first; no channel waits before it
    tracker.fail_update = None
    restarted = Syncer(tracker, store, syncer.rules, timedelta(seconds=30), syncer.notifiers)
    report = restarted.cycle(vienna(2026, 11, 23, 12, 2))
    assert report.unchanged == 0
    assert tracker.issues["7"].sla_fields["sla_status"] == "at_risk"
    assert len(chat.sent) == 1


class DyingChannel(Channel):
    """A channel whose first send kills the process (kill -9 after the tracker write)."""

    def __init__(self) -> None:
        super().__init__()
        self.die = True

    def send(self, notification: Notification) -> None:
        if self.die:
            self.die = False
            raise Killed
        super().send(notification)


def test_killed_between_write_and_notification_the_notification_still_comes_once(
    tmp_path: Path,
) -> None:
    tracker, store, syncer, _ = setup(tmp_path)
    chat = DyingChannel()
    syncer.notifiers["chat"] = chat
    with pytest.raises(Killed):  # at risk at 12:01: note written, dies notifying the chat
        syncer.cycle(vienna(2026, 11, 23, 12, 1))
    assert len(tracker.notes["7"]) == 2
    restarted = Syncer(tracker, store, syncer.rules, timedelta(seconds=30), syncer.notifiers)
    restarted.cycle(vienna(2026, 11, 23, 12, 2))
    restarted.cycle(vienna(2026, 11, 23, 12, 3))
    assert len(chat.sent) == 1
    assert len(tracker.notes["7"]) == 2  # the at-risk note is not written again


class BrokenChannel(Channel):
    """A channel that is down until it is fixed."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def send(self, notification: Notification) -> None:
        if self.down:
            raise NotificationError("chat: webhook http://127.0.0.1:9/hook refused")
        super().send(notification)


def test_a_failing_channel_blocks_neither_the_tracker_nor_other_channels(
    tmp_path: Path,
) -> None:
    """The webhook down: the at-risk note and fields are written and the e-mail goes out;
    the webhook is tried again later (backoff), and told exactly once when it is back."""
    tracker, _, syncer, _ = setup(tmp_path)
    chat, mail = BrokenChannel(), Channel()
    syncer.notifiers.update({"chat": chat, "mail": mail})
    escalations = syncer.rules.escalations
    assert escalations is not None
    at_risk, *higher = escalations.ladders["standard"]
    syncer.rules = replace(syncer.rules, escalations=replace(escalations, ladders={
        "standard": (replace(at_risk, notify=("chat", "mail")), *higher)}))
    report = syncer.cycle(vienna(2026, 11, 23, 12, 1))
    assert tracker.issues["7"].sla_fields["sla_status"] == "at_risk"
    assert len(mail.sent) == 1
    assert report.channels == {"chat": [0, 1], "mail": [1, 0]}
    assert list(report.channels_failing) == ["chat"]
    assert report.errors == 0
    chat.down = False
    syncer.cycle(vienna(2026, 11, 23, 12, 2))
    assert chat.sent == []  # backoff: not tried again within its first minute
    syncer.channels._retry["chat"] = (1, 0.0)  # the minute has passed
    third = syncer.cycle(vienna(2026, 11, 23, 12, 3))
    assert (len(chat.sent), len(mail.sent), len(tracker.notes["7"])) == (1, 1, 2)
    assert third.channels_failing == {}
    syncer.channels._retry.clear()
    syncer.cycle(vienna(2026, 11, 23, 12, 4))
    assert (len(chat.sent), len(mail.sent)) == (1, 1)


def test_a_failed_write_after_a_notification_does_not_send_it_again(
    tmp_path: Path,
) -> None:
    tracker, _, syncer, chat = setup(tmp_path)
    tracker.fail_update = TrackerError("502 from Redmine")
    assert syncer.cycle(vienna(2026, 11, 23, 12, 1)).errors == 1
    tracker.fail_update = None
    syncer.cycle(vienna(2026, 11, 23, 12, 2))
    assert tracker.issues["7"].sla_fields["sla_status"] == "at_risk"
    assert len(chat.sent) == 1


def test_an_auth_error_leaves_nothing_for_the_next_cycle(tmp_path: Path) -> None:
    tracker, store, syncer, _ = setup(tmp_path)
    later = vienna(2026, 11, 23, 9, 30)
    tracker.issues = {
        "7": replace(tracker.issues["7"], subject="changed", updated=vienna(2026, 11, 23, 10, 1)),
        "8": replace(tracker.issues["7"], key="8", created=later, updated=later),
    }
    tracker.fail_journal["8"] = TrackerAuthError("key revoked")
    with pytest.raises(TrackerAuthError):
        syncer.cycle(vienna(2026, 11, 23, 10, 5))
    # Issue 7's new decision was stored when the cycle ended, not carried over.
    stored = store.get(tracker.name, "7")
    assert stored is not None and stored.ticket.subject == "changed"
    assert not syncer._unsaved and not syncer._written


def test_one_unstorable_record_costs_only_its_own_issue(tmp_path: Path) -> None:
    class BrokenStore(SqliteStateStore):
        def put(self, tracker: str, record: IssueRecord) -> None:
            if record.ticket.key == "1":
                raise ValueError("cannot store issue 1")
            super().put(tracker, record)

        def put_many(self, tracker: str, records: Sequence[IssueRecord]) -> None:
            for record in records:
                self.put(tracker, record)

    example = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"
    tracker = FakeTracker([odd_ticket("1"), odd_ticket("2"), odd_ticket("3")])
    store = BrokenStore(":memory:")
    report = Syncer(tracker, store, load_config(example).rules(),
                    timedelta(seconds=30)).cycle(NOW)
    assert sorted(u.ticket_key for u in tracker.updates) == ["1", "2", "3"]
    assert report.errors == 1
    assert any(p.startswith("issue 1: state not stored") for p in report.problems)
    assert store.get(tracker.name, "1") is None
    assert store.get(tracker.name, "2") is not None and store.get(tracker.name, "3")


def test_a_lone_surrogate_in_a_subject_is_stored(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"
    cut = replace(odd_ticket("1", project="somebody-else"), subject="broken \ud83d")
    tracker = FakeTracker([cut, odd_ticket("2")])
    store = memory_store()
    report = Syncer(tracker, store, load_config(example).rules(),
                    timedelta(seconds=30)).cycle(NOW)
    assert report.errors == 0
    stored = store.get(tracker.name, "1")
    assert stored is not None and stored.ticket.subject == "broken \ud83d"


def test_a_write_that_cannot_be_prepared_still_notifies_once_and_comes_later(
    tmp_path: Path,
) -> None:
    """As when the write itself fails: the escalation goes out, the issue is retried."""
    tracker, _, syncer, chat = setup(tmp_path)
    tracker.fail_prepare["7"] = IssueError("issue #7: custom field 'SLA status' is not "
                                           "available")
    report = syncer.cycle(vienna(2026, 11, 23, 12, 1))  # at risk: chat, then the write
    assert report.errors == 1 and report.writes == 0
    assert report.problems == ["issue #7: custom field 'SLA status' is not available"]
    assert len(chat.sent) == 1
    assert tracker.issues["7"].sla_fields["sla_status"] == "running"
    del tracker.fail_prepare["7"]
    assert syncer.cycle(vienna(2026, 11, 23, 12, 2)).writes == 1
    assert tracker.issues["7"].sla_fields["sla_status"] == "at_risk"
    assert len(chat.sent) == 1


def two_issues_one_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[
    FakeTracker, SqliteStateStore, Syncer,
]:
    """Issues 1 and 2, new, critical; batches of one, so issue 2 is decided after 1's write."""
    monkeypatch.setattr(service, "DECISIONS_PER_BATCH", 1)
    tracker = FakeTracker([odd_ticket("1"), odd_ticket("2")])
    store = memory_store()
    rules = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml").rules()
    return tracker, store, Syncer(tracker, store, rules, timedelta(seconds=30))


def test_a_write_that_cannot_be_prepared_costs_only_its_own_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker, store, syncer = two_issues_one_per_batch(tmp_path, monkeypatch)
    tracker.fail_prepare["1"] = TrackerUnavailableError("https://fake.example: HTTP 503")
    report = syncer.cycle(NOW)
    assert (report.writes, report.errors) == (1, 1)
    assert list(tracker.notes) == ["2"]
    retry = store.get(tracker.name, "1")
    assert retry is not None and retry.next_check is not None and retry.next_check <= NOW
    del tracker.fail_prepare["1"]
    assert syncer.cycle(NOW + timedelta(minutes=1)).writes == 1
    assert {key: len(notes) for key, notes in tracker.notes.items()} == {"1": 1, "2": 1}


def test_an_auth_error_while_preparing_the_next_batch_stores_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 1 is written; the key is revoked while issue 2's write is prepared, before
    issue 1's record would be stored with the next batch: it is stored on the way out, and
    the next run writes issue 2 and leaves issue 1 alone. (A kill -9 there loses the
    record: the note marker covers that, tests/integration/test_redmine_sync.py.)"""
    tracker, store, syncer = two_issues_one_per_batch(tmp_path, monkeypatch)
    tracker.fail_prepare["2"] = TrackerAuthError("key revoked")
    with pytest.raises(TrackerAuthError):
        syncer.cycle(NOW)
    assert list(tracker.notes) == ["1"]
    stored = store.get(tracker.name, "1")
    assert stored is not None and stored.done_keys
    del tracker.fail_prepare["2"]
    assert syncer.cycle(NOW + timedelta(minutes=1)).writes == 1
    assert {key: len(notes) for key, notes in tracker.notes.items()} == {"1": 1, "2": 1}


def test_a_dry_run_after_the_store_was_lost_promises_no_note_already_written(
    tmp_path: Path,
) -> None:
    """The dry run reads the journal as a real run would, so it plans the same writes.

    A trivial issue on Advanced has no target, so nothing else makes a cycle read its
    journal; the dry run used to promise its classification note again.
    """
    created = vienna(2026, 11, 23, 9)
    issue = Ticket(key="9", facts=TicketFacts(project="acme-shop", tracker="Feature",
                                              priority="Low"),
                   subject="Typo in footer", created=created, updated=created, status="New",
                   closed=False, reporter="5")
    tracker = FakeTracker([issue])
    rules = config(tmp_path).rules()
    first = Syncer(tracker, memory_store(), rules,
                   timedelta(seconds=30)).cycle(vienna(2026, 11, 23, 10))
    assert (first.writes, first.notes, first.statuses) == (1, 1, {"no_target": 1})
    lost = Syncer(tracker, memory_store(), rules,
                  timedelta(seconds=30))
    dry = lost.cycle(vienna(2026, 11, 23, 11), dry_run=True)
    assert (dry.planned, dry.notes) == ([], 0)
    real = lost.cycle(vienna(2026, 11, 23, 11))
    assert (real.writes, real.notes) == (0, 0)
    assert len(tracker.notes["9"]) == 1


def test_changed_terms_reevaluate_open_issues_at_once_and_note_the_moved_due_time(
    tmp_path: Path,
) -> None:
    """Advanced's critical target raised from 4h to 6h by a reload: the open issue's due
    time moves from 13:00 to 15:00 in the next cycle (not at its old at-risk check), and a
    note says so, once; the note and the field agree."""
    tracker, store, _, _ = setup(tmp_path)
    old = config(tmp_path)
    first = Syncer(tracker, store, old.rules(), timedelta(seconds=30),
                   terms=old.terms_fingerprint())
    first.cycle(vienna(2026, 11, 23, 10))
    assert tracker.issues["7"].sla_fields["response_due"] == "2026-11-23T12:00:00Z"
    longer = config(tmp_path, "tiers:\n  advanced:\n    classes:\n      critical: "
                              "{response: 6h, handling: fastlane}\n")
    assert longer.terms_fingerprint() != old.terms_fingerprint()
    reloaded = Syncer(tracker, store, longer.rules(), timedelta(seconds=30),
                      terms=longer.terms_fingerprint())
    reloaded.cycle(vienna(2026, 11, 23, 10, 1))
    assert tracker.issues["7"].sla_fields["response_due"] == "2026-11-23T14:00:00Z"
    assert tracker.notes["7"][-1].startswith(
        "*SLA:* the response is now due by *2026-11-23 15:00 CET* (6h of service time from "
        "2026-11-23 09:00 CET): the contract terms changed.")
    notes = len(tracker.notes["7"])
    reloaded.cycle(vienna(2026, 11, 23, 10, 2))
    assert len(tracker.notes["7"]) == notes


def test_an_issue_failing_the_same_way_is_logged_once_per_change_of_error(
    tmp_path: Path,
) -> None:
    """A write refused every cycle: one log line, another when the error changes, and one
    when it goes through (it was logged every cycle, every 10 seconds in a daemon)."""
    tracker, _, syncer, _ = setup(tmp_path)
    with capture_logs() as logs:
        tracker.fail_update = IssueError("issue #7: forbidden (HTTP 403)")
        for minute in (1, 2, 3):
            syncer.cycle(vienna(2026, 11, 23, 12, minute))
        tracker.fail_update = IssueError("issue #7: rejected (HTTP 422)")
        for minute in (4, 5):
            syncer.cycle(vienna(2026, 11, 23, 12, minute))
        tracker.fail_update = None
        syncer.cycle(vienna(2026, 11, 23, 12, 6))
    assert [(e["event"], e.get("error")) for e in logs
            if e["event"] in ("issue_failed", "issue_recovered")] == [
        ("issue_failed", "issue #7: forbidden (HTTP 403)"),
        ("issue_failed", "issue #7: rejected (HTTP 422)"),
        ("issue_recovered", None)]


def test_a_breach_is_counted_once_when_its_note_is_written_not_when_planned(
    tmp_path: Path,
) -> None:
    """The breach note refused twice, then written: one breach (the metric read 27 after
    3 breaches, counting every planned retry)."""
    tracker, _, syncer, _ = setup(tmp_path)
    tracker.fail_update = TrackerError("502 from Redmine")
    counted = [syncer.cycle(vienna(2026, 11, 23, 13, minute)).breaches for minute in (1, 2)]
    tracker.fail_update = None
    counted += [syncer.cycle(vienna(2026, 11, 23, 13, minute)).breaches for minute in (3, 4)]
    assert counted == [0, 0, 1, 0]
    assert tracker.issues["7"].sla_fields["sla_status"] == "breached"


def test_an_undelivered_at_risk_message_superseded_by_the_breach_is_said(
    tmp_path: Path,
) -> None:
    """The chat down at risk and still in backoff at the breach: the breach messages go
    out, and the at-risk one that never went is given up and said so (it vanished)."""
    _, _, syncer, _ = setup(tmp_path)
    chat = BrokenChannel()
    syncer.notifiers["chat"] = chat
    syncer.cycle(vienna(2026, 11, 23, 12, 1))  # at risk: the chat fails
    chat.down = False
    syncer.channels._retry.clear()
    with capture_logs() as logs:
        report = syncer.cycle(vienna(2026, 11, 23, 13, 1))  # breached
    assert chat.sent == ["notified:escalated:acme:critical:standard:breached:chat"]
    assert [e["key"] for e in logs if e["event"] == "notification_superseded"] == [
        "notified:escalated:acme:critical:standard:at-risk:chat"]
    assert any("at-risk:chat was not delivered before the next escalation step" in p
               for p in report.problems)
    syncer.cycle(vienna(2026, 11, 23, 13, 2))
    assert len(chat.sent) == 1


def test_a_failing_channel_with_nothing_left_to_send_is_not_failing_for_ever(
    tmp_path: Path,
) -> None:
    """The only message for a failed channel given up: the channel no longer counts as
    failing (health would have stayed unhealthy until a restart)."""
    tracker, _, syncer, _ = setup(tmp_path)
    chat = BrokenChannel()
    syncer.notifiers["chat"] = chat
    assert list(syncer.cycle(vienna(2026, 11, 23, 12, 1)).channels_failing) == ["chat"]
    tracker.issues["7"] = replace(tracker.issues["7"], closed=True,
                                  updated=vienna(2026, 11, 23, 12, 2))
    assert syncer.cycle(vienna(2026, 11, 23, 12, 3)).channels_failing == {}
