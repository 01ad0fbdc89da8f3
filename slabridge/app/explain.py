"""Why an issue has its due time: its classification, receipt, closed periods and status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slabridge.app.rules import judging_rules
from slabridge.domain.calendar import ClosedPeriod
from slabridge.domain.contracts import Contract
from slabridge.domain.model import FieldRole, Journal
from slabridge.domain.plan import Decision, Rules, assess
from slabridge.ports import StateStore, Tracker


@dataclass(frozen=True)
class Explanation:
    """Why an issue has its due time."""

    decision: Decision
    journal: Journal
    receipt_source: str
    closed_periods: tuple[ClosedPeriod, ...]
    fields_in_tracker: dict[str, str]
    contract: Contract | None = None
    """The customer's contract in force on the day of receipt (None: the default tier)."""


def explain(tracker: Tracker, store: StateStore, rules: Rules, key: str,
            now: datetime) -> Explanation:
    """Read the issue now and explain its classification, due time and status."""
    tracker.prepare()
    ticket, journal = tracker.fetch(key)
    record = store.get(tracker.name, key)
    rules = judging_rules(rules, store, tracker.name, tracker.own_authors())
    decision = assess(ticket, journal, record, rules, now)
    periods: tuple[ClosedPeriod, ...] = ()
    if decision.evaluation is not None and decision.tier is not None:
        end = decision.evaluation.due or now
        periods = tuple(decision.tier.calendar.closed_periods(ticket.received, end))
    source = ("the receipt-time field" if ticket.received_field is not None
              else "the issue's creation time")
    if ticket.receipt_problem:
        source = f"{source}, since {ticket.receipt_problem}"
    fields = {role.value: ticket.sla_fields.get(role.value, "") for role in FieldRole}
    customer = decision.classification.customer
    contract = (rules.contract_for(customer, rules.contract_day(ticket.received))
                if customer else None)
    return Explanation(decision, journal, source, periods, fields, contract)


