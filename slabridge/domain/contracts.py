"""Tiers, their per-class targets and billing terms, and customers' dated contracts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from slabridge.domain.calendar import BusinessCalendar
from slabridge.domain.durations import ServiceDuration
from slabridge.domain.model import Handling
from slabridge.domain.values import value


@value
class ClassTerms:
    """What a tier promises for one incident class."""

    response: ServiceDuration | None
    handling: Handling
    metrics: Mapping[str, ServiceDuration] = field(default_factory=dict)
    """Targets of the configured metrics beyond the response (e.g. resolution: 2d)."""


@value
class PriceIncreaseTerms:
    """Limits on raising a flat fee (contract-terms.md section 4, "price increase")."""

    max_increase: Decimal
    lookback_months: int
    notice_months: int
    customer_cancel_notice_months: int


@value
class BillingTerms:
    """How a tier is billed (contract-terms.md section 4)."""

    model: str
    included_hours: bool
    extra_hours: str
    critical_current_sprint_surcharge: Decimal
    credit_cap_months: int
    fee_due: str
    extra_work_due: str
    fee_adjustment: str
    price_increase: PriceIncreaseTerms | None
    travel_and_expenses: str


@value
class Tier:
    """A service level: its service calendar, per-class terms and billing."""

    name: str
    label: str
    calendar: BusinessCalendar
    observes_closures: bool
    maintenance_included: bool
    intake: tuple[str, ...]
    classes: Mapping[str, ClassTerms]
    billing: BillingTerms
    # Computed once: exact Fraction arithmetic is slow enough to matter per ticket and cycle.
    _targets: Mapping[str, timedelta | None] = field(init=False, repr=False, compare=False)
    _metric_targets: Mapping[tuple[str, str], timedelta] = field(init=False, repr=False,
                                                                 compare=False)

    def __post_init__(self) -> None:
        service_day = timedelta(microseconds=self.calendar.service_day_us)
        object.__setattr__(self, "_targets", {
            name: None if terms.response is None else terms.response.length(service_day)
            for name, terms in self.classes.items()
        })
        object.__setattr__(self, "_metric_targets", {
            (name, metric): target.length(service_day)
            for name, terms in self.classes.items() for metric, target in terms.metrics.items()
        })

    def metric_target(self, incident_class: str, metric: str) -> timedelta | None:
        """A metric's target for `incident_class` in service time (days are this tier's
        service days), or None if none is promised."""
        if metric == "response":
            return self._targets[incident_class]
        return self._metric_targets.get((incident_class, metric))

    def response_target(self, incident_class: str) -> timedelta | None:
        """The response time for `incident_class` in service time, or None if none is promised."""
        return self._targets[incident_class]


@value
class Contract:
    """A customer's terms from `start` (inclusive) until `end` (inclusive) or open-ended."""

    tier: str
    start: date
    end: date | None = None
    included_hours: Decimal = Decimal(0)
    hourly_rate: Decimal | None = None
    extra_hourly_rate: Decimal | None = None
    monthly_fee: Decimal | None = None
    emergency_tickets: int = 0
    reachability_24x7: bool = False

    def covers(self, day: date) -> bool:
        """Whether the contract is in force on `day`."""
        return self.start <= day and (self.end is None or day <= self.end)


@value
class Customer:
    """A customer with its contracts over time."""

    key: str
    name: str
    contracts: tuple[Contract, ...]
    opening_month: str | None = None
    """The first month (YYYY-MM) the hour ledger counts; None: from the first contract."""
    opening_credit: Decimal = Decimal(0)
    """Unused hours credited into the opening month."""

    def contract_at(self, day: date) -> Contract | None:
        """The contract in force on `day`; the latest-starting one wins where they overlap."""
        matching = [c for c in self.contracts if c.covers(day)]
        return max(matching, key=lambda c: c.start) if matching else None


def contract_day(instant: datetime, zone: tzinfo) -> date:
    """The day of `instant` as contracts count days: in `zone` (a receipt at 00:30 local
    time on a contract's first day is under that contract, though the day before in UTC)."""
    return instant.astimezone(zone).date()
