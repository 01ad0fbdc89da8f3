"""Tracker data that does not fit is reported per issue and never stops a cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slabridge.app.sync import Syncer
from slabridge.config.loader import load_config
from slabridge.domain.model import Ticket, checked_receipt
from slabridge.errors import TrackerUnavailableError
from tests.conftest import vienna
from tests.fakes import FakeTracker, memory_store
from tests.listed_tickets import NOW, ticket


def test_odd_data_is_reported_per_issue(tmp_path: Path) -> None:
    """An absurd receipt date, an unknown priority, a project without contract and odd text:
    the good issues are written, the odd ones reported, the cycle completes."""
    config = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml")
    absurd = ticket("1", priority="Urgent")
    absurd = Ticket(**{**{f: getattr(absurd, f) for f in absurd.__dataclass_fields__},
                       "received_field": datetime(1, 1, 1, tzinfo=UTC)})
    tickets = [
        absurd,
        ticket("2", priority="Catastrophic"),           # unknown priority: the catch-all rule
        ticket("3", project="somebody-else"),           # no contract: unclassified
        ticket("4"),                                     # fine, with odd text
    ]
    tracker = FakeTracker(tickets)
    store = memory_store()
    report = Syncer(tracker, store, config.rules(), timedelta(seconds=30)).cycle(NOW)
    assert report.seen == 4
    assert report.errors == 1
    assert report.problems[0].startswith("issue 1: unexpected ")
    assert report.unclassified == 1
    assert [u.ticket_key for u in tracker.updates] == ["2", "4"]
    assert tracker.updates[0].fields["sla_class"] == "trivial"
    assert tracker.updates[1].fields["sla_class"] == "critical"


def test_steady_cycles_look_only_at_records_due_for_a_look(tmp_path: Path) -> None:
    """After a cycle, only running tickets come back before their at-risk or due time;
    no-target tickets wait for a change in the tracker."""
    config = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml")
    tracker = FakeTracker([ticket("1"), ticket("2", priority="Low", tracker="Feature")])
    store = memory_store()
    Syncer(tracker, store, config.rules(), timedelta(seconds=30)).cycle(NOW)
    critical = store.get(tracker.name, "1")
    trivial = store.get(tracker.name, "2")
    assert critical is not None and trivial is not None
    # Critical on Advanced, received 09:00 UTC = 10:00 Vienna: at risk after 3 h, at 13:00.
    assert critical.next_check == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert trivial.next_check is None
    assert store.open_records(tracker.name, NOW) == []
    due = store.open_records(tracker.name, datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    assert [r.ticket.key for r in due] == ["1"]
    assert len(store.open_records(tracker.name)) == 2


@pytest.mark.parametrize(
    ("text", "used", "problem"),
    [
        ("", None, ""),
        ("  ", None, ""),
        ("02.12.2026 10:00", None,
         "Incident received '02.12.2026 10:00' is not a time (write e.g. 2026-11-23 09:30, "
         "local time, or with an offset)"),
        ("2026-11-23 08:30", vienna(2026, 11, 23, 8, 30), ""),  # no offset: local time
        ("2026-11-23T07:30:00Z", vienna(2026, 11, 23, 8, 30), ""),
        ("2026-11-23T08:30:00.000+0100", vienna(2026, 11, 23, 8, 30), ""),  # Jira's format
        ("2026-11-23 09:00", vienna(2026, 11, 23, 9), ""),
        # Typed to the minute, rounded up from the creation second: taken as it is.
        ("2026-11-23 09:01", vienna(2026, 11, 23, 9, 1), ""),
        ("2026-11-23 09:02", None,
         "Incident received '2026-11-23 09:02' is later than the issue's creation, so not "
         "when the incident came in"),
        ("2027-06-01 10:00", None,
         "Incident received '2027-06-01 10:00' is later than the issue's creation, so not "
         "when the incident came in"),
    ],
)
def test_receipt_field_is_used_only_when_it_can_be_right(
    text: str, used: datetime | None, problem: str
) -> None:
    """Unreadable, or later than the issue's creation (the issue is made after the
    incident came in; the creation time never moves, unlike the last change): the creation
    time is used and the problem is said, never silently. Both adapters read it here."""
    assert checked_receipt("Incident received", text, ZoneInfo("Europe/Vienna"),
                           vienna(2026, 11, 23, 9)) == (used, problem)


def test_a_receipt_problem_is_reported_when_it_appears_or_changes(tmp_path: Path) -> None:
    """Once per problem text for open, classified issues (the stored record remembers it),
    again when the text changes; never for closed or unclassified ones."""
    config = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml")
    problem = "Incident received '02.12.2026' is not a time (write e.g. ...)"
    open_one = replace(ticket("1"), receipt_problem=problem)
    closed = replace(ticket("2"), receipt_problem=problem, closed=True)
    unclassified = replace(ticket("3", project="somebody-else"), receipt_problem=problem)
    tracker = FakeTracker([open_one, closed, unclassified])
    store = memory_store()
    syncer = Syncer(tracker, store, config.rules(), timedelta(seconds=30))

    def said(report_problems: list[str]) -> list[str]:
        return [p for p in report_problems if "receipt" in p or "Incident" in p]

    assert said(syncer.cycle(NOW, full=True).problems) == [
        f"issue 1: {problem}: its creation time is used"]
    assert said(syncer.cycle(NOW + timedelta(minutes=1), full=True).problems) == []
    changed = problem.replace("02.12.2026", "2.12.")
    tracker.issues["1"] = replace(open_one, receipt_problem=changed)
    assert said(syncer.cycle(NOW + timedelta(minutes=2), full=True).problems) == [
        f"issue 1: {changed}: its creation time is used"]
    fresh = Syncer(tracker, memory_store(), config.rules(),
                   timedelta(seconds=30))
    for _ in range(2):  # a dry run stores nothing, so it always says it
        assert len(said(fresh.cycle(NOW, dry_run=True).problems)) == 1
    # Stored while closed or unclassified is not told: said once it counts.
    tracker.issues["2"] = replace(closed, closed=False)
    tracker.issues["3"] = replace(unclassified, facts=open_one.facts)
    assert sorted(said(syncer.cycle(NOW + timedelta(minutes=3), full=True).problems)) == [
        f"issue 2: {problem}: its creation time is used",
        f"issue 3: {problem}: its creation time is used"]


def test_a_receipt_problem_is_told_after_a_turn_that_failed_before_telling(
    tmp_path: Path,
) -> None:
    """The journal read fails (Redmine down for a moment): the retry still tells."""
    config = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml")
    problem = "Incident received 'gestern' is not a time (write e.g. ...)"

    tracker = FakeTracker([replace(ticket("1"), receipt_problem=problem)])
    tracker.fail_journal["1"] = TrackerUnavailableError("Redmine unavailable: HTTP 502")
    syncer = Syncer(tracker, memory_store(), config.rules(), timedelta(seconds=30))
    first = syncer.cycle(NOW, full=True)
    assert first.errors == 1 and not any("gestern" in p for p in first.problems)
    del tracker.fail_journal["1"]  # Redmine is back
    second = syncer.cycle(NOW + timedelta(minutes=1), full=True)
    assert f"issue 1: {problem}: its creation time is used" in second.problems
