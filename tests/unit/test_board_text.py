"""The terminal board: a met issue shows no countdown; long names keep the columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.cli.main import run
from slabridge.domain.model import IssueRecord, Journal, StatusChange
from tests.conftest import vienna
from tests.domain_values import ticket

EXAMPLE = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"
URL = "http://127.0.0.1:1"


def test_met_issue_has_no_time_left_and_columns_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDMINE_URL", URL)
    monkeypatch.setenv("REDMINE_API_KEY", "k" * 40)
    path = tmp_path / "slabridge.yaml"
    path.write_text(f"include: [{EXAMPLE}]\nstate: {{path: {tmp_path / 's.sqlite3'}}}\n",
                    encoding="utf-8")
    store = SqliteStateStore(tmp_path / "s.sqlite3")
    answered = Journal("New", (StatusChange(vienna(2026, 11, 23, 10), "New", "In Progress"),))
    store.put_many(URL, [
        IssueRecord(ticket(key="1"), answered, accepted_at=vienna(2026, 11, 23, 10)),
        IssueRecord(ticket(key="22", subject="Still waiting")),
    ])
    store.close()
    assert run(["--config", str(path), "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    met = next(line for line in lines if line.lstrip().startswith("#1 "))
    waiting = next(line for line in lines if line.lstrip().startswith("#22 "))
    assert met.split()[1] == "met" and met.split()[5] == "-"
    assert waiting.split()[1] == "breached"
    # The same columns line up whatever the values' lengths.
    assert met.index("acme") == waiting.index("acme") == lines[0].index("customer")
