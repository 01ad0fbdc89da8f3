"""Numbering a customer's emergency tickets of a month (the contract includes a quota)."""

from __future__ import annotations

from collections.abc import Iterable

from slabridge.domain.model import Ticket
from slabridge.domain.plan import Rules
from slabridge.domain.values import value


@value
class EmergencyCount:
    """A ticket's place among its customer's emergency tickets of its month."""

    customer: str
    month: str
    """YYYY-MM in the ticket's tier's zone"""
    number: int
    quota: int
    """the emergency tickets the contract in force includes per month"""


def emergency_count(ticket: Ticket, others: Iterable[Ticket], rules: Rules) -> EmergencyCount:
    """Where `ticket` (an emergency, received outside service hours) stands among the
    same customer's emergency tickets received outside service hours in the same month,
    ordered by receipt (then key): `others` may hold the ticket itself and duplicates."""
    classification = rules.classifier(ticket.facts)
    customer = classification.customer
    if customer is None or classification.incident_class not in rules.emergency_classes:
        raise ValueError(f"ticket {ticket.key} is not an emergency of any customer")
    day = rules.contract_day(ticket.received)
    tier = rules.tier_for(customer, day)
    contract = rules.contract_for(customer, day)
    zone = tier.calendar.zone
    month = ticket.received.astimezone(zone).strftime("%Y-%m")
    received = {ticket.key: ticket.received}
    for other in others:
        if other.key in received:
            continue
        found = rules.classifier(other.facts)
        if (found.customer == customer and found.incident_class in rules.emergency_classes
                and other.received.astimezone(zone).strftime("%Y-%m") == month
                and not tier.calendar.is_open(other.received)):
            received[other.key] = other.received
    order = sorted(received, key=lambda key: (received[key], key))
    return EmergencyCount(customer, month, order.index(ticket.key) + 1,
                          contract.emergency_tickets if contract else 0)
