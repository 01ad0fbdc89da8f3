"""The hour ledger: carry-over with its cap, lapsed credit, billable excess, surcharges."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slabridge.config.loader import load_config
from slabridge.domain.hours import (
    Booking,
    MonthTerms,
    build_ledger,
    month_start,
    months_between,
    shift_month,
)
from slabridge.errors import ConfigError
from tests.domain_values import HOURLY, book

FLAT = MonthTerms(tier="advanced", model="monthly_flat", included=Decimal(10),
                  credit_cap_months=3, surcharge=Decimal(0), extra_hourly_rate=Decimal(95),
                  monthly_fee=Decimal(950))


def test_unused_hours_carry_over() -> None:
    """4 of 10 hours used: 6 credited to the next month."""
    ledger = build_ledger("acme", ["2026-01", "2026-02"], {"2026-01": FLAT, "2026-02": FLAT},
                          [book("2026-01", "4"), book("2026-02", "12")])
    january, february = ledger.statements
    d = Decimal
    assert (january.credit_out, january.lapsed, january.billable_hours) == (d(6), d(0), d(0))
    assert (february.credit_in, february.used, february.credit_out) == (d(6), d(12), d(4))


def test_credit_beyond_three_months_lapses() -> None:
    """Unused for five months: credit stops at 30 h, the rest is shown as lapsed."""
    months = months_between("2026-01", "2026-05")
    ledger = build_ledger("acme", months, dict.fromkeys(months, FLAT), [])
    assert [s.credit_out for s in ledger.statements] == [10, 20, 30, 30, 30]
    assert [s.lapsed for s in ledger.statements] == [0, 0, 0, 10, 10]


def test_hours_beyond_available_are_billable_with_amount() -> None:
    """14 h of 10 included: 4 billable at 95."""
    (statement,) = build_ledger("acme", ["2026-03"], {"2026-03": FLAT},
                                [book("2026-03", "14")]).statements
    assert statement.billable_hours == 4
    assert statement.extra_amount == Decimal("380.00")
    assert statement.fee == 950


def test_standard_bills_every_hour_and_surcharges_critical_sprint_work() -> None:
    """Standard: all 5 h billable; 2 h critical in the current sprint carry +20 %."""
    (statement,) = build_ledger("acme", ["2026-03"], {"2026-03": HOURLY}, [
        book("2026-03", "3", 1), book("2026-03", "2", 2, "critical", sprint=True),
        book("2026-03", "1", 3, "critical", sprint=False),
    ]).statements
    assert statement.used == 6 and statement.billable_hours == 6
    assert statement.surcharge_hours == 2
    assert statement.extra_amount == Decimal("720.00")
    assert statement.surcharge_amount == Decimal("48.00")
    assert statement.credit_out == 0


hours = st.decimals(min_value=0, max_value=80, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(hours, min_size=1, max_size=18),
       st.decimals(min_value=0, max_value=40, places=1), st.integers(min_value=0, max_value=6))
def test_ledger_invariants(used: list[Decimal], included: Decimal, cap_months: int) -> None:
    """Credit never exceeds the cap; available + billed = used + credited onward + lapsed;
    billed hours are exactly the excess."""
    months = months_between("2025-01", "2030-12")[: len(used)]
    terms = MonthTerms(tier="advanced", model="monthly_flat", included=included,
                       credit_cap_months=cap_months, surcharge=Decimal(0))
    bookings = [Booking(m, "acme", date(int(m[:4]), int(m[5:]), 1), u)
                for m, u in zip(months, used, strict=True)]
    ledger = build_ledger("acme", months, dict.fromkeys(months, terms), bookings)
    previous = Decimal(0)
    for statement in ledger.statements:
        assert statement.credit_in == previous
        assert statement.credit_out <= included * cap_months
        assert statement.available + statement.billable_hours == (
            statement.used + statement.credit_out + statement.lapsed
        )
        assert statement.billable_hours == max(Decimal(0), statement.used - statement.available)
        assert min(statement.credit_out, statement.lapsed, statement.billable_hours) >= 0
        previous = statement.credit_out


def write(tmp_path: Path, contracts: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"customers:\n  acme:\n    contracts:\n{contracts}", encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_flat_fee_change_outside_quarter_start_rejected(tmp_path: Path) -> None:
    """A new flat fee takes effect at a quarter's start only."""
    path = write(tmp_path,
                 "      - {tier: advanced, from: 2026-01-01, monthly_fee: 900}\n"
                 "      - {tier: advanced, from: 2026-05-01, monthly_fee: 800}\n")
    assert problems(path) == [
        f"{path}:5: at customers.acme.contracts[1].from: a flat-fee change takes effect at "
        "the start of a quarter (agreed in the quarter's last month)"
    ]


def test_price_rise_above_20_percent_rejected(tmp_path: Path) -> None:
    """At most +20 % over the fees of the preceding 12 months."""
    path = write(tmp_path,
                 "      - {tier: advanced, from: 2026-01-01, monthly_fee: 1000}\n"
                 "      - {tier: advanced, from: 2026-07-01, monthly_fee: 1250,"
                 " announced: 2026-03-10}\n")
    assert problems(path) == [
        f"{path}:5: at customers.acme.contracts[1].monthly_fee: price increase 1250 is more "
        "than 20% over the fees of the preceding 12 months (1000)"
    ]


def test_price_rise_needs_three_months_notice(tmp_path: Path) -> None:
    """Notice in May: effective on 1 September at the earliest."""
    path = write(tmp_path,
                 "      - {tier: advanced, from: 2026-01-01, monthly_fee: 1000}\n"
                 "      - {tier: advanced, from: 2026-07-01, monthly_fee: 1100,"
                 " announced: 2026-05-20}\n")
    assert problems(path) == [
        f"{path}:5: at customers.acme.contracts[1].from: a price increase takes effect at the "
        "earliest 3 months after the end of the month of notice (2026-09-01)"
    ]


def test_valid_price_rise_accepted(tmp_path: Path) -> None:
    """+10 %, announced in March, from July (a quarter start)."""
    path = write(tmp_path,
                 "      - {tier: advanced, from: 2026-01-01, monthly_fee: 1000}\n"
                 "      - {tier: advanced, from: 2026-07-01, monthly_fee: 1100,"
                 " announced: 2026-03-10, agreed: 2026-06-15}\n")
    assert load_config(path).customer("acme").contracts[1].monthly_fee == 1100


def test_month_arithmetic_across_years() -> None:
    """One helper for months: forward and back across New Year, from a day or a month."""
    assert month_start(date(2026, 11, 23), 2) == date(2027, 1, 1)
    assert month_start(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert month_start(date(2026, 3, 15)) == date(2026, 3, 1)
    assert [shift_month("2026-12", n) for n in (-12, -1, 1, 13)] == [
        "2025-12", "2026-11", "2027-01", "2028-01"]
