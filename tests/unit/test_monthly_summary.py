"""The monthly hour summary: first working day of the month, once."""

from __future__ import annotations

from datetime import date

from slabridge.app.hours import first_working_day, previous_month
from slabridge.config.loader import load_config


def test_first_working_day_skips_holidays_and_weekends() -> None:
    """January 2027: the company is closed until 7 January (Christmas closure, on the default
    Standard calendar): Friday 8 January. 1 Nov 2026 is a Sunday and a holiday: Monday 2."""
    config = load_config(None)
    assert first_working_day(config, "2027-01") == date(2027, 1, 8)
    assert first_working_day(config, "2026-11") == date(2026, 11, 2)
    assert first_working_day(config, "2026-12") == date(2026, 12, 1)


def test_previous_month() -> None:
    """Across the year boundary too."""
    assert previous_month("2027-01") == "2026-12"
    assert previous_month("2026-11") == "2026-10"
