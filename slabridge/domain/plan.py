"""Deciding per ticket: classification, evaluation, and the one update (fields + note) it needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from slabridge.domain.annotations import NoteTemplates
from slabridge.domain.classify import Classification, Rule, classify
from slabridge.domain.contracts import Tier
from slabridge.domain.model import (
    HANDLING_TEXT,
    ClassChange,
    FieldRole,
    IssueRecord,
    Journal,
    SlaStatus,
    Ticket,
    TicketHistory,
)
from slabridge.domain.sla import Evaluation, SlaPolicy, evaluate

NOTED_STATUSES = (SlaStatus.AT_RISK, SlaStatus.BREACHED, SlaStatus.MET)


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything the decision needs from configuration, as plain values and functions."""

    customer_rules: Sequence[Rule]
    class_rules: Sequence[Rule]
    tier_for: Callable[[str, date], Tier]
    customer_names: Mapping[str, str]
    class_labels: Mapping[str, str]
    policy: SlaPolicy
    templates: NoteTemplates
    ignored_authors: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TicketUpdate:
    """One write to one ticket: changed fields and at most one note."""

    ticket_key: str
    fields: Mapping[str, str]
    note: str | None = None
    note_keys: tuple[str, ...] = ()
    all_fields: Mapping[str, str] = field(default_factory=dict)
    """Every field's desired value, for trackers that store them as one document."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one ticket in one cycle."""

    ticket: Ticket
    classification: Classification
    class_changes: tuple[ClassChange, ...] = ()
    tier: Tier | None = None
    evaluation: Evaluation | None = None
    update: TicketUpdate | None = None
    reason: str = ""
    """Why nothing is evaluated (unclassified), or empty."""
    desired_fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def classified(self) -> bool:
        """Whether the ticket has both a customer and a class."""
        return self.evaluation is not None


def format_local(instant: datetime | None, tier: Tier) -> str:
    """A due time as people read it in the tier's zone, e.g. 2026-11-23 11:00 CET."""
    if instant is None:
        return "-"
    return instant.astimezone(tier.calendar.zone).strftime("%Y-%m-%d %H:%M %Z")


def utc_text(instant: datetime) -> str:
    """ISO 8601 UTC with Z, the format of the response-due text field."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _class_changes(record: IssueRecord | None, incident_class: str, at: datetime) -> tuple[
    ClassChange, ...
]:
    known = record.class_changes if record is not None else ()
    if not known:
        return (ClassChange(at, incident_class),)
    if known[-1].new != incident_class:
        return (*known, ClassChange(at, incident_class))
    return known


def decide(
    ticket: Ticket,
    journal: Journal | None,
    record: IssueRecord | None,
    rules: Rules,
    now: datetime,
) -> Decision:
    """Classify and evaluate `ticket`, and plan the update that brings the tracker up to date.

    Closed tickets are evaluated but never written to: slabridge does not annotate history.
    """
    classification = classify(ticket.facts, rules.customer_rules, rules.class_rules)
    if classification.customer is None:
        return Decision(ticket, classification, reason="no customer rule matched")
    if classification.incident_class is None:
        return Decision(ticket, classification, reason="no class rule matched")
    customer, incident_class = classification.customer, classification.incident_class
    received = ticket.received
    tier = rules.tier_for(customer, received.astimezone(UTC).date())
    changes = _class_changes(record, incident_class, ticket.updated)
    journal = journal or Journal(initial_status=ticket.status)
    history = TicketHistory(
        received=received,
        reporter=ticket.reporter,
        initial_status=journal.initial_status,
        status_changes=journal.status_changes,
        notes=tuple(n for n in journal.notes if n.author not in rules.ignored_authors),
        class_changes=changes[1:],
    )
    evaluation = evaluate(history, changes[0].new, tier, rules.policy, now)
    due = evaluation.due
    desired = {
        FieldRole.RESPONSE_DUE.value: utc_text(due) if due else "",
        FieldRole.RESPONSE_DUE_DATE.value: (
            due.astimezone(tier.calendar.zone).date().isoformat() if due else ""
        ),
        FieldRole.SLA_CLASS.value: incident_class,
        FieldRole.SLA_STATUS.value: evaluation.status.value,
    }
    decision = Decision(ticket, classification, changes, tier, evaluation,
                        desired_fields=desired)
    if ticket.closed:
        return decision
    done = (record.done_keys if record else frozenset()) | journal.own_note_keys
    fields = {role: value for role, value in desired.items()
              if ticket.sla_fields.get(role, "") != value}
    note, keys = _note(ticket, customer, incident_class, tier, evaluation, done, rules)
    if not fields and note is None:
        return decision
    update = TicketUpdate(ticket.key, fields, note, keys, desired)
    return Decision(ticket, classification, changes, tier, evaluation, update,
                    desired_fields=desired)


def _note(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier,
    evaluation: Evaluation, done: frozenset[str], rules: Rules,
) -> tuple[str | None, tuple[str, ...]]:
    status = evaluation.status
    classified_key = f"classified:{customer}:{incident_class}"
    status_key = f"{customer}:{incident_class}:{status.value}"
    values = {
        "customer": rules.customer_names.get(customer, customer),
        "tier": tier.label,
        "class": rules.class_labels.get(incident_class, incident_class),
        "class_key": incident_class,
        "due": format_local(evaluation.due, tier),
        "received": format_local(ticket.received, tier),
        "target": str(tier.classes[incident_class].response or "-"),
        "handling": rules.templates.handling.get(
            tier.classes[incident_class].handling.value,
            HANDLING_TEXT[tier.classes[incident_class].handling],
        ),
        "status": status.value.replace("_", " "),
        "used_percent": (
            f"{evaluation.used_fraction:.0%}" if evaluation.used_fraction is not None else "-"
        ),
        "accepted": format_local(evaluation.accepted_at, tier),
        "acceptance": evaluation.acceptance or "-",
    }
    if classified_key not in done:
        kind = "classified" if evaluation.due is not None else "classified_no_target"
        keys = [classified_key]
        if status in NOTED_STATUSES:
            # Seen for the first time already at risk, breached or met: one note says both.
            kind += "_" + status.value
            keys.append(status_key)
        return rules.templates.render(kind, values, tuple(keys)), tuple(keys)
    if status in NOTED_STATUSES and status_key not in done:
        return rules.templates.render(status.value, values, (status_key,)), (status_key,)
    return None, ()
