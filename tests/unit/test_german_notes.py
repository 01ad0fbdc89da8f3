"""Notes in German say everything in German: the tier's name, the acceptance, the
emergency-ticket line (English tier labels and awkward phrases were left in them)."""

from __future__ import annotations

from pathlib import Path

from slabridge.domain.model import Journal, StatusChange
from slabridge.domain.plan import Context, decide
from tests.conftest import vienna
from tests.domain_values import ticket
from tests.fakes import example_config


def test_classified_met_and_emergency_lines_are_german(tmp_path: Path) -> None:
    rules = example_config(tmp_path, "notes: {language: de}\n").rules()
    answered = Journal("New", (StatusChange(vienna(2026, 11, 23, 10), "New", "In Progress"),))
    met = decide(ticket(), answered, None, rules, vienna(2026, 11, 23, 11)).update
    assert met is not None and met.note is not None
    assert "Advanced (Wartung und Service)" in met.note
    assert "Reaktion am 2026-11-23 10:00 CET (Status geändert auf In Progress)" in met.note
    saturday = ticket(project="globex", received=vienna(2026, 11, 21, 10))
    first = decide(saturday, None, None, rules, vienna(2026, 11, 21, 11),
                   Context(emergency=(2, 3))).update
    assert first is not None
    assert ("Notfallticket 2 von 3, die der Vertrag in diesem Monat enthält (außerhalb der "
            "Servicezeiten eingegangen).") in (first.note or "")
    over = decide(saturday, None, None, rules, vienna(2026, 11, 21, 11),
                  Context(emergency=(4, 3))).update
    assert over is not None
    assert "*mehr* als die 3 Notfalltickets, die der Vertrag enthält" in (over.note or "")
