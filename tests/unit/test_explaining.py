"""`explain`: the contract in force (or none), and every time of one issue in one zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slabridge.app.explain import explain
from slabridge.config.loader import load_config
from slabridge.domain.model import Journal, StatusChange, Ticket, TicketFacts
from slabridge.render.explanation import explanation_dict, explanation_text
from tests.conftest import vienna
from tests.fakes import FakeTracker, memory_store

EXAMPLE = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"


def tracker(issue: Ticket, change: StatusChange) -> FakeTracker:
    """The fake tracker holding `issue`, with one status change in its journal."""
    fake = FakeTracker([issue])
    fake.journals[issue.key] = Journal("New", (change,))
    return fake


def acme_issue(received: datetime) -> Ticket:
    return Ticket(key="7", facts=TicketFacts(project="acme-shop", tracker="Bug",
                                             priority="Urgent"),
                  subject="Checkout broken", created=received, updated=received,
                  status="In Progress", closed=False, reporter="5")


def explained(received: datetime) -> dict[str, object]:
    accepted = (received + timedelta(minutes=30)).astimezone(UTC)  # as trackers send it
    answered = tracker(acme_issue(received), StatusChange(accepted, "New", "In Progress"))
    explanation = explain(answered, memory_store(), load_config(EXAMPLE).rules(), "7",
                          received + timedelta(hours=1))
    return explanation_dict(explanation)


def test_the_contract_in_force_and_times_in_the_tiers_zone() -> None:
    data = explained(vienna(2026, 11, 23, 9))
    assert data["contract"] == {"tier": "advanced", "from": "2026-01-01", "to": None}
    # Accepted at 08:30 UTC: shown as the received and due times are, in Vienna.
    assert (data["received"], data["accepted_at"], data["response_due"]) == (
        "2026-11-23T09:00:00+01:00", "2026-11-23T09:30:00+01:00", "2026-11-23T13:00:00+01:00")
    text = explanation_text(data)
    assert ("Contract: tier advanced (Advanced (Maintenance and Service)), in force from "
            "2026-01-01; service hours in Europe/Vienna") in text
    assert "Accepted: 2026-11-23T09:30:00+01:00 (status change" in text


def test_no_contract_says_so_instead_of_naming_a_tier_as_if_agreed() -> None:
    """Before Acme's contract began, the default tier applies; explain says why."""
    data = explained(vienna(2025, 11, 20, 10))
    assert data["contract"] is None and data["tier"] == "standard"
    assert ("Contract: none in force on the day of receipt, so the default tier standard "
            "(") in explanation_text(data)


def test_a_paused_issue_says_which_due_time_the_tracker_shows() -> None:
    """Paused at 09:30 (Feedback): the due time moves with the pause; the tracker keeps
    the one as the pause began (13:00), and explain says both."""
    received = vienna(2026, 11, 23, 9)
    issue = replace(acme_issue(received), status="Feedback")
    paused = tracker(issue, StatusChange(vienna(2026, 11, 23, 9, 30), "New", "Feedback"))
    explanation = explain(paused, memory_store(),
                          load_config(EXAMPLE).rules(), "7", vienna(2026, 11, 23, 10, 30))
    data = explanation_dict(explanation)
    assert data["sla_status"] == "paused"
    assert (data["response_due"], data["response_due_in_tracker"]) == (
        "2026-11-23T14:00:00+01:00", "2026-11-23T13:00:00+01:00")
    assert ("Response due: 2026-11-23T14:00:00+01:00 if the pause ended now (the tracker "
            "shows 2026-11-23T13:00:00+01:00, the due time as the pause began, until it "
            "ends)") in explanation_text(data)
