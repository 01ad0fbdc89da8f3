"""Arranging and inspecting test data in the real Redmine (admin client)."""

from __future__ import annotations

from typing import Any

from redminelib import Redmine


class RedmineAdmin:
    """Thin helpers over python-redmine for tests."""

    def __init__(self, url: str, api_key: str) -> None:
        self.redmine = Redmine(url, key=api_key)
        self.priorities = {
            p.name: p.id for p in self.redmine.enumeration.filter(resource="issue_priorities")
        }
        self.trackers = {t.name: t.id for t in self.redmine.tracker.all()}
        self.statuses = {s.name: s.id for s in self.redmine.issue_status.all()}
        self.fields = {f.name: f.id for f in self.redmine.custom_field.all()}

    def make_project(self, identifier: str) -> int:
        """A new public project with issue tracking and every tracker."""
        project = self.redmine.project.create(
            name=identifier, identifier=identifier, is_public=True,
            tracker_ids=list(self.trackers.values()),
            enabled_module_names=["issue_tracking", "time_tracking"],
        )
        return int(project.id)

    def make_issue(self, project: str, subject: str, priority: str = "Normal",
                   tracker: str = "Bug", **custom: str) -> int:
        """A new issue; keyword arguments set custom fields by name (underscores as spaces)."""
        fields = [{"id": self.fields[name.replace("_", " ")], "value": value}
                  for name, value in custom.items()]
        issue = self.redmine.issue.create(
            project_id=project, subject=subject, priority_id=self.priorities[priority],
            tracker_id=self.trackers[tracker], custom_fields=fields,
        )
        return int(issue.id)

    def raw(self, issue_id: int) -> dict[str, Any]:
        """The issue's JSON with journals."""
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

    def set_status(self, issue_id: int, status: str) -> None:
        """Change the status (as the admin, not the reporter... both are admin here)."""
        self.redmine.issue.update(issue_id, status_id=self.statuses[status])

    def move(self, issue_id: int, project: str) -> None:
        """Move an issue to another project."""
        self.redmine.issue.update(issue_id, project_id=project)

    def delete(self, issue_id: int) -> None:
        """Delete an issue."""
        self.redmine.issue.delete(issue_id)
