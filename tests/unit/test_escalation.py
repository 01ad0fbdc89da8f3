"""Escalation ladders, Fastlane and emergency tickets as pure per-ticket decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from slabridge.config.loader import load_config
from slabridge.domain.annotations import note_keys_in
from slabridge.domain.escalation import Escalations, LadderRule, Step
from slabridge.domain.model import SlaStatus, Sprint, Ticket
from slabridge.domain.plan import Context, Rules, decide, needs_of
from tests.conftest import vienna
from tests.domain_values import rules, ticket

LADDERS = Escalations(
    ladders={"standard": (
        Step("at-risk", SlaStatus.AT_RISK, mention=("alice",), watchers=("alice",),
             notify=("chat",)),
        Step("breached", SlaStatus.BREACHED, mention=("alice", "bob"),
             raise_priority="Immediate", reassign="bob", notify=("mail", "chat")),
    )},
    rules=(LadderRule("standard"),),
)


def with_ladders(standard_critical: str = "mark") -> Rules:
    """The domain values with LADDERS, the pager as the on-call channel."""
    return rules(escalations=LADDERS, on_call_channel="pager",
                 standard_critical=standard_critical)


def done_after(rules: Rules, t: Ticket, now: datetime) -> frozenset[str]:
    decision = decide(t, None, None, rules, now)
    assert decision.update is not None
    return frozenset(decision.update.note_keys) | {n.key for n in
                                                   decision.update.notifications}


def test_at_risk_step_mentions_watches_and_notifies() -> None:
    """At 75 % on a critical ticket: note with @alice, alice watches, chat is told."""
    rules = with_ladders()
    decision = decide(ticket(), None, None, rules, vienna(2026, 11, 23, 12))
    update = decision.update
    assert update is not None
    assert "@alice" in (update.note or "")
    assert update.watchers == ("alice",)
    assert [n.channel for n in update.notifications] == ["chat"]
    assert "escalated:acme:critical:standard:at-risk" in note_keys_in(update.note or "")


def test_each_step_once_and_breach_after_restart() -> None:
    """The at-risk step is not repeated; at the breach the next step runs once."""
    rules = with_ladders()
    from slabridge.domain.model import IssueRecord

    first = decide(ticket(), None, None, rules, vienna(2026, 11, 23, 12))
    assert first.update is not None
    record = IssueRecord(ticket(sla_fields=dict(first.update.fields)),
                         class_changes=first.class_changes,
                         done_keys=done_after(rules, ticket(), vienna(2026, 11, 23, 12)))
    again = decide(record.ticket, None, record, rules, vienna(2026, 11, 23, 12, 30))
    assert again.update is None
    breach = decide(record.ticket, None, record, rules, vienna(2026, 11, 23, 13, 30))
    assert breach.update is not None
    assert breach.update.priority == "Immediate"
    assert breach.update.assignee == "bob"
    assert [n.channel for n in breach.update.notifications] == ["mail", "chat"]
    assert "escalated:acme:critical:standard:breached" in breach.update.note_keys


def test_first_seen_breached_runs_only_the_breach_step() -> None:
    """No at-risk alarm after the fact; the lower step is recorded as passed."""
    rules = with_ladders()
    decision = decide(ticket(), None, None, rules, vienna(2026, 11, 23, 15))
    assert decision.update is not None
    keys = decision.update.note_keys
    assert "escalated:acme:critical:standard:at-risk" in keys
    assert [n.key for n in decision.update.notifications] == [
        "notified:escalated:acme:critical:standard:breached:mail",
        "notified:escalated:acme:critical:standard:breached:chat",
    ]


def test_non_critical_waits_for_service_hours() -> None:
    """A breached minor ticket escalates only once the service is open again."""
    rules = with_ladders()
    minor = ticket(priority="High")
    night = decide(minor, None, None, rules, vienna(2026, 11, 27, 20))
    assert night.update is not None
    assert not night.update.notifications
    morning = decide(minor, None, None, rules, vienna(2026, 11, 30, 9, 30))
    assert morning.update is not None
    assert [n.channel for n in morning.update.notifications] == ["mail", "chat"]


def test_critical_after_hours_on_24x7_contract_pages_on_call() -> None:
    """Globex buys 24/7 reachability: a critical breach at night also goes to the pager."""
    rules = with_ladders()
    late = decide(ticket(project="globex"), None, None, rules, vienna(2026, 11, 23, 22))
    assert late.update is not None
    assert [n.channel for n in late.update.notifications] == ["mail", "chat", "pager"]


def test_fastlane_moves_into_the_current_sprint() -> None:
    """Critical on Advanced goes into the current sprint, with a line saying so."""
    rules = with_ladders()
    assert needs_of(ticket(), None, rules).sprint
    sprint = Sprint("12", "Sprint 47", "open")
    decision = decide(ticket(), None, None, rules, vienna(2026, 11, 23, 10),
                      Context(current_sprint=sprint))
    assert decision.update is not None and decision.update.sprint == sprint
    assert "Moved into the current sprint *Sprint 47*" in (decision.update.note or "")
    assert decision.desired_fields["sla_handling"] == "fastlane"


def test_never_moves_a_ticket_out_of_its_sprint() -> None:
    """A ticket a person put into a version stays there."""
    rules = with_ladders()
    assert not needs_of(ticket(sprint="3"), None, rules).sprint
    decision = decide(ticket(sprint="3"), None, None, rules, vienna(2026, 11, 23, 10),
                      Context(current_sprint=Sprint("12", "Sprint 47", "open")))
    assert decision.update is not None and decision.update.sprint is None


def test_standard_critical_marked_with_surcharge_or_moved() -> None:
    """Standard: marked for the 20 % surcharge; moved only with standard_critical: move."""
    facts = {"custom_fields": {"Customer": "Initech"}}
    marked_rules = with_ladders()
    t = ticket(project="initech")
    t = replace(t, facts=replace(t.facts, **facts))  # type: ignore[arg-type]
    marked = decide(t, None, None, marked_rules, vienna(2026, 11, 23, 10))
    assert marked.desired_fields["sla_handling"] == "current_sprint_surcharge"
    assert not needs_of(t, None, marked_rules).sprint
    moving = with_ladders(standard_critical="move")
    assert needs_of(t, None, moving).sprint


def test_joint_planning_mark() -> None:
    """Minor on Advanced is marked for joint prioritisation, not moved."""
    decision = decide(ticket(priority="High"), None, None, with_ladders(),
                      vienna(2026, 11, 23, 10))
    assert decision.desired_fields["sla_handling"] == "joint_planning"
    assert not needs_of(ticket(priority="High"), None, with_ladders()).sprint


def test_emergency_ticket_lines() -> None:
    """The note says which of the included emergency tickets this is, or that it is over."""
    rules = with_ladders()
    saturday = ticket(project="globex", received=vienna(2026, 11, 21, 10))
    assert needs_of(saturday, None, rules).emergency_count
    second = decide(saturday, None, None, rules, vienna(2026, 11, 21, 11),
                    Context(emergency=(2, 3))).update
    assert second is not None
    assert "Emergency ticket 2 of 3 included this month" in (second.note or "")
    fourth = decide(saturday, None, None, rules, vienna(2026, 11, 21, 11),
                    Context(emergency=(4, 3))).update
    assert fourth is not None
    assert "*over* the 3 the contract includes" in (fourth.note or "")
    assert not needs_of(ticket(project="globex"), None, rules).emergency_count


def test_escalation_config_errors(tmp_path: Path) -> None:
    """Unknown channels and ladders are named with their path."""
    import pytest

    from slabridge.errors import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text(
        "escalation:\n  ladders:\n    l: [{name: s, when: at_risk, notify: [nope]}]\n"
        "  rules: [{ladder: missing}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: at escalation.ladders.l[0].notify: unknown channel 'nope': one of []",
        f"{path}:4: at escalation.rules[0].ladder: unknown ladder 'missing': one of ['l']",
    ]
