"""Classification rules pick a customer and a class; no customer match means unclassified."""

from __future__ import annotations

from slabridge.domain.classify import classify
from slabridge.domain.model import TicketFacts
from tests.domain_values import CLASS_RULES, CUSTOMER_RULES


def run(facts: TicketFacts) -> tuple[str | None, str | None]:
    result = classify(facts, CUSTOMER_RULES, CLASS_RULES)
    return result.customer, result.incident_class


def test_customer_by_project_and_class_by_priority() -> None:
    """An urgent bug in an Acme project is Acme's critical incident."""
    assert run(TicketFacts(project="acme-shop", tracker="Bug", priority="Urgent")) == (
        "acme", "critical",
    )


def test_matching_ignores_case() -> None:
    """Tracker values are compared case-insensitively."""
    assert run(TicketFacts(project="ACME-WEB", tracker="bug", priority="high")) == ("acme", "minor")


def test_customer_by_custom_field() -> None:
    """A list custom field picks the customer."""
    facts = TicketFacts(project="shared", tracker="Feature",
                        custom_fields={"Customer": ("Initech",)})
    assert run(facts) == ("initech", "trivial")


def test_first_rule_wins() -> None:
    """Rules are tried in order: the Outage category beats the priority rules."""
    facts = TicketFacts(project="globex", tracker="Bug", priority="Low",
                        labels=frozenset({"outage"}))
    assert run(facts) == ("globex", "critical")


def test_no_customer_is_unclassified() -> None:
    """Without a customer match nothing is guessed."""
    result = classify(TicketFacts(project="internal", tracker="Bug", priority="Urgent"),
                      CUSTOMER_RULES, CLASS_RULES)
    assert result.customer is None
    assert not result.classified


def test_labels_match_any() -> None:
    """A labels condition holds if any label matches."""
    from slabridge.domain.classify import Match, Rule

    rule = Rule(Match(labels=frozenset({"outage"})), "critical", "labels")
    facts = TicketFacts(project="p", labels=frozenset({"Outage", "web"}))
    assert classify(facts, [], [rule]).incident_class == "critical"
    assert classify(TicketFacts(project="p"), [], [rule]).incident_class is None


def test_rule_description() -> None:
    """Explanations show which conditions a rule had."""
    assert CUSTOMER_RULES[0].match.describe() == "project in ['acme-shop', 'acme-web']"
    assert CLASS_RULES[-1].match.describe() == "any ticket"
