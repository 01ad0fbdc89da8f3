"""The monthly hour ledger: included hours, credit carried over and lapsed, billable extra.

All quantities are Decimal hours; months are "YYYY-MM" strings. Pure: the service gathers
time entries and contracts, this module does the arithmetic of contract-terms.md section 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import date
from decimal import Decimal

from slabridge.domain.values import value

ZERO = Decimal(0)
HOUR_SECONDS = Decimal(3600)


def month_of(day: date) -> str:
    """The ledger month of a day, e.g. 2026-11."""
    return f"{day.year:04d}-{day.month:02d}"


def month_start(day: date, months: int = 0) -> date:
    """The first day of `day`'s month, moved by `months` (negative: back)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def shift_month(month: str, months: int) -> str:
    """The ledger month `months` after `month` (negative: before), e.g. 2026-11 -> 2027-01."""
    year, number = (int(part) for part in month.split("-"))
    return month_of(month_start(date(year, number, 1), months))


def next_month(month: str) -> str:
    """The month after `month`."""
    return shift_month(month, 1)


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    months = []
    current = first
    while current <= last:
        months.append(current)
        current = next_month(current)
    return months


@value
class Booking:
    """Hours attributed to a customer in a month (from a time entry)."""

    entry_id: str
    customer: str
    day: date
    hours: Decimal
    incident_class: str | None = None
    current_sprint: bool = False
    """Spent on an issue fixed in the current sprint (Standard's surcharge)."""
    ticket_key: str | None = None


@value
class Unattributed:
    """Hours no customer rule could claim: shown beside the statements, never dropped."""

    entry_id: str
    day: date
    hours: Decimal
    project: str | None
    ticket_key: str | None = None


@value
class MonthTerms:
    """The contract terms in force for a customer in one month."""

    tier: str
    model: str
    included: Decimal
    credit_cap_months: int
    surcharge: Decimal
    hourly_rate: Decimal | None = None
    extra_hourly_rate: Decimal | None = None
    monthly_fee: Decimal | None = None
    surcharged_classes: frozenset[str] = frozenset()
    """Classes whose hours in the current sprint carry the surcharge: those the tier
    handles in the current sprint (the sheet: critical incidents on Standard)."""


@value
class Adjustment:
    """Hours of a closed month that changed after its statement was posted."""

    entry_id: str
    month: str
    hours: Decimal
    """The change: positive for added hours, negative for removed ones."""


@value
class Statement:
    """One customer's month."""

    customer: str
    month: str
    tier: str
    included: Decimal
    used: Decimal
    credit_in: Decimal
    credit_out: Decimal
    lapsed: Decimal
    billable_hours: Decimal
    surcharge_hours: Decimal
    adjustments: tuple[Adjustment, ...] = ()
    fee: Decimal | None = None
    extra_amount: Decimal | None = None
    surcharge_amount: Decimal | None = None
    bookings: int = 0
    credit_cap_months: int = 0
    """The terms' cap: credit beyond this many months of included hours lapses."""
    surcharge: Decimal = ZERO
    """The terms' surcharge on critical current-sprint hours, e.g. 0.20."""

    @property
    def available(self) -> Decimal:
        """Included hours plus credit from earlier months."""
        return self.included + self.credit_in


@value
class Ledger:
    """Statements of one customer over consecutive months."""

    statements: tuple[Statement, ...] = field(default_factory=tuple)

    def month(self, month: str) -> Statement | None:
        """The statement of `month`, if computed."""
        return next((s for s in self.statements if s.month == month), None)


def percent(share: Decimal) -> str:
    """A share as a percentage for people: 0.20 is 20 %, 0.125 is 12.5 %."""
    text = f"{(share * 100).quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text} %"


def settle_month(
    customer: str, month: str, terms: MonthTerms, used: Decimal, surcharge_hours: Decimal,
    credit_in: Decimal, adjustments: tuple[Adjustment, ...] = (), bookings: int = 0,
) -> Statement:
    """One month by the sheet's rules.

    Flat tiers: included plus credit is available; unused hours carry over up to
    credit_cap_months x included, the rest lapses (shown, never dropped); hours beyond the
    available ones are billable. Hourly (Standard): every hour is billable.
    """
    if terms.model == "hourly":
        credit_out = lapsed = ZERO
        billable = used
        credit_in = ZERO
    else:
        available = terms.included + credit_in
        if used <= available:
            unused = available - used
            cap = terms.included * terms.credit_cap_months
            credit_out = min(unused, cap)
            lapsed = unused - credit_out
            billable = ZERO
        else:
            credit_out = lapsed = ZERO
            billable = used - available
    rate = terms.hourly_rate if terms.model == "hourly" else terms.extra_hourly_rate
    return Statement(
        customer=customer, month=month, tier=terms.tier, included=terms.included
        if terms.model != "hourly" else ZERO,
        used=used, credit_in=credit_in, credit_out=credit_out, lapsed=lapsed,
        billable_hours=billable, surcharge_hours=surcharge_hours, adjustments=adjustments,
        fee=terms.monthly_fee,
        extra_amount=None if rate is None else (billable * rate).quantize(Decimal("0.01")),
        surcharge_amount=(
            None if terms.hourly_rate is None or not terms.surcharge
            else (surcharge_hours * terms.hourly_rate * terms.surcharge).quantize(
                Decimal("0.01"))
        ),
        bookings=bookings, credit_cap_months=terms.credit_cap_months,
        surcharge=terms.surcharge,
    )


def build_ledger(
    customer: str,
    months: Sequence[str],
    terms_for: Mapping[str, MonthTerms],
    bookings: Iterable[Booking],
    adjustments: Mapping[str, tuple[Adjustment, ...]] | None = None,
    opening_credit: Decimal = ZERO,
) -> Ledger:
    """Statements for consecutive `months`, credit flowing from each into the next.

    `adjustments[month]` are changes to closed months reported in `month`'s statement;
    they count as used hours of that month. `opening_credit` is the credit carried into
    the first month (the balance from before the ledger starts; nothing else is assumed
    about earlier months).
    """
    adjustments = adjustments or {}
    hours: dict[str, Decimal] = {}
    surcharge: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    wanted = set(months)
    for booking in bookings:
        month = month_of(booking.day)
        if booking.customer != customer or month not in wanted:
            continue
        hours[month] = hours.get(month, ZERO) + booking.hours
        counts[month] = counts.get(month, 0) + 1
        if booking.current_sprint and booking.incident_class in terms_for[month].surcharged_classes:
            surcharge[month] = surcharge.get(month, ZERO) + booking.hours
    statements: list[Statement] = []
    credit = opening_credit
    for month in months:
        terms = terms_for[month]
        extra = adjustments.get(month, ())
        used = hours.get(month, ZERO) + sum((a.hours for a in extra), ZERO)
        statement = settle_month(
            customer, month, terms, used,
            surcharge.get(month, ZERO) if terms.surcharge else ZERO,
            credit, extra, counts.get(month, 0),
        )
        statements.append(statement)
        credit = statement.credit_out
    return Ledger(tuple(statements))
