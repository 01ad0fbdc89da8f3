"""Classification rules: which customer and which incident class a ticket belongs to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field

from slabridge.domain.model import TicketFacts
from slabridge.domain.values import value


@value
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


@value
class Rule:
    """If `match` holds, the ticket gets `value` (a customer key or a class name)."""

    match: Match
    value: str
    name: str


@value
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


class Classifier:
    """`classify` with one pair of rule lists, remembering the outcome per set of facts.

    Tickets of one project mostly share their facts, and with many rules matching is the
    costliest part of classifying; the facts a rule can look at make the key.
    """

    __slots__ = ("_cache", "_class_rules", "_customer_rules", "_field_names")

    def __init__(self, customer_rules: Sequence[Rule], class_rules: Sequence[Rule]) -> None:
        self._customer_rules, self._class_rules = customer_rules, class_rules
        self._field_names = tuple(sorted({
            name for rule in (*customer_rules, *class_rules) for name in rule.match.custom_fields
        }))
        self._cache: dict[tuple[object, ...], Classification] = {}

    def __call__(self, facts: TicketFacts) -> Classification:
        """What `classify(facts, customer_rules, class_rules)` returns."""
        key: tuple[object, ...] = (facts.project, facts.tracker, facts.priority,
                                   facts.status, facts.labels)
        if self._field_names:
            key += tuple(map(facts.custom_fields.get, self._field_names))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = classify(facts, self._customer_rules, self._class_rules)
        return found
