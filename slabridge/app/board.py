"""The status board: open issues from the last sync, re-evaluated now, most urgent first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from slabridge.app.rules import judging_rules
from slabridge.domain.model import SlaStatus
from slabridge.domain.plan import Decision, Rules, assess
from slabridge.ports import StateStore

URGENCY = {
    SlaStatus.BREACHED: 0, SlaStatus.AT_RISK: 1, SlaStatus.RUNNING: 2, SlaStatus.PAUSED: 3,
    SlaStatus.MET: 4, SlaStatus.NO_TARGET: 5,
}



@dataclass(frozen=True)
class Unclassified:
    """An open issue no rule classified, and why (named, not only counted)."""

    key: str
    subject: str
    project: str
    reason: str

    @classmethod
    def of(cls, decision: Decision) -> Unclassified:
        """The unclassified decision's issue, its reason with the facts rules look at."""
        ticket = decision.ticket
        facts = ticket.facts
        return cls(ticket.key, ticket.subject, facts.project,
                   f"{decision.reason} (project {facts.project}, tracker {facts.tracker}, "
                   f"priority {facts.priority})")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"issue": self.key, "subject": self.subject, "project": self.project,
                "reason": self.reason}




@dataclass(frozen=True)
class BoardRow:
    """One line of the status board."""

    key: str
    subject: str
    customer: str
    tier: str
    incident_class: str
    due: datetime | None
    left: timedelta | None
    status: SlaStatus



def board(store: StateStore, tracker_name: str, rules: Rules, now: datetime,
          customer: str | None = None) -> list[BoardRow]:
    """Open classified issues from the last sync, re-evaluated at `now`, most urgent first."""
    rows = []
    rules = judging_rules(rules, store, tracker_name)
    for record in store.open_records(tracker_name):
        decision = assess(record.ticket, record.journal, record, rules, now)
        evaluation = decision.evaluation
        if evaluation is None or decision.tier is None:
            continue
        who = decision.classification.customer or ""
        if customer is not None and who != customer:
            continue
        rows.append(BoardRow(
            record.ticket.key, record.ticket.subject, who, decision.tier.name,
            evaluation.incident_class, evaluation.due, evaluation.remaining, evaluation.status,
        ))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (URGENCY[r.status], r.due or far, r.key))
    return rows


def unclassified(store: StateStore, tracker_name: str, rules: Rules,
                 now: datetime) -> list[Unclassified]:
    """Open issues from the last sync that no rule classifies now, and why."""
    found = []
    for record in store.open_records(tracker_name):
        decision = assess(record.ticket, record.journal, record, rules, now)
        if decision.evaluation is None:
            found.append(Unclassified.of(decision))
    return sorted(found, key=lambda u: (u.project, u.key))


