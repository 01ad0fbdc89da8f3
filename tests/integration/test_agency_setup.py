"""A real agency's Redmine: customers report, staff answer, slabridge has its own account.

Each test here is a bug that only showed once slabridge ran as its own non-admin service
account next to customers and staff (see tests/integration/redmine_helpers.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin

pytestmark = pytest.mark.redmine


def cli(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), *args],
        capture_output=True, text=True, env=workspace.env, timeout=600, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_own_note_is_not_the_reply_on_the_board_or_in_statements(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """After one cycle an unanswered critical issue is not `met` on the board, in explain
    or in the month's compliance: slabridge's own note is no reply."""
    issue = admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    ok(cli(workspace, "sync", "--once"))
    assert admin.notes(issue), "the classification note was written"
    ok(cli(workspace, "sync", "--once"))  # reads the journal with slabridge's note in it

    rows = json.loads(ok(cli(workspace, "status", "--json")))
    assert [r["status"] for r in rows if r["issue"] == str(issue)] != ["met"]
    assert [r["issue"] for r in rows] == [str(issue)]
    explained = json.loads(ok(cli(workspace, "explain", str(issue), "--json")))
    assert explained["sla_status"] != "met"
    assert explained["acceptance"] is None

    month = datetime.now(UTC).strftime("%Y-%m")
    statements = json.loads(ok(cli(workspace, "hours", "--month", month, "--customer", "acme",
                                   "--format", "json", "--offline")))
    assert statements[0]["sla"]["critical"]["received"] == 1
    assert statements[0]["sla"]["critical"]["in_time"] == 0

    admin.answer(issue, "We are on it.")
    ok(cli(workspace, "sync", "--once"))
    rows = json.loads(ok(cli(workspace, "status", "--json")))
    assert [r["status"] for r in rows if r["issue"] == str(issue)] == ["met"]
