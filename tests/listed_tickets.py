"""Tickets as a tracker lists them at NOW, with text trackers do send in their subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slabridge.domain.model import Ticket, TicketFacts

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def ticket(key: str, **facts: object) -> Ticket:
    """An urgent Acme bug created an hour before NOW, its subject with an emoji,
    guillemets and a right-to-left mark; `facts` replace the project, tracker, priority."""
    created = NOW - timedelta(hours=1)
    base = {"project": "acme-shop", "tracker": "Bug", "priority": "Urgent"}
    base.update(facts)  # type: ignore[arg-type]
    return Ticket(key=key, facts=TicketFacts(**base),  # type: ignore[arg-type]
                  subject="Zahlungsabbruch 💳 «Kasse» \u202e", created=created,
                  updated=created, status="New", closed=False, reporter="5")
