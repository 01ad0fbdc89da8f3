"""SLA evaluation: status at `now`, acceptance, pauses and reclassification."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from slabridge.domain.model import ClassChange, Note, SlaStatus, StatusChange, TicketHistory
from slabridge.domain.sla import SlaPolicy, evaluate
from tests.conftest import vienna
from tests.domain_values import ADVANCED

RECEIVED = vienna(2026, 11, 23, 9)  # Monday 09:00; Advanced critical is due 13:00
POLICY = SlaPolicy()  # the shipped policy: at risk from 75 %, any change or public note accepts


def history(**changes: object) -> TicketHistory:
    base = TicketHistory(received=RECEIVED, reporter="customer", initial_status="New")
    return replace(base, **changes)  # type: ignore[arg-type]


def status_at(ticket: TicketHistory, now: datetime, policy: SlaPolicy = POLICY,
              incident_class: str = "critical") -> SlaStatus:
    return evaluate(ticket, incident_class, ADVANCED, policy, now).status


def test_running_then_at_risk_then_breached() -> None:
    """Under 75 % running, from 75 % at risk, after the due time breached."""
    ticket = history()
    assert status_at(ticket, vienna(2026, 11, 23, 11, 59)) == SlaStatus.RUNNING
    assert status_at(ticket, vienna(2026, 11, 23, 12)) == SlaStatus.AT_RISK
    assert status_at(ticket, vienna(2026, 11, 23, 13)) == SlaStatus.AT_RISK
    assert status_at(ticket, vienna(2026, 11, 23, 13, 1)) == SlaStatus.BREACHED


def test_accepted_by_status_change_in_time() -> None:
    """A status change away from New before the due time meets the SLA."""
    ticket = history(status_changes=(StatusChange(vienna(2026, 11, 23, 10), "New", "In Progress"),))
    result = evaluate(ticket, "critical", ADVANCED, POLICY,
                      vienna(2026, 11, 25, 9))
    assert result.status == SlaStatus.MET
    assert result.accepted_at == vienna(2026, 11, 23, 10)
    assert result.acceptance == "status changed to In Progress"
    assert result.used == timedelta(hours=1)


def test_accepted_late_is_breached() -> None:
    """Acceptance after the due time is a breach, and stays one."""
    ticket = history(status_changes=(StatusChange(vienna(2026, 11, 23, 14), "New", "In Progress"),))
    assert status_at(ticket, vienna(2026, 11, 30, 9)) == SlaStatus.BREACHED


def test_public_note_by_someone_else_accepts() -> None:
    """The first public note by someone other than the reporter accepts."""
    ticket = history(notes=(
        Note(vienna(2026, 11, 23, 9, 30), "customer"),
        Note(vienna(2026, 11, 23, 9, 40), "agent", public=False),
        Note(vienna(2026, 11, 23, 9, 50), "agent"),
    ))
    result = evaluate(ticket, "critical", ADVANCED, POLICY,
                      vienna(2026, 11, 23, 15))
    assert (result.status, result.accepted_at) == (SlaStatus.MET, vienna(2026, 11, 23, 9, 50))
    assert result.acceptance == "public note by agent"


def test_whichever_comes_first() -> None:
    """A note before the status change wins."""
    ticket = history(
        notes=(Note(vienna(2026, 11, 23, 9, 20), "agent"),),
        status_changes=(StatusChange(vienna(2026, 11, 23, 9, 30), "New", "In Progress"),),
    )
    result = evaluate(ticket, "critical", ADVANCED, POLICY,
                      vienna(2026, 11, 23, 15))
    assert result.accepted_at == vienna(2026, 11, 23, 9, 20)


def test_own_notes_never_accept() -> None:
    """slabridge's own notes (its service account) do not count as a response."""
    policy = replace(POLICY, ignored_authors=frozenset({"slabridge"}))
    ticket = history(notes=(Note(vienna(2026, 11, 23, 9, 1), "slabridge"),))
    assert status_at(ticket, vienna(2026, 11, 23, 10), policy) == SlaStatus.RUNNING


def test_acceptance_by_notes_can_be_turned_off() -> None:
    """With public_note off, only status changes accept."""
    policy = replace(POLICY, accept_on_public_note=False)
    ticket = history(notes=(Note(vienna(2026, 11, 23, 9, 30), "agent"),))
    assert status_at(ticket, vienna(2026, 11, 23, 10), policy) == SlaStatus.RUNNING


def test_pause_while_waiting_for_customer() -> None:
    """Time in Feedback does not count, and the due time moves by the paused service time."""
    policy = replace(
        POLICY,
        pause_statuses=frozenset({"feedback"}),
        accept_statuses=frozenset({"in progress"}),
        accept_on_public_note=False,
    )
    ticket = history(status_changes=(
        StatusChange(vienna(2026, 11, 23, 10), "New", "Feedback"),
        StatusChange(vienna(2026, 11, 23, 12), "Feedback", "New"),
    ))
    tier = ADVANCED
    during = evaluate(ticket, "critical", tier, policy, vienna(2026, 11, 23, 11))
    assert during.status == SlaStatus.PAUSED
    assert during.used == timedelta(hours=1)
    after = evaluate(ticket, "critical", tier, policy, vienna(2026, 11, 23, 13))
    assert after.due == vienna(2026, 11, 23, 15)
    assert after.status == SlaStatus.RUNNING
    assert [(p.start, p.end) for p in after.pauses] == [
        (vienna(2026, 11, 23, 10), vienna(2026, 11, 23, 12))
    ]


def test_no_target() -> None:
    """Trivial on Advanced has no response target."""
    result = evaluate(history(), "trivial", ADVANCED, POLICY,
                      vienna(2026, 11, 30, 9))
    assert (result.status, result.due, result.target) == (SlaStatus.NO_TARGET, None, None)


def test_reclassification_recomputes_from_receipt() -> None:
    """Raising minor to critical computes the critical target from the original receipt."""
    ticket = history(class_changes=(ClassChange(vienna(2026, 11, 23, 11), "critical"),))
    result = evaluate(ticket, "minor", ADVANCED, POLICY,
                      vienna(2026, 11, 23, 12))
    assert result.incident_class == "critical"
    assert result.due == vienna(2026, 11, 23, 13)
    assert result.status == SlaStatus.AT_RISK
    (change,) = result.reclassifications
    assert (change.old, change.new) == ("minor", "critical")
    assert (change.old_target, change.new_target) == (timedelta(hours=21), timedelta(hours=4))


def test_used_fraction() -> None:
    """Half the target used after two of four hours."""
    result = evaluate(history(), "critical", ADVANCED, POLICY,
                      vienna(2026, 11, 23, 11))
    assert result.used_fraction == 0.5
    assert result.remaining == timedelta(hours=2)
