"""Arranging and inspecting test data in the real Redmine, as the agency's people would.

The admin key only sets things up (projects, memberships, versions) and reads what is
there; customers report issues with their own keys, staff answer with theirs, and
slabridge runs as its own non-admin service account (see deploy/redmine-local/setup.rb).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redminelib import Redmine

SERVICE = "slabridge"
STAFF = "sam.staff"
ACME_CUSTOMER = "carla.acme"
GLOBEX_CUSTOMER = "gus.globex"


def agency_customers(projects: Mapping[str, str], globex_tier: str = "premium") -> str:
    """The configuration's customers and the rules that find them: Acme on Advanced and
    Globex on `globex_tier`, each by its own project (`projects`: role -> identifier).

    Shared by the integration tests' workspace and benchmarks/unattended_soak.py.
    """
    return f"""\
customers:
  acme:
    name: Acme Webshop GmbH
    contracts: [{{tier: advanced, from: 2020-01-01}}]
  globex:
    name: Globex Corporation
    contracts: [{{tier: {globex_tier}, from: 2020-01-01}}]
classification:
  customers:
    - name: Acme project
      match: {{project: {projects["acme"]}}}
      customer: acme
    - name: Globex project
      match: {{project: {projects["globex"]}}}
      customer: globex
"""


class RedmineAdmin:
    """Thin helpers over python-redmine for tests: the admin arranges, people act."""

    def __init__(self, url: str, api_key: str, accounts: Mapping[str, str]) -> None:
        self.url = url
        self.redmine = Redmine(url, key=api_key)
        self.accounts = dict(accounts)
        self.clients = {login: Redmine(url, key=key) for login, key in accounts.items()}
        self.priorities = {
            p.name: p.id for p in self.redmine.enumeration.filter(resource="issue_priorities")
        }
        self.trackers = {t.name: t.id for t in self.redmine.tracker.all()}
        self.statuses = {s.name: s.id for s in self.redmine.issue_status.all()}
        self.fields = {f.name: f.id for f in self.redmine.custom_field.all()}
        self.roles = {r.name: r.id for r in self.redmine.role.all()}
        self.user_ids = {login: int(self.clients[login].user.get("current").id)
                         for login in accounts}
        self.reporter_of: dict[str, str] = {}
        """project identifier -> login of the customer who reports there"""

    @property
    def service_key(self) -> str:
        """slabridge's own API key (non-admin, Developer in every test project)."""
        return self.accounts[SERVICE]

    def make_project(self, identifier: str, customer: str = ACME_CUSTOMER,
                     members: Mapping[str, str] | None = None) -> int:
        """A new private project with every tracker and the agency's members.

        The customer reports (Reporter), staff and slabridge's service account are
        Developers; `members` (login -> role name) replaces that set.
        """
        project = self.redmine.project.create(
            name=identifier, identifier=identifier, is_public=False,
            tracker_ids=list(self.trackers.values()),
            enabled_module_names=["issue_tracking", "time_tracking"],
        )
        wanted = members if members is not None else {
            SERVICE: "Developer", STAFF: "Developer", customer: "Reporter"}
        for login, role in wanted.items():
            self.redmine.project_membership.create(
                project_id=project.id, user_id=self.user_ids[login],
                role_ids=[self.roles[role]])
        self.reporter_of[identifier] = customer if customer in wanted else STAFF
        return int(project.id)

    def make_issue(self, project: str, subject: str, priority: str = "Normal",
                   tracker: str = "Bug", reporter: str | None = None, **custom: str) -> int:
        """A new issue, reported by the project's customer (or `reporter`); keyword
        arguments set custom fields by name (underscores as spaces)."""
        fields = [{"id": self.fields[name.replace("_", " ")], "value": value}
                  for name, value in custom.items()]
        client = self.clients[reporter or self.reporter_of.get(project, STAFF)]
        issue = client.issue.create(
            project_id=project, subject=subject, priority_id=self.priorities[priority],
            tracker_id=self.trackers[tracker], custom_fields=fields,
        )
        return int(issue.id)

    def raw(self, issue_id: int) -> dict[str, Any]:
        """The issue's JSON with journals (private notes included: read as the admin)."""
        result: dict[str, Any] = self.redmine.engine.request(
            "get", f"{self.redmine.url}/issues/{issue_id}.json",
            params={"include": "journals"},
        )["issue"]
        return result

    def field(self, issue_id: int, name: str) -> str:
        """A custom field's value ("" if empty)."""
        for custom in self.raw(issue_id)["custom_fields"]:
            if custom["name"] == name:
                return str(custom.get("value") or "")
        raise KeyError(name)

    def notes(self, issue_id: int) -> list[str]:
        """Texts of all non-empty notes."""
        return [j["notes"] for j in self.raw(issue_id).get("journals", []) if j.get("notes")]

    def journal_count(self, issue_id: int) -> int:
        """How many journal entries the issue has."""
        return len(self.raw(issue_id).get("journals", []))

    def set_status(self, issue_id: int, status: str, by: str = STAFF) -> None:
        """Change the status, as staff (by default)."""
        self.clients[by].issue.update(issue_id, status_id=self.statuses[status])

    def answer(self, issue_id: int, text: str, by: str = STAFF) -> None:
        """A public note, as staff (by default)."""
        self.clients[by].issue.update(issue_id, notes=text)

    def move(self, issue_id: int, project: str) -> None:
        """Move an issue to another project."""
        self.redmine.issue.update(issue_id, project_id=project)

    def delete(self, issue_id: int) -> None:
        """Delete an issue."""
        self.redmine.issue.delete(issue_id)
