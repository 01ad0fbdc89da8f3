"""`slabridge doctor` against the real local Redmine, run as slabridge's non-admin account."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.integration.conftest import RedmineServer, Workspace
from tests.integration.fault_proxy import FaultProxy
from tests.integration.redmine_helpers import ACME_CUSTOMER, SERVICE, STAFF, RedmineAdmin

pytestmark = pytest.mark.redmine


def doctor(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "doctor",
         *args],
        capture_output=True, text=True, env=workspace.env, timeout=300, check=False,
    )


def lines(result: subprocess.CompletedProcess[str], start: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(start)]


def configure(workspace: Workspace, tracker_lines: str) -> None:
    """Add lines to the workspace config's tracker section."""
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace("  overlap_seconds: 5\n", f"  overlap_seconds: 5\n{tracker_lines}"),
        encoding="utf-8")


def test_correct_setup_passes_and_only_reads(
    workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer
) -> None:
    """The workspace's projects with the service account's key: every check passes (exit 0),
    the fields are checked on an issue, and every request doctor sends is a GET."""
    admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    with FaultProxy(redmine.url, rate=0, seed=1) as proxy:
        workspace.env["REDMINE_URL"] = proxy.url
        result = doctor(workspace)
        methods = {event.method for event in proxy.events}
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result, "FAIL") == []
    assert "ok   key accepted: SLA Bridge (slabridge), not an administrator" \
        in result.stdout
    for name in ("SLA response due", "SLA response due date", "SLA class", "SLA status",
                 "SLA handling", "Incident received"):
        assert [line for line in lines(result, "ok   field") if f"field {name!r}" in line]
    for project in workspace.projects.values():
        assert f"ok   permissions in {project!r}: role Developer allows Add notes, " \
               "Edit issues, View spent time" in result.stdout
    assert [line for line in lines(result, "hint") if "Automatically add me as watcher" in line]
    assert result.stdout.splitlines()[-1].startswith("doctor: all ")
    assert proxy.events, "doctor went through the proxy"
    assert methods == {"GET"}


def test_missing_field_fails_naming_it(
    workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer
) -> None:
    """`sla_status: SLA state`, a field Redmine does not have: exit 1, the line names it; with
    the admin's key doctor says exactly that no such field exists."""
    admin.make_issue(workspace.projects["acme"], "Typo in footer", priority="Low")
    configure(workspace, "  fields: {sla_status: SLA state}\n")
    result = doctor(workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = lines(result, "FAIL")
    assert line.startswith(
        "FAIL field 'SLA state' (tracker.fields.sla_status): on no issue of the configured "
        "projects: it does not exist, is not enabled for these projects and trackers, or is "
        "hidden from this user's roles -> fix: an administrator creates it")
    assert "ok   field 'SLA class' (tracker.fields.sla_class)" in result.stdout

    workspace.env["REDMINE_API_KEY"] = redmine.api_key
    as_admin = doctor(workspace)
    assert as_admin.returncode == 1
    # The admin may do everything: what slabridge's own account may do is not known.
    assert [line for line in lines(as_admin, "hint permissions") if "not checked: this key "
            "is an administrator's" in line] != []
    assert lines(as_admin, "FAIL") == [
        "FAIL field 'SLA state' (tracker.fields.sla_status): Redmine has no issue custom field "
        "of that name -> fix: an administrator creates it (Administration > Custom fields > "
        "New > Issues: format Text, visible, for these projects and all their trackers) or "
        "fix tracker.fields.sla_status"]


def test_reporter_role_fails_naming_permission_and_project(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """A project where slabridge is only a Reporter: exit 1, the line names the project and
    the 'Edit issues' permission it lacks."""
    project = f"reported-{uuid.uuid4().hex[:8]}"
    admin.make_project(project, members={SERVICE: "Reporter", STAFF: "Developer",
                                         ACME_CUSTOMER: "Reporter"})
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace(f"{workspace.projects['internal']}]",
                     f"{workspace.projects['internal']}, {project}]"), encoding="utf-8")
    result = doctor(workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines(result, "FAIL") == [
        f"FAIL permissions in {project!r}: role Reporter lacks 'Edit issues' (edit_issues, "
        "for SLA fields) and so cannot set the target version (Fastlane) -> fix: an "
        "administrator gives the service account a role with those permissions "
        "(Administration > Roles and permissions, or the project's Settings > Members)"]


def test_json_lists_one_object_per_check(workspace: Workspace) -> None:
    """--json prints a list of {check, status, ok, detail, fix}; a wrong key is one failed
    check and exit 1."""
    workspace.env["REDMINE_API_KEY"] = "0" * 40
    result = doctor(workspace, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    checks = json.loads(result.stdout)
    assert [c["check"] for c in checks if c["status"] == "fail"] == ["key accepted"]
    (refused,) = [c for c in checks if c["check"] == "key accepted"]
    assert refused["ok"] is False
    assert refused["detail"] == "Redmine refused the key (HTTP 401)"
    assert "REDMINE_API_KEY" in refused["fix"]
    assert set(checks[0]) == {"check", "status", "ok", "detail", "fix"}


def test_statement_wiki_without_the_wiki_module_fails(workspace: Workspace) -> None:
    """hours.post_to names a project whose Wiki module is off: exit 1, the line says so."""
    acme = workspace.projects["acme"]
    with workspace.config_path.open("a", encoding="utf-8") as file:
        file.write(f"hours:\n  post_to: {{acme: 'project:{acme}'}}\n")
    result = doctor(workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines(result, "FAIL") == [
        f"FAIL statement wiki 'project:{acme}' (hours.post_to of acme): the project's Wiki "
        "module is off -> fix: enable it in the project's Settings > Modules"]


def test_private_notes_need_the_permission_to_make_them_private(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """notes.private with a role lacking 'Set notes as private' (Reporter): Redmine would
    write the notes public; doctor fails naming the permission (it was not checked)."""
    project = f"private-{uuid.uuid4().hex[:8]}"
    admin.make_project(project, members={SERVICE: "Reporter", STAFF: "Developer"})
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace(f"{workspace.projects['internal']}]",
                     f"{workspace.projects['internal']}, {project}]")
        + "notes:\n  private: true\n", encoding="utf-8")
    result = doctor(workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = lines(result, "FAIL")
    assert line.startswith(f"FAIL permissions in {project!r}: role Reporter lacks 'Edit "
                           "issues' (edit_issues, for SLA fields), 'Set notes as private' "
                           "(set_notes_private, for notes.private: without it the notes are "
                           "public)")
    for other in workspace.projects.values():
        assert f"ok   permissions in {other!r}: role Developer allows Add notes, Edit issues, " \
               "View spent time, Set notes as private" in result.stdout
