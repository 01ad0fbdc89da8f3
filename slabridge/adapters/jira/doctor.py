"""`slabridge doctor` on Jira: GET requests only, with the configured credentials.

/serverInfo and /myself for the connection and the key, /project/{key} for each project,
/mypermissions for what the key may do there, /field for the fields slabridge writes or reads
(and one issue's /editmeta per project for the edit screen), and the agile board for the
current sprint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.adapters.jira.translate import PROPERTY
from slabridge.app.doctor import Check, Needs, Unanswered, statement_targets, unreachable

# Jira's field types (schema.type) slabridge can write each value into.
FIELD_TYPES: Mapping[str, tuple[str, ...]] = {
    "response_due": ("datetime", "string"),
    "response_due_date": ("date", "string"),
}
TEXT_TYPES = ("string",)
PERMISSION_USES = {
    "BROWSE_PROJECTS": "read issues",
    "EDIT_ISSUES": "SLA values",
    "ADD_COMMENTS": "notes",
    "SCHEDULE_ISSUES": "Fastlane sprint moves",
    "MANAGE_WATCHERS": "escalation watchers",
    "ASSIGN_ISSUES": "escalation reassignment",
    "EDIT_OWN_COMMENTS": "updating a posted statement",
}


class JiraDoctor:
    """Every check of `slabridge doctor` against one Jira site."""

    def __init__(self, tracker: JiraTracker, needs: Needs) -> None:
        self.tracker = tracker
        self.needs = needs
        self.checks: list[Check] = []

    def _get(self, path: str, params: Mapping[str, Any] | None = None, *,
             agile: bool = False) -> tuple[int, Any]:
        try:
            return self.tracker.probe(path, params, agile=agile)
        except requests.RequestException as exc:
            raise unreachable("Jira", self.tracker.name, exc) from None

    def run(self) -> list[Check]:
        """All checks, in order; an unreachable Jira or refused credentials end the list."""
        try:
            if self._check_connection():
                visible = self._check_projects()
                self._check_permissions(visible)
                fields = self._check_fields()
                self._check_screens(visible, fields)
                self._check_board()
        except Unanswered as stop:
            self.checks.append(stop.check)
        return self.checks

    def _check_connection(self) -> bool:
        name = self.tracker.name
        status, info = self._get("serverInfo")
        if status == 401:
            self.checks.append(Check("Jira reachable", True, name))
            self.checks.append(self._refused())
            return False
        if status != 200 or not isinstance(info, dict) or "deploymentType" not in info:
            self.checks.append(Check(
                "Jira reachable", False, f"{name}/rest/api answered HTTP {status}, not Jira's "
                "JSON", "check tracker.url: the site's base address (e.g. "
                "https://example.atlassian.net)"))
            return False
        self.tracker.adopt_server_info(info)
        self.checks.append(Check(
            "Jira reachable", True, f"{name}, {info.get('deploymentType')} "
            f"{info.get('version', '')}, REST API v{self.tracker.api_version}".replace("  ", " ")))
        status, user = self._get("myself")
        if status != 200 or not isinstance(user, dict):
            self.checks.append(self._refused(status))
            return False
        who = user.get("accountId") or user.get("name") or user.get("key") or "?"
        self.checks.append(Check("key accepted", True, f"{user.get('displayName', '')} ({who})"))
        return True

    def _refused(self, status: int = 401) -> Check:
        return Check("key accepted", False, f"Jira refused the credentials (HTTP {status})",
                     "Cloud: tracker.email and an API token of that account in the variable "
                     "tracker.api_key names; Data Center: a personal access token, no email")

    def _check_projects(self) -> list[str]:
        visible = []
        for key in self.needs.projects:
            status, project = self._get(f"project/{key}")
            if status == 200 and isinstance(project, dict):
                visible.append(key)
                self.checks.append(Check(f"project {key}", True,
                                         f"visible ({project.get('name', '')})"))
            else:
                self.checks.append(Check(
                    f"project {key}", False, f"not found or not visible (HTTP {status})",
                    "check tracker.projects (project keys) and give the account Browse "
                    "Projects there (the project's permission scheme)"))
        return visible

    def _project_permissions(self) -> list[str]:
        wanted = ["BROWSE_PROJECTS", "EDIT_ISSUES", "ADD_COMMENTS"]
        if self.needs.moves_issues:
            wanted.append("SCHEDULE_ISSUES")
        if self.needs.adds_watchers:
            wanted.append("MANAGE_WATCHERS")
        if self.needs.reassigns:
            wanted.append("ASSIGN_ISSUES")
        return wanted

    def _permission_check(self, title: str, params: Mapping[str, str],
                          wanted: list[str]) -> Check:
        status, body = self._get("mypermissions", {**params, "permissions": ",".join(wanted)})
        if status != 200 or not isinstance(body, dict):
            return Check(title, False, f"/mypermissions answered HTTP {status}",
                         "check that the project or issue exists and is visible")
        have = body.get("permissions", {})
        lacking = [p for p in wanted if not (have.get(p) or {}).get("havePermission")]
        if lacking:
            return Check(
                title, False, "lacks " + ", ".join(
                    f"{p} ({(have.get(p) or {}).get('name', p)}, for {PERMISSION_USES[p]})"
                    for p in lacking),
                "a Jira administrator grants them to the account (or a group or role it is "
                "in) in the project's permission scheme")
        return Check(title, True, ", ".join(wanted))

    def _check_permissions(self, visible: list[str]) -> None:
        wanted = self._project_permissions()
        for key in visible:
            self.checks.append(self._permission_check(
                f"permissions in {key}", {"projectKey": key}, wanted))
        for title, target in statement_targets(self.needs, "issue"):
            kind, _, key = target.partition(":")
            if kind != "issue" or not key:
                self.checks.append(Check(title, False, "Jira statements go to an issue",
                                         "write issue:KEY"))
                continue
            self.checks.append(self._permission_check(
                title, {"issueKey": key}, ["BROWSE_PROJECTS", "ADD_COMMENTS",
                                           "EDIT_OWN_COMMENTS"]))

    def _check_fields(self) -> dict[str, dict[str, Any]]:
        """Checks of the fields written and read; their definitions by name."""
        status, fields = self._get("field")
        if status != 200 or not isinstance(fields, list):
            self.checks.append(Check("fields", False, f"/field answered HTTP {status}",
                                     "check the account's access"))
            return {}
        by_name: dict[str, dict[str, Any]] = {}
        for definition in fields:
            by_name.setdefault(str(definition.get("name")), definition)
        if not self.needs.written_fields:
            self.checks.append(Check(
                "SLA values", True, f"written to the issue property {PROPERTY} (needs "
                "EDIT_ISSUES, no fields); set tracker.fields to write custom fields instead"))
        wanted = [(f"tracker.fields.{role}", name, FIELD_TYPES.get(role, TEXT_TYPES))
                  for role, name in self.needs.written_fields.items()]
        wanted += [("tracker.receipt_field" if name == self.needs.receipt_field
                    else "classification rules", name, ()) for name in self.needs.read_fields]
        found = {}
        for where, name, types in wanted:
            title = f"field {name!r} ({where})"
            definition = by_name.get(name)
            if definition is None:
                self.checks.append(Check(
                    title, False, "Jira has no field of that name (checked through /field)",
                    "a Jira administrator creates it"
                    + (f" (type {types[0]})" if types else "") + f", or fix {where}"))
                continue
            kind = (definition.get("schema") or {}).get("type", "?")
            if types and kind not in types:
                self.checks.append(Check(
                    title, False, f"type {kind}, slabridge writes {' or '.join(types)}",
                    f"create a field of type {types[0]} and name it in {where}"))
                continue
            found[name] = definition
            self.checks.append(Check(title, True, f"{definition.get('id')}, type {kind}"))
        return {name: d for name, d in found.items()
                if name in self.needs.written_fields.values()}

    def _check_screens(self, visible: list[str], fields: dict[str, dict[str, Any]]) -> None:
        """The written fields on the edit screen of one issue per project."""
        if not fields:
            return
        for key in visible:
            jql = f"project = {json.dumps(key)} ORDER BY created DESC"
            if self.tracker.deployment == "cloud":
                _, found = self._get("search/jql", {"jql": jql, "maxResults": 1,
                                                    "fields": "issuetype"})
            else:
                _, found = self._get("search", {"jql": jql, "maxResults": 1,
                                                "fields": "issuetype"})
            issues = (found or {}).get("issues", []) if isinstance(found, dict) else []
            title = f"edit screen in {key}"
            if not issues:
                self.checks.append(Check(title, True, "not checked: no issues yet", hint=True))
                continue
            issue = issues[0]
            kind = ((issue.get("fields") or {}).get("issuetype") or {}).get("name", "?")
            status, meta = self._get(f"issue/{issue['key']}/editmeta")
            if status != 200 or not isinstance(meta, dict):
                self.checks.append(Check(title, False, f"{issue['key']}/editmeta answered HTTP "
                                         f"{status}", "give the account EDIT_ISSUES there"))
                continue
            on_screen = meta.get("fields", {})
            absent = [name for name, d in fields.items() if d.get("id") not in on_screen]
            if absent:
                self.checks.append(Check(
                    title, False, f"{', '.join(repr(a) for a in absent)} not on the edit "
                    f"screen of {issue['key']} ({kind})",
                    "a Jira administrator adds the fields to the project's edit screens (and "
                    "the field's context to the project and issue types)"))
            else:
                self.checks.append(Check(title, True, f"the fields are on {issue['key']}'s "
                                         f"({kind})"))

    def _check_board(self) -> None:
        if not self.needs.moves_issues and self.needs.board_id is None:
            return
        board_id = self.needs.board_id
        if board_id is None:
            self.checks.append(Check(
                "board", False, "tracker.board_id is not set: Fastlane has no current sprint",
                "set tracker.board_id to the board whose active sprint is the current sprint"))
            return
        status, board = self._get(f"board/{board_id}", agile=True)
        if status != 200 or not isinstance(board, dict):
            self.checks.append(Check(
                f"board {board_id}", False, f"not found or not visible (HTTP {status})",
                "fix tracker.board_id, or give the account Browse Projects on the board's "
                "projects (and access to its filter)"))
            return
        if board.get("type") not in (None, "scrum"):
            self.checks.append(Check(
                f"board {board_id}", False, f"{board.get('name', '')!r} is a "
                f"{board.get('type')} board: it has no sprints", "use a scrum board"))
            return
        self.checks.append(Check(f"board {board_id}", True, f"{board.get('name', '')!r}"))
        status, sprints = self._get(f"board/{board_id}/sprint", {"state": "active"}, agile=True)
        values = (sprints or {}).get("values", []) if isinstance(sprints, dict) else []
        if status == 200 and values:
            self.checks.append(Check("current sprint", True,
                                     f"{values[0].get('name', '')} (active on the board)"))
        else:
            self.checks.append(Check(
                "current sprint", True, f"board {board_id} has no active sprint now (HTTP "
                f"{status}): Fastlane moves nothing until one starts",
                "start a sprint on the board", hint=True))


def diagnose(tracker: JiraTracker, needs: Needs) -> list[Check]:
    """Every check of `slabridge doctor` against the tracker's Jira, in order."""
    return JiraDoctor(tracker, needs).run()
