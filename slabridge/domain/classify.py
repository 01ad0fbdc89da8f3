"""Classification rules: which customer and which incident class a ticket belongs to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slabridge.domain.model import TicketFacts


@dataclass(frozen=True, slots=True)
class Match:
    """Conditions that must all hold; each lists accepted values, compared case-insensitively."""

    project: frozenset[str] = frozenset()
    tracker: frozenset[str] = frozenset()
    priority: frozenset[str] = frozenset()
    status: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    custom_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def holds_for(self, facts: TicketFacts) -> bool:
        """Whether every condition that is set accepts the ticket."""
        for wanted, actual in (
            (self.project, facts.project),
            (self.tracker, facts.tracker),
            (self.priority, facts.priority),
            (self.status, facts.status),
        ):
            if wanted and actual.casefold() not in wanted:
                return False
        if self.labels and not self.labels & {label.casefold() for label in facts.labels}:
            return False
        for name, wanted_values in self.custom_fields.items():
            value = facts.custom_fields.get(name)
            values = (value,) if isinstance(value, str) else (value or ())
            if not wanted_values & {v.casefold() for v in values}:
                return False
        return True

    def describe(self) -> str:
        """A short human-readable form, for explanations."""
        parts = [
            f"{name} in {sorted(values)}"
            for name, values in (
                ("project", self.project),
                ("tracker", self.tracker),
                ("priority", self.priority),
                ("status", self.status),
                ("labels", self.labels),
            )
            if values
        ]
        parts += [f"{name!r} in {sorted(v)}" for name, v in self.custom_fields.items()]
        return " and ".join(parts) or "any ticket"


@dataclass(frozen=True, slots=True)
class Rule:
    """If `match` holds, the ticket gets `value` (a customer key or a class name)."""

    match: Match
    value: str
    name: str


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome: customer and class with the rules that chose them (None if unmatched)."""

    customer: str | None
    incident_class: str | None
    customer_rule: Rule | None
    class_rule: Rule | None

    @property
    def classified(self) -> bool:
        """A ticket counts as classified only with both a customer and a class."""
        return self.customer is not None and self.incident_class is not None


def first_match(rules: Sequence[Rule], facts: TicketFacts) -> Rule | None:
    """The first rule whose match holds, or None; order in config is priority."""
    return next((rule for rule in rules if rule.match.holds_for(facts)), None)


def classify(
    facts: TicketFacts, customer_rules: Sequence[Rule], class_rules: Sequence[Rule]
) -> Classification:
    """Customer and class by first matching rule; never guesses a customer."""
    customer_rule = first_match(customer_rules, facts)
    class_rule = first_match(class_rules, facts)
    return Classification(
        customer=customer_rule.value if customer_rule else None,
        incident_class=class_rule.value if class_rule else None,
        customer_rule=customer_rule,
        class_rule=class_rule,
    )
