"""`slabridge doctor` on Redmine: GET requests only, with the configured key.

With a non-admin key (the service account, as it should be) Redmine hides its custom-field
definitions (/custom_fields.json is 403), so fields are checked on issues: an issue lists
the fields enabled for its project and tracker and visible to the reader. One issue per
project and tracker is read; a pair without issues cannot be checked. With an
administrator's key /custom_fields.json adds each field's existence, format and trackers.
Permissions come from the project's members (/projects/{id}/memberships.json) and the
roles' permission lists (/roles/{id}.json, readable by any user).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from slabridge.adapters.redmine.permissions import roles_of
from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.app.doctor import Check, Needs, Unanswered, statement_targets, unreachable

# Permission -> (name in Redmine's role form, module that must be enabled in the project)
PERMISSIONS: Mapping[str, tuple[str, str]] = {
    "add_issue_notes": ("Add notes", "issue_tracking"),
    "edit_issues": ("Edit issues", "issue_tracking"),
    "view_time_entries": ("View spent time", "time_tracking"),
    "add_issue_watchers": ("Add watchers", "issue_tracking"),
    "set_notes_private": ("Set notes as private", "issue_tracking"),
    "view_wiki_pages": ("View wiki", "wiki"),
    "edit_wiki_pages": ("Edit wiki pages", "wiki"),
}
MODULE_NAMES = {"issue_tracking": "Issue tracking", "time_tracking": "Time tracking",
                "wiki": "Wiki"}
TEXT_FORMATS = ("string", "text")
FORMATS: Mapping[str, tuple[str, ...]] = {"response_due_date": ("date",)}
FORMAT_NAMES = {"string": "Text", "text": "Long text", "date": "Date"}
ACTIVE = 1  # a project's status; closed (5) projects take no edits


@dataclass
class _Project:
    identifier: str
    info: dict[str, Any]
    trackers: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)
    enabled_fields: set[str] = field(default_factory=set)
    """custom fields enabled for this project by name (those for all projects are not listed)"""
    samples: dict[str, set[str] | None] = field(default_factory=dict)
    """tracker -> field names on one of its issues (None: no issue to look at)"""


class RedmineDoctor:
    """Every check of `slabridge doctor` against one Redmine."""

    def __init__(self, tracker: RedmineTracker, needs: Needs) -> None:
        self.tracker = tracker
        self.needs = needs
        self.checks: list[Check] = []
        self.admin = False
        self._roles: dict[int, dict[str, Any]] = {}

    def _get(self, path: str, params: Mapping[str, Any] | None = None,
             what: str = "") -> tuple[int, Any]:
        """(status, JSON or None); an unreachable Redmine stops the run as a failed check."""
        try:
            response = self.tracker.probe(path, params)
        except requests.RequestException as exc:
            raise unreachable("Redmine", what or path, exc) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def _pages(self, path: str, container: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            status, page = self._get(path, {"limit": 100, "offset": offset})
            if status != 200 or not isinstance(page, dict):
                return
            items = page.get(container, [])
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_count", 0)):
                return

    def run(self) -> list[Check]:
        """All checks, in order; an unreachable Redmine or a refused key ends the list."""
        try:
            user = self._check_key()
            if user is None:
                return self.checks
            projects = self._check_projects()
            self._check_fields(projects)
            self._check_permissions(user, projects)
            self._check_sprints(projects)
            self._check_wikis(user)
        except Unanswered as stop:
            self.checks.append(stop.check)
            return self.checks
        self.checks.append(Check(
            "watching", True,
            "Redmine adds the service account as a watcher of every issue it writes unless "
            "its preference 'Automatically add me as watcher' is unticked (the API does not "
            "show it)", "log in as the service account: My account > Preferences", hint=True))
        return self.checks

    # --- the connection and the key -------------------------------------------------------

    def _check_key(self) -> dict[str, Any] | None:
        name = self.tracker.name
        status, body = self._get("/users/current.json", what=name)
        reached = f"{name} answered HTTP {status}"
        if status == 403:
            self.checks.append(Check(
                "REST API enabled", False, f"{reached} (the REST API is off)",
                "an administrator ticks Administration > Settings > API > 'Enable REST web "
                "service'"))
            return None
        if status == 404:
            self.checks.append(Check(
                "REST API reachable", False, f"{reached} for /users/current.json",
                "check tracker.url: the address Redmine's pages are under (e.g. "
                "https://host/redmine)"))
            return None
        if status == 401:
            self.checks.append(Check("Redmine reachable", True, f"{name}, REST API on"))
            self.checks.append(Check(
                "key accepted", False, "Redmine refused the key (HTTP 401)",
                f"set {self.tracker.key_source} to the service account's API key (My account "
                "> API access key)"))
            return None
        if status != 200 or not isinstance(body, dict) or "user" not in body:
            self.checks.append(Check(
                "REST API reachable", False, f"{reached}, not Redmine's JSON",
                "check tracker.url (a proxy's login page or another site answers there)"))
            return None
        user: dict[str, Any] = body["user"]
        self.admin = bool(user.get("admin"))
        self.checks.append(Check("Redmine reachable", True, f"{name}, REST API on"))
        who = f"{user.get('firstname', '')} {user.get('lastname', '')}".strip()
        self.checks.append(Check(
            "key accepted", True,
            f"{who} ({user.get('login', user.get('id'))})"
            + (", an administrator: fields checked exactly" if self.admin else
               ", not an administrator: fields checked on the projects' issues")))
        return user

    # --- projects -----------------------------------------------------------------------

    def _check_projects(self) -> list[_Project]:
        projects = []
        for identifier in self.needs.projects:
            # One request per configured project, not a listing of every visible one.
            status, body = self._get(f"/projects/{quote(identifier)}.json", {
                "include": "trackers,enabled_modules,issue_custom_fields"})
            info = body.get("project") if status == 200 and isinstance(body, dict) else None
            if info is None:
                self.checks.append(Check(
                    f"project {identifier!r}", False, "not found, or not visible to this user",
                    "check tracker.projects (identifiers, not names) and make the service "
                    "account a member of the project"))
                continue
            if info.get("status", ACTIVE) != ACTIVE:
                self.checks.append(Check(
                    f"project {identifier!r}", False, "closed: Redmine takes no edits there",
                    "reopen the project or remove it from tracker.projects"))
                continue
            detail = info
            project = _Project(
                identifier, info,
                trackers=[t["name"] for t in detail.get("trackers", [])],
                modules={m["name"] for m in detail.get("enabled_modules", [])},
                enabled_fields={f["name"] for f in detail.get("issue_custom_fields", [])},
            )
            for tracker in detail.get("trackers", []):
                _, page = self._get("/issues.json", {
                    "project_id": info["id"], "subproject_id": "!*", "tracker_id": tracker["id"],
                    "status_id": "*", "limit": 1})
                issues = (page or {}).get("issues", [])
                project.samples[tracker["name"]] = (
                    {cf["name"] for cf in issues[0].get("custom_fields", [])} if issues else None)
            projects.append(project)
            self.checks.append(Check(
                f"project {identifier!r}", True,
                f"visible ({', '.join(project.trackers) or 'no trackers'})"))
        return projects

    # --- fields -------------------------------------------------------------------------

    def _check_fields(self, projects: list[_Project]) -> None:
        definitions: dict[str, dict[str, Any]] | None = None
        if self.admin:
            status, body = self._get("/custom_fields.json")
            if status == 200 and isinstance(body, dict):
                definitions = {f["name"]: f for f in body.get("custom_fields", [])
                               if f.get("customized_type", "issue") == "issue"}
        wanted: list[tuple[str, str, str | None]] = [
            (f"tracker.fields.{role}", name, role)
            for role, name in self.needs.written_fields.items()]
        wanted += [("tracker.receipt_field" if name == self.needs.receipt_field
                    else "classification rules", name, None)
                   for name in self.needs.read_fields]
        for where, name, role in wanted:
            self.checks.append(self._field_check(where, name, role, projects, definitions))

    def _field_check(self, where: str, name: str, role: str | None, projects: list[_Project],
                     definitions: dict[str, dict[str, Any]] | None) -> Check:
        title = f"field {name!r} ({where})"
        formats = (FORMATS.get(role, TEXT_FORMATS) if role
                   else TEXT_FORMATS if where == "tracker.receipt_field" else ())
        wanted_format = f"format {FORMAT_NAMES[formats[0]]}, " if formats else ""
        create = (f"an administrator creates it (Administration > Custom fields > New > Issues: "
                  f"{wanted_format}visible, for these projects and all their trackers) or fix "
                  f"{where}")
        definition = None
        if definitions is not None:
            definition = definitions.get(name)
            if definition is None:
                return Check(title, False, "Redmine has no issue custom field of that name",
                             create)
            problem = self._definition_problem(definition, formats, role, projects)
            if problem:
                return Check(title, False, problem[0], problem[1])
        missing, unchecked, seen = [], [], 0
        for project in projects:
            for tracker, names in project.samples.items():
                if names is None:
                    unchecked.append(f"{tracker} in {project.identifier}")
                elif name in names:
                    seen += 1
                else:
                    missing.append((project, tracker))
        if missing and not seen and definitions is None:
            enabled_in = [p.identifier for p in projects if name in p.enabled_fields]
            why = (f"it exists and is enabled for {', '.join(enabled_in)}, so it is on none "
                   "of the trackers with issues there, or hidden from this user's roles"
                   if enabled_in else "it does not exist, is not enabled for these projects "
                   "and trackers, or is hidden from this user's roles")
            return Check(title, False, f"on no issue of the configured projects: {why}",
                         create + " (doctor with an administrator's key tells which)")
        if missing:
            places = ", ".join(f"{tracker} in {p.identifier}" for p, tracker in missing)
            return Check(title, False,
                         f"not on issues of {places}: not enabled for that project or tracker"
                         + ("" if definitions is not None else ", or hidden from this user"),
                         f"an administrator enables it there (Administration > Custom fields "
                         f"> {name}: Trackers, Projects, Visible)")
        if not seen and definitions is None:
            return Check(title, True, "not checked: the configured projects have no issues "
                         "yet (doctor with an administrator's key checks without issues)",
                         hint=True)
        if definition is None:
            pairs = sum(len(p.samples) for p in projects)
            detail = "on the issues of every project and tracker that has any"
            if unchecked:
                detail += f" ({len(unchecked)} of {pairs} project/tracker pairs have none yet)"
            return Check(title, True, detail)
        return Check(title, True, _defined_field_detail(name, definition, projects))

    def _definition_problem(self, definition: Mapping[str, Any], formats: tuple[str, ...],
                            role: str | None,
                            projects: list[_Project]) -> tuple[str, str] | None:
        """What is wrong with a field's definition (administrators only), or None."""
        name = definition["name"]
        edit = f"Administration > Custom fields > {name}"
        field_format = definition.get("field_format", "")
        if formats and field_format not in formats:
            return (f"format {field_format!r}, slabridge writes {FORMAT_NAMES[formats[0]]} "
                    f"({formats[0]})", f"an administrator creates a {FORMAT_NAMES[formats[0]]} "
                    f"field (a field's format cannot be changed) and names it in the config")
        limit = self.needs.field_lengths.get(role or "")
        max_length = definition.get("max_length")
        if limit and max_length and int(max_length) < limit:
            return (f"holds at most {max_length} characters, slabridge writes up to {limit}",
                    f"{edit}: raise or clear Maximum length")
        if definition.get("regexp"):
            return (f"values must match {definition['regexp']!r}",
                    f"{edit}: clear Regular expression")
        on = {t["name"] for t in definition.get("trackers", [])}
        absent = sorted({f"{t} in {p.identifier}" for p in projects for t in p.trackers
                         if t not in on})
        if absent:
            return (f"not enabled for tracker {', '.join(absent)}",
                    f"{edit}: tick those trackers")
        return None

    # --- permissions --------------------------------------------------------------------

    def _role(self, role_id: int) -> dict[str, Any]:
        if role_id not in self._roles:
            status, body = self._get(f"/roles/{role_id}.json")
            self._roles[role_id] = (body or {}).get("role", {}) if status == 200 else {}
        return self._roles[role_id]

    def _permissions_in(self, user: Mapping[str, Any], project_id: int) -> tuple[list[str],
                                                                                   set[str]]:
        """The user's role names and permissions in a project, from its members."""
        names, permissions = [], set()
        members = self._pages(f"/projects/{project_id}/memberships.json", "memberships")
        for role_id, name in roles_of(int(user["id"]), members):
            names.append(name)
            permissions |= set(self._role(role_id).get("permissions", []))
        return names, permissions

    def _needed(self) -> list[tuple[str, str]]:
        """(permission, what slabridge does with it) for every configured project."""
        needed = [("add_issue_notes", "notes"), ("edit_issues", "SLA fields"),
                  ("view_time_entries", "hours")]
        if self.needs.adds_watchers:
            needed.append(("add_issue_watchers", "escalation watchers"))
        if self.needs.private_notes:
            needed.append(("set_notes_private", "notes.private: without it the notes are "
                                                "public"))
        return needed

    def _check_permissions(self, user: Mapping[str, Any], projects: list[_Project]) -> None:
        needed = self._needed()
        for project in projects:
            title = f"permissions in {project.identifier!r}"
            modules_off = sorted({module for permission, _ in needed
                                  for module in [PERMISSIONS[permission][1]]
                                  if module not in project.modules})
            if modules_off:
                self.checks.append(Check(
                    title, False,
                    "module " + ", ".join(MODULE_NAMES[m] for m in modules_off) + " is off",
                    "enable it in the project's Settings > Modules"))
                continue
            if self.admin:
                # What slabridge's own account may do is what matters, and an
                # administrator's key cannot tell.
                self.checks.append(Check(
                    title, False, "not checked: this key is an administrator's, who may do "
                    "everything",
                    "run slabridge with its own non-admin service account (README: Use it "
                    "with your own Redmine) and run doctor with that account's key to check "
                    "its roles", hint=True))
                continue
            roles, permissions = self._permissions_in(user, int(project.info["id"]))
            if not roles:
                self.checks.append(Check(
                    title, False, "this user is not a member of the project",
                    "add the service account as a member (e.g. Developer) in the project's "
                    "Settings > Members"))
                continue
            lacking = [(p, use) for p, use in needed if p not in permissions]
            doing = ", ".join(PERMISSIONS[p][0] for p, _ in needed)
            version = ""
            if self.needs.moves_issues and "edit_issues" in permissions:
                version = ", Target version (Fastlane)"
            if lacking:
                self.checks.append(Check(
                    title, False,
                    f"role {', '.join(roles)} lacks "
                    + ", ".join(f"'{PERMISSIONS[p][0]}' ({p}, for {use})" for p, use in lacking)
                    + (" and so cannot set the target version (Fastlane)"
                       if self.needs.moves_issues and "edit_issues" not in permissions else ""),
                    "an administrator gives the service account a role with those permissions "
                    "(Administration > Roles and permissions, or the project's Settings > "
                    "Members)"))
            else:
                self.checks.append(Check(title, True,
                                         f"role {', '.join(roles)} allows {doing}{version}"))

    # --- Fastlane: versions -------------------------------------------------------------

    def _check_sprints(self, projects: list[_Project]) -> None:
        if not self.needs.moves_issues or not projects:
            return
        status, body = self._get("/trackers.json")
        without = {t["name"] for t in (body or {}).get("trackers", [])
                   if "fixed_version_id" not in t.get("enabled_standard_fields", [])} \
            if status == 200 else set()
        for project in projects:
            off = [t for t in project.trackers if t in without]
            if off:
                self.checks.append(Check(
                    f"target version in {project.identifier!r}", False,
                    f"tracker {', '.join(off)} has no Target version field, so Fastlane "
                    "cannot move issues into the current version",
                    "an administrator ticks Target version in Administration > Trackers"))
            status, body = self._get(f"/projects/{project.info['id']}/versions.json")
            versions = [v for v in (body or {}).get("versions", [])
                        if v.get("status") == "open"] if status == 200 else []
            if not versions:
                self.checks.append(Check(
                    f"current version in {project.identifier!r}", True,
                    "no open version: Fastlane has no current sprint to move critical "
                    "issues into (the sync reports it once)",
                    "create a version in the project's Settings > Versions", hint=True))

    # --- statements ---------------------------------------------------------------------

    def _check_wikis(self, user: Mapping[str, Any]) -> None:
        for title, target in statement_targets(self.needs, "wiki"):
            kind, _, identifier = target.partition(":")
            if kind != "project" or not identifier:
                self.checks.append(Check(title, False, "Redmine statements go to a wiki",
                                         "write project:IDENTIFIER"))
                continue
            status, body = self._get(f"/projects/{identifier}.json",
                                     {"include": "enabled_modules"})
            if status != 200 or not isinstance(body, dict):
                self.checks.append(Check(title, False, f"project not found (HTTP {status})",
                                         "fix hours.post_to or make the service account a "
                                         "member of that project"))
                continue
            project = body["project"]
            if "wiki" not in {m["name"] for m in project.get("enabled_modules", [])}:
                self.checks.append(Check(title, False, "the project's Wiki module is off",
                                         "enable it in the project's Settings > Modules"))
                continue
            status, _ = self._get(f"/projects/{identifier}/wiki/index.json")
            if status != 200:
                self.checks.append(Check(title, False, f"the wiki cannot be read (HTTP "
                                         f"{status})", "give the service account 'View wiki' "
                                         "and 'Edit wiki pages' there"))
                continue
            if not self.admin:
                roles, permissions = self._permissions_in(user, int(project["id"]))
                if "edit_wiki_pages" not in permissions:
                    self.checks.append(Check(
                        title, False, f"role {', '.join(roles) or '(not a member)'} lacks "
                        "'Edit wiki pages' (edit_wiki_pages)",
                        "an administrator grants it to the service account's role there"))
                    continue
            self.checks.append(Check(title, True, "the wiki exists and may be edited"))


def _defined_field_detail(name: str, definition: Mapping[str, Any],
                          projects: list[_Project]) -> str:
    """What doctor says of a field it found defined (an administrator's key) and in use."""
    detail = (f"{FORMAT_NAMES.get(definition.get('field_format', ''), '?')}, on every "
              "tracker of the projects")
    unknown = [p.identifier for p in projects if name not in p.enabled_fields
               and not any(name in (names or ()) for names in p.samples.values())]
    if not definition.get("visible", True):
        roles = ", ".join(r["name"] for r in definition.get("roles", [])) or "no role"
        detail += (f"; visible only to {roles} (a service account that is no "
                   "administrator needs one of those roles)")
    if unknown:
        # The API has no is_for_all: a field for all projects is listed by none.
        detail += (f"; for all projects, or not enabled for {', '.join(unknown)} "
                   "(the API does not say, and no issue there shows it yet)")
    return detail


def diagnose(tracker: RedmineTracker, needs: Needs) -> list[Check]:
    """Every check of `slabridge doctor` against the tracker's Redmine, in order."""
    return RedmineDoctor(tracker, needs).run()
