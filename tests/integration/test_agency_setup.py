"""A real agency's Redmine: customers report, staff answer, slabridge has its own account.

Each test here is a bug that only showed once slabridge ran as its own non-admin service
account next to customers and staff (see tests/integration/redmine_helpers.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.bootstrap import build_syncer, build_tracker
from slabridge.config.loader import load_config
from tests.conftest import vienna
from tests.integration.conftest import RedmineServer, Workspace
from tests.integration.redmine_helpers import SERVICE, RedmineAdmin
from tests.integration.running import cli, ok, with_fields

pytestmark = pytest.mark.redmine


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


def test_notes_slabridge_wrote_with_the_admin_key_are_no_reply_after_the_switch(
    workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer
) -> None:
    """An admin tries slabridge with their own key first, then gives it its own account:
    the notes written as the admin are slabridge's, not the admin answering the customer."""
    issue = admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    as_admin = subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path),
         "sync", "--once"],
        capture_output=True, text=True, timeout=600, check=False,
        env={**workspace.env, "REDMINE_API_KEY": redmine.api_key})
    ok(as_admin)
    (note,) = admin.raw(issue)["journals"]
    assert note["user"]["id"] not in admin.user_ids.values(), "written as the admin"

    ok(cli(workspace, "sync", "--once"))
    explained = json.loads(ok(cli(workspace, "explain", str(issue), "--json")))
    assert explained["acceptance"] is None
    assert explained["sla_status"] != "met"
    assert len(admin.notes(issue)) == 1, "the service account did not classify it again"

    admin.answer(issue, "We are on it.\n\n> [slabridge acme:critical classified]")
    ok(cli(workspace, "sync", "--once"))
    explained = json.loads(ok(cli(workspace, "explain", str(issue), "--json")))
    assert explained["sla_status"] == "met", "a reply quoting slabridge's note is a reply"


def test_missing_fields_said_once_up_front_with_a_non_admin_key(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """Fields no issue carries are all named in one message before anything is written,
    in a dry run too (it said nothing, and a real run failed per issue naming one)."""
    with_fields(workspace, "    sla_status: SLA state\n    sla_class: SLA klass\n")
    issues = [admin.make_issue(workspace.projects["acme"], f"Broken {n}", priority="Urgent")
              for n in range(2)]
    message = ("slabridge: error: no issue of the configured projects has the custom field "
               "'SLA klass', 'SLA state' (missing, not enabled for these projects and "
               "trackers, or not visible to slabridge's role): create it for all projects and "
               "trackers, or fix tracker.fields; `slabridge doctor` checks the setup")
    for args in (("sync", "--once", "--dry-run"), ("sync", "--once")):
        result = cli(workspace, *args)
        assert (result.returncode, result.stderr.strip()) == (1, message)
    assert [admin.journal_count(issue) for issue in issues] == [0, 0]


def test_field_not_on_an_issue_is_reported_once_and_the_rest_written(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """A field not enabled for an issue's tracker: said once for that issue, the other
    fields and the note are written, and the next cycle neither says nor writes it again."""
    with_fields(workspace, "    sla_status: SLA status (bugs only)\n")
    bug = admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    feature = admin.make_issue(workspace.projects["acme"], "Export wrong", priority="Urgent",
                               tracker="Feature")
    first = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert [p for p in first["problems"] if "not available" in p] == [
        f"issue {feature}: field 'SLA status (bugs only)' is not available on this issue "
        f"(project {workspace.projects['acme']}, tracker Feature): enable it for the project "
        "and the tracker and make it visible to slabridge's role; the other fields are written"]
    assert admin.field(bug, "SLA status (bugs only)") == "running"
    assert admin.field(feature, "SLA class") == "critical"
    assert len(admin.notes(feature)) == 1
    journals = admin.journal_count(feature)
    second = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert [p for p in second["problems"] if "not available" in p] == []
    assert admin.journal_count(feature) == journals


def set_service_role(admin: RedmineAdmin, project: str, role: str) -> None:
    """Give slabridge's service account `role` (only) in `project`."""
    membership = next(m for m in admin.redmine.project_membership.filter(project_id=project)
                      if m.user.id == admin.user_ids[SERVICE])
    admin.redmine.project_membership.update(membership.id, role_ids=[admin.roles[role]])


def test_fields_redmine_drops_are_reported_once_and_not_resent(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """slabridge as a Reporter (no 'Edit issues'): Redmine keeps the note, drops the fields
    and answers 204. That is reported once per issue, and the fields are not sent again."""
    project = workspace.projects["globex"]
    set_service_role(admin, project, "Reporter")
    issue = admin.make_issue(project, "Interface down", priority="Urgent")
    first = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    dropped = [p for p in first["problems"] if "did not store" in p]
    assert dropped == [
        f"issue {issue}: the tracker did not store field 'SLA response due', 'SLA response "
        "due date', 'SLA class', 'SLA status', 'SLA handling': it may be read-only for "
        "slabridge's role in the workflow, or the role lacks 'Edit issues'; sent again only "
        "when its value changes or in the next full cycle"]
    assert len(admin.notes(issue)) == 1
    assert admin.field(issue, "SLA class") == ""
    journals = admin.journal_count(issue)
    second = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert [p for p in second["problems"] if "did not store" in p] == []
    assert second["writes"] == 0
    assert admin.journal_count(issue) == journals


def test_time_driven_update_after_a_restart_with_a_non_admin_key(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At risk from the clock alone, in a new process that has listed nothing: the write
    reaches Redmine (it failed: field ids were only learnt from issues listed)."""
    issue = admin.make_issue(workspace.projects["acme"], "Payment down", priority="Urgent",
                             Incident_received="2026-11-20T09:00:00+01:00")  # due 13:00
    for name in ("REDMINE_URL", "REDMINE_API_KEY"):
        monkeypatch.setenv(name, workspace.env[name])
    first = build_syncer(load_config(workspace.config_path))
    first.cycle(vienna(2026, 11, 20, 11, 0))
    assert admin.field(issue, "SLA status") == "running"
    # Nothing changes in Redmine from here on: the next listing brings nothing back.
    first.store.set_watermark(first.tracker.name, datetime.now(UTC) + timedelta(hours=1))
    restarted = build_syncer(load_config(workspace.config_path))
    report = restarted.cycle(vienna(2026, 11, 20, 12, 10))
    assert (report.seen, report.errors, report.problems) == (0, 0, [])
    assert admin.field(issue, "SLA status") == "at_risk"
    assert any(n.startswith("*SLA at risk:*") for n in admin.notes(issue))


def test_a_project_and_rule_added_later_are_reconciled_by_the_next_cycle(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """Globex's project and rule added to the configuration after the first cycles: its
    untouched open issue gets its due time in the next cycle, which says why it is full."""
    full_config = workspace.config_path.read_text(encoding="utf-8")
    globex = workspace.projects["globex"]
    rule = (f"    - name: Globex project\n      match: {{project: {globex}}}\n"
            "      customer: globex\n")
    assert rule in full_config
    workspace.config_path.write_text(
        full_config.replace(rule, "").replace(f"{globex}, ", ""), encoding="utf-8")
    waiting = admin.make_issue(globex, "Interface down", priority="Urgent")
    ok(cli(workspace, "sync", "--once"))
    ok(cli(workspace, "sync", "--once"))
    assert admin.field(waiting, "SLA status") == ""

    workspace.config_path.write_text(full_config, encoding="utf-8")
    summary = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert summary["mode"] == "full"
    assert ("the configuration's scope (projects or classification) changed since the last "
            "cycle: this cycle reconciles every open issue") in summary["problems"]
    assert admin.field(waiting, "SLA status") == "running"
    again = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert again["mode"] == "incremental"


def test_unclassified_issues_are_named_with_the_reason(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """The cycle summary and `status --unclassified` name each open issue no rule
    classified, and say why (they were only counted)."""
    internal = workspace.projects["internal"]
    issue = admin.make_issue(internal, "Update the team wiki", priority="Urgent",
                             reporter="sam.staff")
    admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    reason = (f"no customer rule matched (project {internal}, tracker Bug, priority Urgent)")
    summary = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert summary["unclassified_issues"] == [
        {"issue": str(issue), "subject": "Update the team wiki", "project": internal,
         "reason": reason}]
    listed = json.loads(ok(cli(workspace, "status", "--unclassified", "--json")))
    assert listed == summary["unclassified_issues"]
    text = ok(cli(workspace, "status", "--unclassified"))
    assert text.split() == [f"#{issue}", "Update", "the", "team", "wiki", *reason.split()]


def test_private_notes_are_hidden_from_the_customer(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """notes.private: the reporting customer does not see slabridge's note (internal terms,
    emergency-ticket counts); staff do. Notes were always public."""
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + "notes:\n  private: true\n", encoding="utf-8")
    issue = admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    ok(cli(workspace, "sync", "--once"))

    def notes_seen_by(login: str) -> list[str]:
        raw = admin.clients[login].issue.get(issue, include=["journals"])
        return [j.notes for j in raw.journals if getattr(j, "notes", "")]

    assert [n[:5] for n in notes_seen_by("sam.staff")] == ["*SLA:"]
    assert notes_seen_by("carla.acme") == []
    assert admin.field(issue, "SLA class") == "critical"
    assert [j["private_notes"] for j in admin.raw(issue)["journals"] if j["notes"]] == [True]


def test_without_edit_issues_no_sprint_move_is_claimed_and_a_full_cycle_catches_up(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """A first cycle with a role lacking 'Edit issues': the note claimed the move into the
    sprint Redmine dropped, and once the role was fixed the dropped fields were never sent
    again, even by `--full`. Now the note claims nothing it cannot do, the reason is said
    once, and after the fix the next cycle moves the issue and a full cycle fills the
    fields."""
    project = workspace.projects["acme"]
    admin.redmine.version.create(project_id=project, name="Sprint 47",
                                 due_date=datetime.now(UTC).date() + timedelta(days=6))
    set_service_role(admin, project, "Reporter")
    issue = admin.make_issue(project, "Shop down", priority="Urgent")
    first = json.loads(ok(cli(workspace, "sync", "--once", "--json")))
    assert (f"slabridge's role in project {project} lacks 'Edit issues', so Redmine would not "
            "set the target version: Fastlane issues stay where they are until the role has "
            "it") in first["problems"]
    assert not any("Moved into" in note for note in admin.notes(issue))
    assert "fixed_version" not in admin.raw(issue)
    assert admin.field(issue, "SLA class") == ""

    set_service_role(admin, project, "Developer")
    ok(cli(workspace, "sync", "--once"))
    assert admin.raw(issue)["fixed_version"]["name"] == "Sprint 47"
    assert any("Moved into the current sprint *Sprint 47*" in n for n in admin.notes(issue))
    full = json.loads(ok(cli(workspace, "sync", "--once", "--full", "--json")))
    assert [p for p in full["problems"] if "did not store" in p] == []
    assert admin.field(issue, "SLA class") == "critical"
    assert admin.field(issue, "SLA status") == "running"
    journals = admin.journal_count(issue)
    ok(cli(workspace, "sync", "--once", "--full"))
    assert admin.journal_count(issue) == journals


def test_private_notes_refused_where_the_role_cannot_make_them_private(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """notes.private with a role lacking 'Set notes as private': Redmine wrote the notes
    public, silently, for the customer to read. Now nothing is written and the cycle says
    why, in a dry run too."""
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + "notes:\n  private: true\n", encoding="utf-8")
    project = workspace.projects["acme"]
    set_service_role(admin, project, "Reporter")
    issue = admin.make_issue(project, "Checkout broken", priority="Urgent")
    message = (f"slabridge: error: notes.private is on, but slabridge's role in project(s) "
               f"{project} lacks 'Set notes as private': Redmine would write its notes public, "
               "for customers to read. Give the service account's role that permission "
               "(Administration > Roles and permissions), or set notes.private: false; nothing "
               "was written")
    for args in (("sync", "--once", "--dry-run"), ("sync", "--once")):
        result = cli(workspace, *args)
        assert (result.returncode, result.stderr.strip()) == (1, message)
    assert admin.journal_count(issue) == 0


def test_a_role_given_through_a_group_counts(workspace: Workspace, admin: RedmineAdmin) -> None:
    """The service account's own role lacks 'Set notes as private', a group it belongs to
    has a role with it: Redmine lets it write private notes, and so does slabridge."""
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(text + "notes:\n  private: true\n", encoding="utf-8")
    project = workspace.projects["acme"]
    set_service_role(admin, project, "Reporter")
    group = admin.redmine.group.create(name=f"robots-{uuid.uuid4().hex[:8]}",
                                       user_ids=[admin.user_ids[SERVICE]])
    admin.redmine.project_membership.create(project_id=project, user_id=group.id,
                                            role_ids=[admin.roles["Developer"]])
    issue = admin.make_issue(project, "Checkout broken", priority="Urgent")
    ok(cli(workspace, "sync", "--once"))
    assert [j["private_notes"] for j in admin.raw(issue)["journals"] if j["notes"]] == [True]


def test_what_slabridge_reads_at_start_does_not_grow_with_its_other_projects(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """slabridge read its permissions from /users/current.json?include=memberships and
    listed every visible project: with its account in thousands of projects that one
    request took seconds, past the read timeout. Now it asks for the configured projects
    and their members only, so projects it is not configured for are never read."""
    def startup_reads() -> list[str]:
        tracker = build_tracker(load_config(workspace.config_path), workspace.env)
        assert isinstance(tracker, RedmineTracker)
        bodies: list[str] = []
        tracker.transport.session.hooks["response"].append(
            lambda response, *args, **kwargs: bodies.append(response.text))
        tracker.prepare()
        for project in workspace.projects.values():
            assert tracker.permissions.permissions_in(project) is not None
        return bodies

    before = startup_reads()
    others = [f"elsewhere-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for other in others:
        admin.make_project(other)
    after = startup_reads()
    assert len(after) == len(before)
    assert [other for other in others if any(other in body for body in after)] == []


def test_a_problem_is_said_once_by_a_one_shot_sync(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """The summary's problem line, not also a log line on stderr (it said each twice)."""
    with_fields(workspace, "    sla_status: SLA status (bugs only)\n")
    admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    admin.make_issue(workspace.projects["acme"], "Export wrong", priority="Urgent",
                     tracker="Feature")
    result = cli(workspace, "sync", "--once")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if "not available" in line] != []
    assert "not available" not in result.stderr and "fields_not_available" not in result.stderr
    verbose = cli(workspace, "sync", "--once", "--full", "--log-level", "warning")
    assert verbose.returncode == 0
