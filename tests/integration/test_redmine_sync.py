"""Sync cycles against the real local Redmine: classification, write-back, idempotence, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slabridge.app.sync import Syncer
from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import IssueError
from tests.integration.conftest import RedmineServer, Workspace
from tests.integration.redmine_helpers import RedmineAdmin

pytestmark = pytest.mark.redmine


def syncer(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Syncer:
    for name in ("REDMINE_URL", "REDMINE_API_KEY"):
        monkeypatch.setenv(name, workspace.env[name])
    return build_syncer(load_config(workspace.config_path))


def cli(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), *args],
        capture_output=True, text=True, env=workspace.env, timeout=600, check=False,
    )


def created(admin: RedmineAdmin, issue: int) -> datetime:
    return datetime.fromisoformat(admin.raw(issue)["created_on"])


def updated(admin: RedmineAdmin, issue: int) -> datetime:
    return datetime.fromisoformat(admin.raw(issue)["updated_on"])


def test_classification_and_write_back(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Classified issues get the four fields and one note; unclassified ones are untouched."""
    acme = workspace.projects["acme"]
    critical = admin.make_issue(acme, "Checkout broken", priority="Urgent")
    minor = admin.make_issue(acme, "Wrong price shown", priority="High")
    trivial = admin.make_issue(acme, "Typo in footer", priority="Low", tracker="Feature")
    internal = admin.make_issue(workspace.projects["internal"], "Internal task", priority="Urgent")

    report = syncer(workspace, monkeypatch).cycle(datetime.now(UTC))

    assert (report.seen, report.classified, report.unclassified, report.errors) == (4, 3, 1, 0)
    config = load_config(workspace.config_path)
    due = config.response_due("advanced", "critical", created(admin, critical))
    assert due is not None
    assert admin.field(critical, "SLA response due") == due.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert admin.field(critical, "SLA response due date") == due.date().isoformat()
    assert admin.field(critical, "SLA class") == "critical"
    assert admin.field(critical, "SLA status") in ("running", "at_risk")
    assert admin.field(minor, "SLA class") == "minor"
    assert admin.field(trivial, "SLA status") == "no_target"
    assert admin.field(trivial, "SLA response due") == ""
    (note,) = admin.notes(critical)
    assert note.endswith("[slabridge classified:acme:critical]")
    assert "for Acme Webshop GmbH, Advanced (Maintenance and Service)" in note
    assert len(admin.notes(trivial)) == 1
    assert admin.journal_count(internal) == 0
    assert admin.field(internal, "SLA class") == ""


def test_second_cycle_writes_nothing(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-running a cycle changes nothing in the tracker."""
    issue = admin.make_issue(workspace.projects["acme"], "Outage", priority="Immediate")
    sync = syncer(workspace, monkeypatch)
    first = sync.cycle(datetime.now(UTC))
    journals = admin.journal_count(issue)
    second = sync.cycle(datetime.now(UTC))
    # Past the second of the last change and a margin (Redmine's times have whole seconds):
    # until then each cycle reads the journal again, in case a change came within it.
    time.sleep(max(0.0, 2.1 - (datetime.now(UTC) - updated(admin, issue)).total_seconds()))
    third = sync.cycle(datetime.now(UTC))
    fourth = sync.cycle(datetime.now(UTC))
    assert first.writes == 1
    assert (second.writes, third.writes, fourth.writes) == (0, 0, 0)
    assert admin.journal_count(issue) == journals == 1
    assert fourth.requests <= 2


def test_dry_run_writes_nothing(workspace: Workspace, admin: RedmineAdmin) -> None:
    """--dry-run prints the planned writes; no journal appears and no state is kept."""
    issue = admin.make_issue(workspace.projects["acme"], "Payment down", priority="Urgent")
    result = cli(workspace, "sync", "--once", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    (planned,) = report["planned"]
    assert planned["issue"] == str(issue)
    assert planned["fields"]["sla_class"] == "critical"
    assert planned["note_keys"] == ["classified:acme:critical"]
    assert admin.journal_count(issue) == 0
    assert admin.field(issue, "SLA class") == ""
    again = json.loads(cli(workspace, "sync", "--once", "--dry-run", "--json").stdout)
    assert again["mode"] == "full"  # no watermark was stored


def test_bad_api_key(workspace: Workspace) -> None:
    """A wrong key stops the run with one clear line and exit code 1."""
    workspace.env["REDMINE_API_KEY"] = "0" * 40
    result = cli(workspace, "sync", "--once")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"slabridge: error: Redmine at {workspace.env['REDMINE_URL']} rejected the API key "
        "(HTTP 401): check REDMINE_API_KEY"
    )
    assert "0" * 40 not in result.stderr + result.stdout
    # The message names the variable the config reads the key from, whatever it is called.
    workspace.config_path.write_text(workspace.config_path.read_text(encoding="utf-8").replace(
        "${REDMINE_API_KEY}", "${ACME_REDMINE_KEY}"), encoding="utf-8")
    workspace.env["ACME_REDMINE_KEY"] = "1" * 40
    renamed = cli(workspace, "sync", "--once")
    assert renamed.returncode == 1
    assert renamed.stderr.strip().endswith("(HTTP 401): check ACME_REDMINE_KEY")


def test_issue_deleted_between_listing_and_writing(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 404 on one issue is reported and skipped; the others are written."""
    acme = workspace.projects["acme"]
    doomed = admin.make_issue(acme, "Will vanish", priority="Urgent")
    kept = admin.make_issue(acme, "Stays", priority="Urgent")
    sync = syncer(workspace, monkeypatch)
    real_prepare = sync.tracker.prepare_update

    def delete_before_sending(update: TicketUpdate) -> Callable[[], None]:
        send = real_prepare(update)  # decided and prepared while the issue still exists
        if update.ticket_key != str(doomed):
            return send

        def delete_then_send() -> None:
            admin.delete(doomed)
            send()

        return delete_then_send

    monkeypatch.setattr(sync.tracker, "prepare_update", delete_before_sending)
    report = sync.cycle(datetime.now(UTC))
    assert report.errors == 1
    assert [p for p in report.problems if p.startswith("issue #")] == [
        f"issue #{doomed}: not found (HTTP 404): deleted, or not visible to the API user"
    ]
    assert admin.field(kept, "SLA class") == "critical"
    assert len(admin.notes(kept)) == 1


def test_issue_moved_to_another_customers_project(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving an issue to Globex's project re-evaluates it on Premium, with one new note."""
    issue = admin.make_issue(workspace.projects["acme"], "Site down", priority="Urgent")
    sync = syncer(workspace, monkeypatch)
    sync.cycle(datetime.now(UTC))
    admin.move(issue, workspace.projects["globex"])
    report = sync.cycle(datetime.now(UTC))
    assert report.writes == 1
    config = load_config(workspace.config_path)
    due = config.response_due("premium", "critical", created(admin, issue))
    assert due is not None
    assert admin.field(issue, "SLA response due") == due.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    notes = admin.notes(issue)
    assert [n.splitlines()[-1] for n in notes] == [
        "[slabridge classified:acme:critical]", "[slabridge classified:globex:critical]",
    ]
    assert "Premium (All-around Care)" in notes[1]


def test_acceptance_by_status_change_is_met(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving the issue to In Progress before the due time meets the SLA, with one note."""
    issue = admin.make_issue(workspace.projects["globex"], "Import fails", priority="High")
    sync = syncer(workspace, monkeypatch)
    sync.cycle(datetime.now(UTC))
    admin.set_status(issue, "In Progress")
    sync.cycle(datetime.now(UTC))
    assert admin.field(issue, "SLA status") == "met"
    notes = admin.notes(issue)
    assert notes[-1].endswith("[slabridge globex:minor:met]")
    assert sync.cycle(datetime.now(UTC)).writes == 0


def test_paused_issue_is_not_rewritten_each_cycle(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An issue waiting for the customer gets 'paused' once, not a new due time per cycle."""
    with workspace.config_path.open("a", encoding="utf-8") as config:
        config.write("sla:\n  pause_statuses: [Feedback]\n"
                     "  acceptance: {statuses: [In Progress]}\n")
    issue = admin.make_issue(workspace.projects["globex"], "Which browser?", priority="High")
    sync = syncer(workspace, monkeypatch)
    sync.cycle(datetime.now(UTC))
    due_before = admin.field(issue, "SLA response due")
    admin.set_status(issue, "Feedback")
    paused = sync.cycle(datetime.now(UTC))
    assert (paused.writes, admin.field(issue, "SLA status")) == (1, "paused")
    assert admin.field(issue, "SLA response due") == due_before
    journals = admin.journal_count(issue)
    # Later cycles, past the same-second margin: the projected due time has moved on (in
    # service hours), the tracker is left alone.
    time.sleep(max(0.0, 2.1 - (datetime.now(UTC) - updated(admin, issue)).total_seconds()))
    later = [sync.cycle(datetime.now(UTC)).writes for _ in range(3)]
    assert later == [0, 0, 0]
    assert admin.journal_count(issue) == journals


def test_receipt_field_overrides_creation_time(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone call logged later counts from when it came in; explain says so."""
    received = "2026-11-20T14:00:00+01:00"
    issue = admin.make_issue(workspace.projects["globex"], "Called in: shop down",
                             priority="Urgent", Incident_received=received)
    sync = syncer(workspace, monkeypatch)
    sync.cycle(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    assert admin.field(issue, "SLA response due") == "2026-11-20T15:00:00Z"
    assert admin.field(issue, "SLA status") == "at_risk"
    result = cli(workspace, "explain", str(issue), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["received"] == "2026-11-20T14:00:00+01:00"
    assert data["received_from"] == "the receipt-time field"
    assert data["customer_rule"]["name"] == "Globex project"
    assert data["tier"] == "premium"


def test_unreadable_receipt_field_is_reported_once(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped phone receipt is not silently dropped: the cycle reports it (once), the
    creation time is used, and explain says why."""
    issue = admin.make_issue(workspace.projects["globex"], "Called in: login broken",
                             priority="Urgent", Incident_received="02.12.2026 10:00")
    sync = syncer(workspace, monkeypatch)
    first = sync.cycle(datetime.now(UTC))
    expected = (f"issue {issue}: Incident received '02.12.2026 10:00' is not a time (write "
                "e.g. 2026-11-23 09:30, local time, or with an offset): its creation time "
                "is used")
    assert expected in first.problems
    assert first.writes == 1
    admin.redmine.issue.update(issue, subject="Called in: login broken (customer X)")
    second = sync.cycle(datetime.now(UTC))
    assert second.evaluated == 1
    assert expected not in second.problems  # told once, not every cycle
    result = cli(workspace, "explain", str(issue), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["received"] == created(admin, issue).astimezone(
        datetime.fromisoformat(data["received"]).tzinfo).isoformat()
    assert data["received_from"] == (
        "the issue's creation time, since Incident received '02.12.2026 10:00' is not a "
        "time (write e.g. 2026-11-23 09:30, local time, or with an offset)")
    dry = json.loads(cli(workspace, "sync", "--once", "--dry-run", "--json").stdout)
    assert expected not in dry["problems"]  # as a real run: already told


def test_killed_mid_cycle_and_rerun(workspace: Workspace, admin: RedmineAdmin) -> None:
    """kill -9 during a cycle, run again: every issue annotated exactly once."""
    issues = [admin.make_issue(workspace.projects["acme"], f"Bug {n}", priority="Urgent")
              for n in range(25)]
    process = subprocess.Popen(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "sync",
         "--once", "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=workspace.env,
    )
    assert process.stderr is not None
    written = 0
    for line in process.stderr:
        if "issue_updated" in line:
            written += 1
            if written == 3:
                os.kill(process.pid, signal.SIGKILL)
                break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    annotated = sum(1 for issue in issues if admin.notes(issue))
    assert 3 <= annotated < len(issues), "the kill must land mid-cycle"
    result = cli(workspace, "sync", "--once")
    assert result.returncode == 0, result.stderr
    for issue in issues:
        notes = admin.notes(issue)
        assert len(notes) == 1, (issue, notes)
        assert admin.field(issue, "SLA class") == "critical"


def test_state_store_lost(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the state file gone, own notes and field values are recognised: no new writes."""
    issue = admin.make_issue(workspace.projects["acme"], "Data loss", priority="Urgent")
    syncer(workspace, monkeypatch).cycle(datetime.now(UTC))
    for leftover in workspace.config_path.parent.glob("state.sqlite3*"):
        leftover.unlink()
    report = syncer(workspace, monkeypatch).cycle(datetime.now(UTC))
    assert report.mode == "full"
    assert report.writes == 0
    assert len(admin.notes(issue)) == 1


def test_status_board_and_explain_text(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board lists open classified issues; explain names rule, tier and closed periods."""
    acme = workspace.projects["acme"]
    critical = admin.make_issue(acme, "Checkout broken", priority="Urgent")
    admin.make_issue(acme, "Typo", priority="Low")
    syncer(workspace, monkeypatch).cycle(datetime.now(UTC))
    board = json.loads(cli(workspace, "status", "--json").stdout)
    assert [row["issue"] for row in board][:1] == [str(critical)]
    assert {row["class"] for row in board} == {"critical", "trivial"}
    assert json.loads(cli(workspace, "status", "--customer", "globex", "--json").stdout) == []
    text = cli(workspace, "explain", f"#{critical}").stdout
    assert "Customer: acme (rule 'Acme project'" in text
    assert "Contract: tier advanced" in text
    assert "Received: " in text and "(from the issue's creation time)" in text


def test_issue_error_mapping_for_unknown_issue(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading an issue that does not exist is an IssueError naming it."""
    sync = syncer(workspace, monkeypatch)
    with pytest.raises(IssueError, match=r"issue #99999999: not found \(HTTP 404\)"):
        sync.tracker.journal("99999999")


def test_explain_unknown_issue_exit_1(workspace: Workspace) -> None:
    """explain on a missing issue is one line and exit 1."""
    result = cli(workspace, "explain", "99999999")
    assert result.returncode == 1
    assert result.stderr == ("slabridge: error: issue #99999999: not found (HTTP 404): "
                             "deleted, or not visible to the API user\n")
    wrong = cli(workspace, "explain", "ACME-7")  # a bad argument: exit 2, as the README says
    assert wrong.returncode == 2
    assert wrong.stderr == "slabridge: error: issue 'ACME-7': Redmine issue ids are numbers\n"


def test_cli_sync_summary(workspace: Workspace, admin: RedmineAdmin) -> None:
    """sync --once prints a one-line summary."""
    admin.make_issue(workspace.projects["acme"], "Slow", priority="High")
    result = cli(workspace, "sync", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("full cycle: 1 issues listed, 1 decided (1 classified, "
                                    "0 unclassified), 1 writes (1 notes), 0 errors")
    state = Path(workspace.config_path.parent / "state.sqlite3")
    assert state.exists()


def test_missing_custom_field_stops_with_its_name(
    workspace: Workspace, redmine: RedmineServer
) -> None:
    """With an admin's key a configured field Redmine does not have is named, exit 1."""
    text = workspace.config_path.read_text(encoding="utf-8")
    tracker_part, _ = text.split("state:\n  path: state.sqlite3\n")
    workspace.config_path.write_text(
        tracker_part.rstrip("\n") + "\n  fields:\n    sla_status: SLA state\n"
        "state:\n  path: state.sqlite3\n", encoding="utf-8",
    )
    as_admin = {**workspace.env, "REDMINE_API_KEY": redmine.api_key}
    result = subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "sync",
         "--once"], capture_output=True, text=True, env=as_admin, timeout=600, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "slabridge: error: Redmine has no issue custom field named 'SLA state': create it "
        "(deploy/redmine-local/start.sh does) or fix tracker.fields"
    )


def test_customer_from_list_custom_field(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule on the Customer list field picks the customer in a shared project."""
    text = workspace.config_path.read_text(encoding="utf-8")
    text = text.replace(
        "    - name: Acme project\n",
        "    - name: Customer field\n      match: {custom_fields: {Customer: Initech}}\n"
        "      customer: globex\n    - name: Acme project\n",
    )
    workspace.config_path.write_text(text, encoding="utf-8")
    issue = admin.make_issue(workspace.projects["internal"], "Report broken",
                             priority="Urgent", Customer="Initech")
    syncer(workspace, monkeypatch).cycle(datetime.now(UTC))
    assert admin.notes(issue)[0].endswith("[slabridge classified:globex:critical]")
