"""A resolution metric configured only in YAML, against the real Redmine: resolved in time
meets it, resolved late breaches it; each noted once, written to its fields, and counted
in the month's compliance."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin
from tests.integration.running import cli, ok, with_fields

pytestmark = pytest.mark.redmine

RESOLUTION = """sla:
  metrics:
    resolution:
      stop_statuses: [Resolved, Closed]
tiers:
  advanced:
    classes:
      critical: {resolution: 2d}
"""


def test_resolution_in_time_and_late_noted_once_and_counted(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    with_fields(workspace, "    metrics:\n      resolution: {due: SLA resolution due, "
                           "status: SLA resolution status}\n")
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + RESOLUTION, encoding="utf-8")
    acme = workspace.projects["acme"]
    in_time = admin.make_issue(acme, "Checkout broken", priority="Urgent")
    late = admin.make_issue(acme, "Invoices wrong", priority="Urgent",
                            Incident_received="2026-11-02T09:00:00+01:00")
    for issue in (in_time, late):
        admin.set_status(issue, "Resolved")
    ok(cli(workspace, "sync", "--once"))

    assert admin.field(in_time, "SLA resolution status") == "met"
    assert admin.field(late, "SLA resolution status") == "breached"
    # Two Advanced service days from Monday 2 November 09:00: Tuesday 16:00 in Vienna.
    assert admin.field(late, "SLA resolution due") == "2026-11-03T15:00:00Z"
    assert [n for n in admin.notes(in_time) if "*SLA resolution met:*" in n] != []
    assert [n for n in admin.notes(late) if "*SLA resolution breached:*" in n] != []
    journals = (admin.journal_count(in_time), admin.journal_count(late))
    ok(cli(workspace, "sync", "--once", "--full"))
    assert (admin.journal_count(in_time), admin.journal_count(late)) == journals

    def resolution(month: str) -> dict[str, int]:
        statements = json.loads(ok(cli(workspace, "hours", "--month", month, "--customer",
                                       "acme", "--format", "json", "--offline")))
        counts: dict[str, int] = statements[0]["sla_metrics"]["resolution"]["critical"]
        return counts

    assert resolution("2026-11") == {"received": 1, "in_time": 0, "breached": 1}
    now = datetime.now(UTC).strftime("%Y-%m")
    assert resolution(now) == {"received": 1, "in_time": 1, "breached": 0}
    rows = json.loads(ok(cli(workspace, "status", "--json")))
    assert {r["issue"]: r["metrics"]["resolution"]["status"] for r in rows} == {
        str(in_time): "met", str(late): "breached"}
