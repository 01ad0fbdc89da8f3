"""Jira answers generated from Atlassian's schemas never end a cycle in an internal error.

Every generated cycle either completes, with each unreadable issue reported once, or stops
with one of slabridge's expected errors (exit 1 or 2); every request it sends matches the
descriptions. A fixed seed keeps CI repeatable; benchmarks/jira_robustness.py runs more.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings

from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.bootstrap import build_tracker
from slabridge.config.loader import load_config
from slabridge.errors import SlabridgeError
from tests.jira.conftest import CLOUD, stub_reference, write_config
from tests.jira_openapi.generated import (
    Outcome,
    answer,
    jira_answers,
    run_cycle,
    sprint_page,
    worklog_answers,
)
from tests.jira_openapi.validator import validated_responses

CYCLES = 500
CI = settings(derandomize=True, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
OUTCOME = Outcome()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example configuration's credentials, and no sleeping between retries."""
    monkeypatch.setenv("JIRA_EMAIL", "sla@example.com")
    monkeypatch.setenv("JIRA_API_TOKEN", "cloud-token-123456")
    monkeypatch.setattr("jira.resilientsession.time.sleep", lambda _: None)


@settings(CI, max_examples=CYCLES)
@given(answers=jira_answers())
def test_generated_cycles_end_in_a_report_or_an_expected_error(answers: dict[str, Any]) -> None:
    """A sync cycle over generated answers: no internal error, no rejected request, every
    unreadable issue reported once."""
    run_cycle(answers, OUTCOME)


def test_generated_cycles_reached_both_ends() -> None:
    """The cycles above completed and skipped issues, and stopped on expected errors too
    (selected alone, this test runs them itself rather than skip)."""
    if OUTCOME.completed + sum(OUTCOME.stopped.values()) < CYCLES:
        test_generated_cycles_end_in_a_report_or_an_expected_error()
    assert OUTCOME.completed >= CYCLES // 5
    assert OUTCOME.skipped >= CYCLES // 5
    assert sum(OUTCOME.stopped.values()) >= 1, OUTCOME
    print(OUTCOME)


def tracker_for(tmp: Any) -> JiraTracker:
    """A prepared Cloud tracker of the example configuration."""
    tracker = build_tracker(load_config(write_config(tmp)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    return tracker


@settings(CI, max_examples=50)
@given(page=sprint_page())
def test_generated_sprint_pages(page: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The board's sprints as documented: an active sprint, none, or an expected error."""
    with validated_responses() as mock:
        stub_reference(mock)
        mock.replace(responses.GET, f"{CLOUD}/rest/agile/1.0/board/5/sprint", json=page)
        mock.post(re.compile(rf"{CLOUD}/rest/agile/1.0/sprint/\d+/issue$"), status=204)
        tracker = tracker_for(tmp_path_factory.mktemp("sprint"))
        try:
            sprint = tracker.sprints.active_sprint()
        except SlabridgeError:
            return
        if sprint is not None:
            assert tracker.sprints.move_to_sprint(sprint.id, ["ACME-1"]) == 1


@settings(CI, max_examples=50)
@given(answers=worklog_answers(), issue=answer("IssueBean"))
def test_generated_worklogs(answers: tuple[Any, Any], issue: Any,
                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """Worklogs as documented: time entries (issues resolved by id) or an expected error."""
    updated, worklogs = answers
    with validated_responses() as mock:
        stub_reference(mock)
        mock.get(f"{CLOUD}/rest/api/3/worklog/updated", json=updated)
        mock.post(f"{CLOUD}/rest/api/3/worklog/list", json=worklogs)
        mock.add(responses.GET, re.compile(
            rf"{CLOUD}/rest/api/3/issue/\d+(\?.*)?$"), json=issue)
        tracker = tracker_for(tmp_path_factory.mktemp("worklogs"))
        try:
            batch = tracker.read_time_entries(datetime(2026, 11, 1, tzinfo=UTC).date(), None)
        except SlabridgeError:
            return
        assert batch.cursor is not None and int(batch.cursor) >= 0
        assert all(e.seconds >= 0 for e in batch.entries)


@settings(CI, max_examples=50)
@given(issue=answer("IssueBean"))
def test_generated_issue_bodies_on_fetch(issue: Any,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """A whole IssueBean as documented (fields untyped): a ticket and journal, or an
    IssueError naming the field."""
    with validated_responses() as mock:
        stub_reference(mock)
        mock.get(f"{CLOUD}/rest/api/3/issue/ACME-1", json=issue)
        tracker = tracker_for(tmp_path_factory.mktemp("fetch"))
        try:
            ticket, _ = tracker.fetch("ACME-1")
        except SlabridgeError as error:
            assert "cannot be read" in str(error)
            return
        assert ticket.key == issue["key"]


