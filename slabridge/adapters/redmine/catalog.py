"""What one Redmine calls things, read once and kept: slabridge's own account, the
configured projects' ids, custom-field ids, status names and each tracker's default
status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import redminelib.exceptions as rex

from slabridge.adapters.redmine.transport import RedmineTransport
from slabridge.errors import TrackerError


class RedmineCatalog:
    """Reference data of one Redmine, each read at its first use."""

    def __init__(self, transport: RedmineTransport, projects: tuple[str, ...],
                 field_names: Mapping[str, str | None], receipt_field: str | None) -> None:
        self._transport = transport
        self.projects = projects
        self.field_names = {role: name for role, name in field_names.items() if name}
        """config role -> the custom field's name, for the roles configured"""
        self.receipt_field = receipt_field
        self.field_ids: dict[str, int] = {}
        """custom field name -> id: from /custom_fields.json, or learnt from issues"""
        self.fields_known_by_admin = False
        """whether field_ids holds every field (read with an administrator's key)"""
        self.project_names: dict[int, str] = {}
        self._project_ids: dict[str, int] | None = None
        self._status_names: dict[str, str] | None = None
        self._default_status: dict[str, str] | None = None
        self._user: Mapping[str, Any] | None = None

    def current_user(self) -> Mapping[str, Any]:
        """slabridge's own account (/users/current), without its memberships: a service
        account in thousands of projects would make that one request take seconds."""
        if self._user is None:
            self._user = self._transport.request("get", "/users/current.json")["user"]
        return self._user

    def project_ids(self) -> dict[str, int]:
        """Configured project identifiers to ids; an unknown one is a clear error.

        Each configured project is asked for by its identifier: listing /projects.json
        would cost a page per hundred projects the account can see, in a Redmine of
        thousands.
        """
        if self._project_ids is None:
            found = {identifier: self._project(identifier) for identifier in self.projects}
            missing = [p for p, number in found.items() if number is None]
            if missing:
                raise TrackerError(
                    f"project(s) not found or not visible to the API user: {', '.join(missing)}"
                )
            self._project_ids = {p: number for p, number in found.items() if number is not None}
            self.project_names = {number: p for p, number in self._project_ids.items()}
        return self._project_ids

    def _project(self, identifier: str) -> int | None:
        """A project's id, None where Redmine does not show it (404; 403: archived)."""
        try:
            project = self._transport.raw_request("get", f"/projects/{quote(identifier)}.json")
        except (rex.ResourceNotFoundError, rex.ForbiddenError):
            return None
        except Exception as exc:  # translated: unreachable, key refused, ...
            self._transport.errors.raise_translated(exc, None)
        return int(project["project"]["id"])

    def check_fields(self) -> None:
        """Find slabridge's custom fields by name; stop naming any that is missing."""
        redmine = self._transport.redmine
        try:
            fields = self._transport.errors.call(lambda: list(redmine.custom_field.all()))
        except TrackerError:
            return  # not an administrator: ids are learnt from the issues listed
        self.fields_known_by_admin = True
        for custom_field in fields:
            if getattr(custom_field, "customized_type", "issue") == "issue":
                self.field_ids[custom_field.name] = custom_field.id
        wanted = list(self.field_names.values())
        if self.receipt_field:
            wanted.append(self.receipt_field)
        missing = [name for name in wanted if name not in self.field_ids]
        if missing:
            raise TrackerError(
                "Redmine has no issue custom field named "
                + ", ".join(repr(m) for m in missing)
                + ": create it (deploy/redmine-local/start.sh does) or fix tracker.fields"
            )

    def statuses(self) -> dict[str, str]:
        """Status ids (as text) to names."""
        if self._status_names is None:
            redmine = self._transport.redmine
            statuses = self._transport.errors.call(lambda: list(redmine.issue_status.all()))
            self._status_names = {str(s.id): s.name for s in statuses}
        return self._status_names

    def default_statuses(self) -> dict[str, str]:
        """Tracker names to the status a new issue of that tracker gets."""
        if self._default_status is None:
            trackers = self._transport.request("get", "/trackers.json")["trackers"]
            self._default_status = {
                t["name"]: t["default_status"]["name"] for t in trackers if t.get("default_status")
            }
        return self._default_status
