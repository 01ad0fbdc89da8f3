"""Escalation ladders: which step is due for a ticket, once, and what it asks for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slabridge.domain.model import SlaStatus
from slabridge.domain.values import value

REACHED = {
    SlaStatus.AT_RISK: (SlaStatus.AT_RISK,),
    SlaStatus.BREACHED: (SlaStatus.AT_RISK, SlaStatus.BREACHED),
}


@value
class Step:
    """One rung: reached at an SLA status, it notes, mentions, reassigns and notifies."""

    name: str
    when: SlaStatus
    mention: tuple[str, ...] = ()
    watchers: tuple[str, ...] = ()
    raise_priority: str | None = None
    reassign: str | None = None
    notify: tuple[str, ...] = ()
    metric: str = "response"
    """The clock whose status reaches this step (sla.metrics; the response by default)."""


@value
class LadderRule:
    """Which ladder applies to which tiers and classes (empty: all)."""

    ladder: str
    tiers: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()

    def applies(self, tier: str, incident_class: str) -> bool:
        """Whether this rule covers the tier and class."""
        return (not self.tiers or tier in self.tiers) and (
            not self.classes or incident_class in self.classes
        )


@value
class Escalations:
    """Configured ladders and the rules that pick one."""

    ladders: Mapping[str, Sequence[Step]]
    rules: Sequence[LadderRule]

    def ladder_for(self, tier: str, incident_class: str) -> tuple[str, Sequence[Step]] | None:
        """The first ladder whose rule covers tier and class."""
        for rule in self.rules:
            if rule.applies(tier, incident_class):
                return rule.ladder, self.ladders[rule.ladder]
        return None


def step_key(customer: str, incident_class: str, ladder: str, step: Step) -> str:
    """The exactly-once key of a step for one ticket."""
    return f"escalated:{customer}:{incident_class}:{ladder}:{step.name}"


def due_step(
    steps: Sequence[Step], statuses: Mapping[str, SlaStatus], keys: Mapping[str, str],
    done: frozenset[str],
) -> tuple[Step | None, tuple[str, ...]]:
    """The highest reached step not yet done, and the keys of lower ones it supersedes.

    `statuses` holds each clock's status (response and the configured metrics); a step is
    reached by its own metric's. A ticket first seen already breached gets the breach step
    only: an at-risk alarm after the breach would be noise, so lower steps are recorded as
    passed.
    """
    reached = [s for s in steps
               if s.metric in statuses and s.when in REACHED.get(statuses[s.metric], ())]
    if not reached:
        return None, ()
    top = reached[-1]
    if keys[top.name] in done:
        return None, ()
    passed = tuple(keys[s.name] for s in reached[:-1] if keys[s.name] not in done)
    return top, passed
