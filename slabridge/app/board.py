"""The status board: open issues from the last sync, re-evaluated now, most urgent first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slabridge.app.report import Unclassified
from slabridge.app.rules import judging_rules
from slabridge.domain.metrics import MetricEvaluation
from slabridge.domain.model import SlaStatus
from slabridge.domain.plan import Rules, assess
from slabridge.domain.sla import Evaluation
from slabridge.ports import StateStore

URGENCY = {
    SlaStatus.BREACHED: 0, SlaStatus.AT_RISK: 1, SlaStatus.RUNNING: 2, SlaStatus.PAUSED: 3,
    SlaStatus.MET: 4, SlaStatus.NO_TARGET: 5,
}

# Statuses whose service time left keeps shrinking while nobody has responded (a breached
# issue goes on into overdue time); paused, met and no-target clocks stand still.
TICKING = frozenset({SlaStatus.RUNNING, SlaStatus.AT_RISK, SlaStatus.BREACHED})


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
    clock_running: bool = False
    """`left` shrinks as service time passes: not paused, a target, no response yet."""
    metrics: Mapping[str, MetricEvaluation] = field(default_factory=dict)
    """The configured metrics beyond the response (sla.metrics), by name."""



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
            _clock_running(evaluation), decision.metrics,
        ))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (URGENCY[r.status], r.due or far, r.key))
    return rows


def _clock_running(evaluation: Evaluation) -> bool:
    """Whether the service time left shrinks from now on (a breached issue can be paused
    too: it waits for the customer after its due time)."""
    paused = bool(evaluation.pauses) and evaluation.pauses[-1].ongoing
    return evaluation.accepted_at is None and evaluation.status in TICKING and not paused


def unclassified(store: StateStore, tracker_name: str, rules: Rules,
                 now: datetime) -> list[Unclassified]:
    """Open issues from the last sync that no rule classifies now, and why."""
    found = []
    for record in store.open_records(tracker_name):
        decision = assess(record.ticket, record.journal, record, rules, now)
        if decision.evaluation is None:
            found.append(Unclassified.of(decision))
    return sorted(found, key=lambda u: (u.project, u.key))


