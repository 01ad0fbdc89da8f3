"""Value classes: mypy keeps them frozen; at run time they compare and hash as frozen ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from mypy import api as mypy_api

from slabridge.domain.model import ClassChange, Ticket, TicketFacts

MADE = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_mypy_rejects_assigning_to_a_field(tmp_path: Path) -> None:
    # The run-time classes skip the frozen __setattr__ for speed (slabridge.domain.values);
    # immutability is enforced where the code is checked, by mypy --strict in CI.
    snippet = tmp_path / "assign.py"
    snippet.write_text(
        "from slabridge.domain.model import IssueRecord, Ticket\n"
        "def f(ticket: Ticket, record: IssueRecord) -> None:\n"
        "    ticket.key = 'other'\n"
        "    record.done_keys = frozenset()\n",
        encoding="utf-8",
    )
    out, _, status = mypy_api.run(["--strict", "--no-incremental", str(snippet)])
    assert status == 1
    errors = [line for line in out.splitlines() if "read-only" in line]
    assert [line.split(":")[1] for line in errors] == ["3", "4"], out


def test_values_compare_and_hash_as_frozen_dataclasses() -> None:
    first = Ticket("1", TicketFacts("p"), "s", MADE, MADE, "New", False, "r")
    assert first == Ticket("1", TicketFacts("p"), "s", MADE, MADE, "New", False, "r")
    assert first != Ticket("2", TicketFacts("p"), "s", MADE, MADE, "New", False, "r")
    assert {ClassChange(MADE, "minor"): 1}[ClassChange(MADE, "minor")] == 1
    with pytest.raises(TypeError, match="unhashable"):
        hash(first)  # holds a dict, as it did as a frozen dataclass
    assert not hasattr(first, "__dict__")  # slotted, as before
