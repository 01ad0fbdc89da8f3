"""The sheet's fee-change and price-increase rules as pure domain code, on plain values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from slabridge.domain.contracts import PriceIncreaseTerms
from slabridge.domain.pricing import FeeChange, change_problems

RISE = PriceIncreaseTerms(Decimal("0.05"), lookback_months=12, notice_months=3,
                          customer_cancel_notice_months=1)


def test_a_change_mid_quarter_and_an_unannounced_big_rise_are_problems() -> None:
    contracts = [FeeChange(date(2026, 5, 1), Decimal(1200), Decimal(10)),  # given late
                 FeeChange(date(2026, 1, 1), Decimal(1000), Decimal(10))]
    found = change_problems(contracts, True, True, RISE)
    assert [(p.index, p.term) for p in found] == [(0, "from"), (0, "monthly_fee"), (0, None)]
    assert "more than 5% over the fees of the preceding 12 months (1000)" in found[1].message


def test_an_announced_small_rise_at_a_quarter_start_passes_and_hourly_has_no_rules() -> None:
    contracts = [FeeChange(date(2026, 1, 1), Decimal(1000), Decimal(10)),
                 FeeChange(date(2026, 7, 1), Decimal(1040), Decimal(10),
                           agreed=date(2026, 6, 10), announced=date(2026, 3, 2))]
    assert change_problems(contracts, True, True, RISE) == []
    assert change_problems(contracts[::-1], False, True, RISE) == []
    early = [contracts[0], FeeChange(date(2026, 7, 1), Decimal(1040), Decimal(10),
                                     announced=date(2026, 5, 2))]
    (problem,) = change_problems(early, True, True, RISE)
    assert (problem.index, problem.term) == (1, "from")
    assert "(2026-09-01)" in problem.message
