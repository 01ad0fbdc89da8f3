"""Domain values for the domain's tests, built from plain Python rather than read from YAML.

The customers, classification rules, contracts, tiers and calendars below are small and
written out; tests of the shipped configuration itself (test_contract_terms.py,
test_config.py) keep loading it. Only the notes' wording (templates and class labels, per
language) is the product's own, taken from the shipped terms: tests assert what the notes
say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from slabridge.config.loader import load_config
from slabridge.domain.annotations import NoteTemplates
from slabridge.domain.calendar import BusinessCalendar, Window
from slabridge.domain.classify import Match, Rule
from slabridge.domain.contracts import BillingTerms, ClassTerms, Contract, Tier
from slabridge.domain.durations import ServiceDuration
from slabridge.domain.escalation import Escalations
from slabridge.domain.hours import (
    Booking,
    MonthTerms,
)
from slabridge.domain.model import Handling, Ticket, TicketFacts
from slabridge.domain.plan import Rules
from slabridge.domain.sla import SlaPolicy
from tests.conftest import vienna

ZONE = "Europe/Vienna"


def calendar(opens: int, closes: int, timezone: str = ZONE) -> BusinessCalendar:
    """Monday to Friday from `opens` to `closes` o'clock, no days off."""
    return BusinessCalendar(timezone, {day: [Window(opens * 60, closes * 60)] for day in range(5)},
                            lambda year: {})


OFFICE = calendar(9, 16)
EXTENDED = calendar(8, 18)

BILLING = BillingTerms(model="hourly", included_hours=False, extra_hours="none",
                       critical_current_sprint_surcharge=Decimal(0), credit_cap_months=0,
                       fee_due="none", extra_work_due="none", fee_adjustment="none",
                       price_increase=None, travel_and_expenses="billed_separately")


def tier(name: str, label: str, cal: BusinessCalendar,
         classes: Mapping[str, tuple[str | None, Handling]],
         surcharge: Decimal = Decimal(0)) -> Tier:
    """A tier with `classes`: name -> (response target as in config, e.g. "4h", handling);
    `surcharge`: on hours of critical incidents handled in the current sprint."""
    billing = replace(BILLING, critical_current_sprint_surcharge=surcharge)
    return Tier(name=name, label=label, calendar=cal, observes_closures=False,
                maintenance_included=False, intake=("ticket",), billing=billing, classes={
                    key: ClassTerms(None if target is None else ServiceDuration.parse(target),
                                    handling)
                    for key, (target, handling) in classes.items()})


TIERS = {t.name: t for t in (
    tier("standard", "Standard (Basic Support)", OFFICE, {
        "critical": ("8h", Handling.CURRENT_SPRINT), "minor": (None, Handling.NEXT_SPRINT),
        "trivial": (None, Handling.NEXT_SPRINT)}, surcharge=Decimal("0.20")),
    tier("advanced", "Advanced (Maintenance and Service)", OFFICE, {
        "critical": ("4h", Handling.FASTLANE), "minor": ("3d", Handling.JOINT_PLANNING),
        "trivial": (None, Handling.NEXT_SPRINT)}),
    tier("premium", "Premium (All-around Care)", EXTENDED, {
        "critical": ("2h", Handling.FASTLANE), "minor": ("1.5d", Handling.JOINT_PLANNING),
        "trivial": ("3d", Handling.JOINT_PLANNING)}),
)}
ADVANCED = TIERS["advanced"]


def match(project: Sequence[str] = (), tracker: Sequence[str] = (),
          priority: Sequence[str] = (), labels: Sequence[str] = ()) -> Match:
    """A Match from lists of accepted values (compared case-insensitively, as configured)."""
    def folded(values: Sequence[str]) -> frozenset[str]:
        return frozenset(v.casefold() for v in values)
    return Match(project=folded(project), tracker=folded(tracker), priority=folded(priority),
                 labels=folded(labels))


CUSTOMER_RULES = (
    Rule(match(project=["acme-shop", "acme-web"]), "acme", "Acme projects"),
    Rule(match(project=["globex"]), "globex", "Globex project"),
    Rule(Match(custom_fields={"Customer": frozenset({"initech"})}), "initech",
         "Customer field"),
)
CLASS_RULES = (
    Rule(match(labels=["Outage"]), "critical", "issues filed in the Outage category"),
    Rule(match(tracker=["Bug"], priority=["Immediate", "Urgent"]), "critical",
         "outages are critical"),
    Rule(match(tracker=["Bug"], priority=["High", "Normal"]), "minor", "other bugs"),
    Rule(Match(), "trivial", "everything else"),
)
CONTRACTS = {
    "acme": Contract("advanced", date(2026, 1, 1), included_hours=Decimal(10)),
    "globex": Contract("premium", date(2026, 1, 1), included_hours=Decimal(20),
                       emergency_tickets=3, reachability_24x7=True),
    "initech": Contract("standard", date(2026, 1, 1)),
}
CUSTOMER_NAMES = {"acme": "Acme Webshop GmbH", "globex": "Globex Corporation",
                  "initech": "Initech"}


def contract_for(customer: str, day: date) -> Contract | None:
    """The customer's contract in force on `day`, if any."""
    found = CONTRACTS.get(customer)
    return found if found is not None and found.covers(day) else None


def tier_for(customer: str, day: date) -> Tier:
    """The tier of the contract in force, else Standard."""
    found = contract_for(customer, day)
    return TIERS[found.tier if found else "standard"]


POLICY = SlaPolicy(pause_statuses=frozenset({"feedback"}),
                   accept_statuses=frozenset({"in progress", "resolved"}))
"""Feedback pauses the clock; only a change into In Progress or Resolved accepts."""


@cache
def wording(language: str) -> tuple[NoteTemplates, Mapping[str, str]]:
    """The shipped notes' templates and class labels in `language`."""
    shipped = load_config(None)
    notes = shipped.settings.notes.model_copy(update={"language": language})
    rules = type(shipped)(shipped.settings.model_copy(update={"notes": notes}),
                          shipped.source).rules()
    return rules.templates, rules.class_labels


def rules(*, language: str = "en", ignored_authors: frozenset[str] = frozenset(),
          escalations: Escalations | None = None, standard_critical: str = "mark",
          on_call_channel: str | None = None,
          policy: SlaPolicy = POLICY) -> Rules:
    """Acme on Advanced, Globex on Premium, Initech on Standard (all from 2026-01-01), found
    by project or the Customer field; classes by tracker and priority; POLICY."""
    templates, labels = wording(language)
    return Rules(customer_rules=CUSTOMER_RULES, class_rules=CLASS_RULES, tier_for=tier_for,
                 customer_names=CUSTOMER_NAMES, class_labels=labels, policy=policy,
                 templates=templates, ignored_authors=ignored_authors,
                 contract_for=contract_for, contract_zone=OFFICE.zone,
                 escalations=escalations, standard_critical=standard_critical,
                 emergency_classes=frozenset({"critical"}), on_call_channel=on_call_channel)


def ticket(project: str = "acme-shop", priority: str = "Urgent", tracker: str = "Bug",
           received: datetime | None = None, **changes: object) -> Ticket:
    """Issue #7, an urgent Acme bug created Monday 23 November 2026 09:00 Vienna time;
    `changes` replace any other of its values."""
    created = vienna(2026, 11, 23, 9)
    base = Ticket(key="7", facts=TicketFacts(project=project, tracker=tracker,
                                             priority=priority),
                  subject="Checkout broken", created=created, updated=created, status="New",
                  closed=False, reporter="5", received_field=received)
    return replace(base, **changes)  # type: ignore[arg-type]


HOURLY = MonthTerms(tier="standard", model="hourly", included=Decimal(0), credit_cap_months=0,
                    surcharge=Decimal("0.20"), hourly_rate=Decimal(120),
                    surcharged_classes=frozenset({"critical"}))
"""A month on Standard's terms: every hour billed at 120, critical ones 20 % more."""


def book(month: str, hours: str, n: int = 0, incident_class: str | None = None,
         sprint: bool = False) -> Booking:
    """Acme's booking number `n` of `hours` on the first day of `month` (YYYY-MM)."""
    year, number = (int(p) for p in month.split("-"))
    return Booking(f"{month}-{n}", "acme", date(year, number, 1), Decimal(hours),
                   incident_class, sprint)
