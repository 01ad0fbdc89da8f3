"""The contract sheet's rules for changing a flat fee and raising prices (section 4)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from slabridge.domain.contracts import PriceIncreaseTerms
from slabridge.domain.hours import month_start
from slabridge.domain.values import value


@value
class FeeChange:
    """What the change rules look at of one of a customer's contracts."""

    start: date
    monthly_fee: Decimal | None
    included_hours: Decimal | None
    agreed: date | None = None
    """when a flat-fee adjustment was agreed"""
    announced: date | None = None
    """the date of the written notice of a price increase"""


@value
class ChangeProblem:
    """A contract change that breaks the rules: which contract, which of its terms, why."""

    index: int
    """the contract's position in the sequence given"""
    term: str | None
    """"from", "agreed", "monthly_fee", or None for the contract as a whole"""
    message: str


def change_problems(
    contracts: Sequence[FeeChange], flat_fee: bool, quarterly_adjustment: bool,
    increase: PriceIncreaseTerms | None,
) -> list[ChangeProblem]:
    """Every change between a customer's consecutive contracts (by start) that breaks the
    rules of a flat-fee tier: an adjustment takes effect at a quarter's start and is agreed
    in the quarter's last month before it; a price increase is at most `max_increase` over
    the fees of the preceding `lookback_months`, announced in writing, and takes effect
    `notice_months` after the end of the month of notice at the earliest."""
    if not flat_fee:
        return []
    problems: list[ChangeProblem] = []
    ordered = sorted(enumerate(contracts), key=lambda pair: pair[1].start)
    for (_, before), (index, after) in itertools.pairwise(ordered):
        changed = (before.monthly_fee != after.monthly_fee
                   or before.included_hours != after.included_hours)
        if changed and quarterly_adjustment:
            if after.start.day != 1 or after.start.month not in (1, 4, 7, 10):
                problems.append(ChangeProblem(
                    index, "from", "a flat-fee change takes effect at the start of a quarter "
                    "(agreed in the quarter's last month)"))
            elif after.agreed is not None and month_start(after.agreed, 1) != after.start:
                problems.append(ChangeProblem(
                    index, "agreed", "a flat-fee change must be agreed in the last month of "
                    "the quarter before it"))
        old_fee, new_fee = before.monthly_fee, after.monthly_fee
        if increase is None or old_fee is None or new_fee is None or new_fee <= old_fee:
            continue
        window = [c.monthly_fee for _, c in ordered
                  if c.monthly_fee is not None and c.start < after.start
                  and c.start >= month_start(after.start, -increase.lookback_months)]
        reference = max([*window, old_fee])
        if new_fee > reference * (1 + increase.max_increase):
            problems.append(ChangeProblem(
                index, "monthly_fee",
                f"price increase {new_fee} is more than {increase.max_increase:.0%} over "
                f"the fees of the preceding {increase.lookback_months} months ({reference})"))
        if after.announced is None:
            problems.append(ChangeProblem(
                index, None, "a price increase needs `announced`: the date of the written "
                "notice"))
        elif after.start < month_start(after.announced, increase.notice_months + 1):
            problems.append(ChangeProblem(
                index, "from",
                f"a price increase takes effect at the earliest {increase.notice_months} "
                f"months after the end of the month of notice "
                f"({month_start(after.announced, increase.notice_months + 1)})"))
    return problems
