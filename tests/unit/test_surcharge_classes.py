"""Which hours carry the current-sprint surcharge comes from the tier's terms (the classes
it handles in the current sprint), not from a class named 'critical'."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from slabridge.app.hours import HoursService
from slabridge.config.loader import load_config
from slabridge.domain.hours import build_ledger
from tests.domain_values import HOURLY, book
from tests.fakes import FakeTracker, memory_store

EXAMPLE = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"


def test_only_the_named_classes_in_the_sprint_are_surcharged() -> None:
    terms = replace(HOURLY, surcharged_classes=frozenset({"minor"}))
    (statement,) = build_ledger("acme", ["2026-03"], {"2026-03": terms}, [
        book("2026-03", "2", 1, "minor", sprint=True),
        book("2026-03", "3", 2, "critical", sprint=True),
        book("2026-03", "1", 3, "minor", sprint=False),
    ]).statements
    assert statement.surcharge_hours == 2
    assert statement.surcharge_amount == Decimal("48.00")  # 2 h x 120 x 20 %


def test_the_statement_takes_the_classes_from_the_tier(tmp_path: Path) -> None:
    """Shipped terms: Standard handles critical in the current sprint; a configuration
    that handles minor there too surcharges both; Advanced (Fastlane) surcharges none."""
    path = tmp_path / "c.yaml"

    def classes(customer: str, extra: str = "") -> frozenset[str]:
        path.write_text(f"include: [{EXAMPLE}]\n{extra}", encoding="utf-8")
        config = load_config(path)
        service = HoursService(FakeTracker(), memory_store(), config)
        terms = service._terms(customer, "2026-11")
        assert terms is not None
        return terms.surcharged_classes

    assert classes("initech") == {"critical"}
    assert classes("acme") == frozenset()
    assert classes("initech", "tiers:\n  standard:\n    classes:\n"
                              "      minor: {handling: current_sprint}\n") == {"critical", "minor"}
