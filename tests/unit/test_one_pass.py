"""One pass per issue: the shell gathers what the decision needs (journal, sprint,
emergency count) first, then the domain assesses and plans once; the emergency
numbering is pure domain code."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from slabridge.app import sync as service
from slabridge.app.sync import Syncer
from slabridge.domain.emergency import emergency_count
from slabridge.domain.model import IssueRecord, Sprint
from slabridge.domain.plan import decide, needs_of
from tests.conftest import vienna
from tests.domain_values import ticket
from tests.fakes import FakeTracker, memory_store
from tests.fakes import example_config as config

SATURDAY = vienna(2026, 11, 21, 10)


def test_each_issue_is_decided_once_with_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Fastlane issue (journal and sprint), a weekend emergency (emergency count) and a
    minor one: three issues, three decisions (it was up to three per issue), and each
    decision had what it needed: the move, the emergency line."""
    fastlane = ticket(key="1")
    weekend = ticket(key="2", project="globex", received=SATURDAY)
    minor = ticket(key="3", priority="High")
    tracker = FakeTracker([fastlane, weekend, minor], sprint=Sprint("12", "Sprint 47", "open"))
    decided: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        decided.append(args[0].key)
        return decide(*args, **kwargs)

    monkeypatch.setattr(service, "decide", counting)
    syncer = Syncer(tracker, memory_store(),
                    config(tmp_path).rules(), timedelta(seconds=30))
    report = syncer.cycle(vienna(2026, 11, 23, 10))
    assert sorted(decided) == ["1", "2", "3"]
    assert report.writes == 3
    assert "Moved into the current sprint *Sprint 47*" in tracker.notes["1"][0]
    assert "Emergency ticket 1 of" in tracker.notes["2"][0]
    assert not any("Moved into" in n or "Emergency" in n for n in tracker.notes["3"])


def test_needs_are_judged_before_deciding(tmp_path: Path) -> None:
    """needs_of asks for the journal only while a response is awaited, for the sprint only
    where the class moves into it and the issue was never moved, for the count only for
    emergencies received out of hours; closed and unclassified issues need nothing."""
    rules = config(tmp_path).rules()
    assert needs_of(ticket(), None, rules).journal
    assert needs_of(ticket(), None, rules).sprint
    assert not needs_of(ticket(), None, rules).emergency_count  # Monday 09:00: in hours
    assert needs_of(ticket(project="globex", received=SATURDAY), None, rules).emergency_count
    assert not needs_of(ticket(closed=True), None, rules).journal
    assert needs_of(ticket(project="nobody"), None, rules) == needs_of(
        ticket(closed=True), None, rules)
    answered = IssueRecord(ticket(), accepted_at=vienna(2026, 11, 23, 9, 30))
    assert not needs_of(ticket(), answered, rules).journal
    moved = IssueRecord(ticket(), done_keys=frozenset({"sprint:acme:critical"}))
    assert not needs_of(ticket(), moved, rules).sprint
    assert not needs_of(ticket(priority="High"), None, rules).sprint


def test_emergency_numbering_is_pure_and_counts_only_the_customers_out_of_hours(
    tmp_path: Path,
) -> None:
    """Numbered by receipt among the customer's emergency tickets of the month received
    outside service hours; other customers, other classes, in-hours tickets, other
    months and duplicates do not count."""
    rules = config(tmp_path).rules()
    this = ticket(key="10", project="globex", received=SATURDAY)
    earlier = ticket(key="11", project="globex", received=SATURDAY - timedelta(days=7))
    later = ticket(key="12", project="globex", received=SATURDAY + timedelta(hours=1))
    in_hours = ticket(key="13", project="globex", received=vienna(2026, 11, 23, 10))
    minor = ticket(key="14", project="globex", priority="High", received=SATURDAY)
    other_customer = ticket(key="15", received=SATURDAY)
    last_month = ticket(key="16", project="globex", received=vienna(2026, 10, 31, 10))
    count = emergency_count(this, [earlier, later, in_hours, minor, other_customer,
                                   last_month, this, earlier], rules)
    assert (count.customer, count.month, count.number) == ("globex", "2026-11", 2)
    assert count.quota == 3  # Globex's contract in the example configuration


def test_a_class_marked_emergency_is_one_whatever_its_name(tmp_path: Path) -> None:
    """classes.<name>.emergency decides, not the name 'critical': a critical class not
    marked is no emergency; another marked one is."""
    unmarked = config(tmp_path, "classes:\n  critical: {emergency: false}\n").rules()
    weekend = ticket(project="globex", received=SATURDAY)
    assert not needs_of(weekend, None, unmarked).emergency_count
    marked = config(tmp_path, "classes:\n  minor: {emergency: true}\n").rules()
    assert needs_of(replace(weekend, facts=replace(weekend.facts, priority="High")), None,
                    marked).emergency_count
