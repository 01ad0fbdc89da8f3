"""Which Redmine version is a project's current sprint (where Fastlane issues go)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from slabridge.adapters.redmine.permissions import RedminePermissions
from slabridge.adapters.redmine.translate import parse_time
from slabridge.adapters.redmine.transport import RedmineTransport
from slabridge.domain.model import Sprint
from slabridge.errors import SprintUnavailableError


class SprintPolicy:
    """The current sprint by `rule`: current_dates or default_version."""

    def __init__(self, transport: RedmineTransport, permissions: RedminePermissions,
                 rule: str, local_zone: ZoneInfo) -> None:
        self._transport = transport
        self._permissions = permissions
        self._rule = rule
        self._local_zone = local_zone

    def current_sprint(self, project: str) -> Sprint | None:
        """The project's current sprint: an open version (never a closed one).

        current_dates: the open version due soonest from today (undated ones last);
        default_version: the project's default version if it is open.
        """
        allowed = self._permissions.permissions_in(project)
        if allowed is not None and "edit_issues" not in allowed:
            raise SprintUnavailableError(
                f"slabridge's role in project {project} lacks 'Edit issues', so Redmine "
                "would not set the target version: Fastlane issues stay where they are "
                "until the role has it")
        versions = self._transport.request(
            "get", f"/projects/{project}/versions.json").get("versions", [])
        open_versions = [v for v in versions if v.get("status") == "open"]
        if self._rule == "default_version":
            info = self._transport.request("get", f"/projects/{project}.json")["project"]
            default = (info.get("default_version") or {}).get("id")
            chosen = [v for v in open_versions if v["id"] == default]
        else:
            today = datetime.now(UTC).date().isoformat()
            dated = sorted((v for v in open_versions if (v.get("due_date") or "") >= today),
                           key=lambda v: v["due_date"])
            chosen = dated or [v for v in open_versions if not v.get("due_date")]
        if not chosen:
            return None
        version = chosen[0]
        return Sprint(str(version["id"]), version["name"], version["status"], None,
                      parse_time(version.get("due_date"), self._local_zone))
