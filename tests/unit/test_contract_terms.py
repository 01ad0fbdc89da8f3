"""Every row of contract-terms.md, as the shipped configuration reproduces it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from slabridge.config.loader import Config
from slabridge.domain.model import Handling
from slabridge.domain.sla import SlaPolicy
from tests.conftest import vienna
from tests.domain_values import TIERS

HOURS = timedelta(hours=1)

# tier, class, target as written, service hours, handling (contract-terms.md section 3)
TABLE = [
    ("standard", "critical", "8h", 8, Handling.CURRENT_SPRINT),
    ("standard", "minor", None, None, Handling.NEXT_SPRINT),
    ("standard", "trivial", None, None, Handling.NEXT_SPRINT),
    ("advanced", "critical", "4h", 4, Handling.FASTLANE),
    ("advanced", "minor", "3d", 21, Handling.JOINT_PLANNING),
    ("advanced", "trivial", None, None, Handling.NEXT_SPRINT),
    ("premium", "critical", "2h", 2, Handling.FASTLANE),
    ("premium", "minor", "1.5d", 15, Handling.JOINT_PLANNING),
    ("premium", "trivial", "3d", 30, Handling.JOINT_PLANNING),
]


@pytest.mark.parametrize(("tier", "incident_class", "written", "hours", "handling"), TABLE)
def test_targets_and_handling(
    shipped: Config, tier: str, incident_class: str, written: str | None,
    hours: int | None, handling: Handling,
) -> None:
    """Each tier x class cell has the sheet's response time and handling."""
    terms = shipped.tier(tier).classes[incident_class]
    assert (None if terms.response is None else str(terms.response)) == written
    expected = None if hours is None else hours * HOURS
    assert shipped.tier(tier).response_target(incident_class) == expected
    assert terms.handling == handling


# Received Friday 2026-11-20 14:00 in Vienna, an ordinary week.
DUE_FROM_FRIDAY = [
    ("standard", "critical", vienna(2026, 11, 23, 15)),   # 2h Fri + 6h Mon
    ("standard", "minor", None),
    ("standard", "trivial", None),
    ("advanced", "critical", vienna(2026, 11, 23, 11)),   # 2h Fri + 2h Mon
    ("advanced", "minor", vienna(2026, 11, 25, 14)),      # 2h + 7h + 7h + 5h
    ("advanced", "trivial", None),
    ("premium", "critical", vienna(2026, 11, 20, 16)),    # same afternoon
    ("premium", "minor", vienna(2026, 11, 24, 9)),        # 4h + 10h + 1h
    ("premium", "trivial", vienna(2026, 11, 25, 14)),     # 4h + 10h + 10h + 6h
]


@pytest.mark.parametrize(("tier", "incident_class", "expected"), DUE_FROM_FRIDAY)
def test_due_from_friday_afternoon(
    shipped: Config, tier: str, incident_class: str, expected: datetime | None
) -> None:
    """Friday 14:00 to the due time, across the weekend, for every cell."""
    assert shipped.response_due(tier, incident_class, vienna(2026, 11, 20, 14)) == expected


def test_service_windows(shipped: Config) -> None:
    """Standard and Advanced serve 09:00-16:00, Premium 08:00-18:00, Monday to Friday."""
    office = shipped.tier("standard").calendar
    assert shipped.tier("advanced").calendar.weekly == office.weekly
    assert [str(w) for w in office.weekly[0]] == ["09:00-16:00"]
    assert [str(w) for w in shipped.tier("premium").calendar.weekly[4]] == ["08:00-18:00"]
    assert office.weekly[5] == () and office.weekly[6] == ()


def test_only_standard_observes_closures(shipped: Config) -> None:
    """Company holidays pause the Standard level only."""
    observing = {name for name, tier in shipped.tiers.items() if tier.observes_closures}
    assert observing == {"standard"}


def test_intake(shipped: Config) -> None:
    """Premium takes incidents by phone as well as by ticket."""
    assert shipped.tier("standard").intake == ("ticket",)
    assert shipped.tier("advanced").intake == ("ticket",)
    assert shipped.tier("premium").intake == ("ticket", "phone")


def test_maintenance_included(shipped: Config) -> None:
    """Standard has no maintenance contract; Advanced and Premium include it."""
    assert [shipped.tier(t).maintenance_included for t in ("standard", "advanced", "premium")] == [
        False, True, True,
    ]


def test_billing_standard(shipped: Config) -> None:
    """Standard: hourly rate, +20 % for critical fixes in the current sprint, no credit."""
    billing = shipped.tier("standard").billing
    assert billing.model == "hourly"
    assert billing.critical_current_sprint_surcharge == Decimal("0.20")
    assert billing.credit_cap_months == 0
    assert billing.price_increase is None


@pytest.mark.parametrize(
    ("tier", "model", "fee_due", "extra_work_due"),
    [
        ("advanced", "monthly_flat", "last_working_day_of_previous_month", "none"),
        ("premium", "premium_flat", "start_of_month", "last_working_day_of_month"),
    ],
)
def test_billing_flat_tiers(
    shipped: Config, tier: str, model: str, fee_due: str, extra_work_due: str
) -> None:
    """Flat tiers: included hours, credit capped at 3 months, fee rules of section 4."""
    billing = shipped.tier(tier).billing
    assert billing.model == model
    assert billing.included_hours is True
    assert billing.extra_hours == "fixed_rate"
    assert billing.critical_current_sprint_surcharge == 0
    assert billing.credit_cap_months == 3
    assert billing.fee_due == fee_due
    assert billing.extra_work_due == extra_work_due
    assert billing.fee_adjustment == "last_month_of_quarter"
    assert billing.price_increase is not None
    assert billing.price_increase.max_increase == Decimal("0.20")
    assert billing.price_increase.lookback_months == 12
    assert billing.price_increase.notice_months == 3
    assert billing.price_increase.customer_cancel_notice_months == 1
    assert billing.travel_and_expenses == "billed_separately"


def test_classes_from_the_sheet(shipped: Config) -> None:
    """The three incident classes with the sheet's examples."""
    classes = shipped.settings.classes
    assert list(classes) == ["critical", "minor", "trivial"]
    assert "webshop payment impossible" in classes["critical"].examples
    assert "some products not shown on the website" in classes["minor"].examples
    assert "missing Google Analytics tracking" in classes["trivial"].examples


def test_default_tier_is_standard(shipped: Config) -> None:
    """Customers without a maintenance contract get the Standard level."""
    assert shipped.tier_for(None, vienna(2026, 1, 1).date()).name == "standard"


def test_the_domain_tests_plain_tiers_and_policy_are_the_shipped_ones(shipped: Config) -> None:
    """tests/domain_values.py writes the tiers and the SLA policy out as plain values: they
    must stay the shipped terms, so the domain tests speak of the product's contracts."""
    for name, plain in TIERS.items():
        terms = shipped.tier(name)
        assert (plain.label, dict(plain.classes)) == (terms.label, dict(terms.classes))
        assert plain.calendar.weekly == terms.calendar.weekly
        assert plain.calendar.service_day_us == terms.calendar.service_day_us
        assert (plain.billing.critical_current_sprint_surcharge
                == terms.billing.critical_current_sprint_surcharge)
    assert set(TIERS) == set(shipped.tiers)
    assert shipped.policy == SlaPolicy()
