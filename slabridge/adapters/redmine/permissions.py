"""What slabridge's own account may do in each configured project, asked before writing
what Redmine would silently drop."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from slabridge.adapters.redmine.catalog import RedmineCatalog
from slabridge.adapters.redmine.transport import RedmineTransport
from slabridge.errors import TrackerError


def roles_of(user_id: int, memberships: Iterable[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(id, name) of a user's roles in a project's memberships, those inherited from a
    group included (Redmine lists them under the user too).

    The project's members are read, not the user's memberships: a service account in
    thousands of projects makes /users/current.json?include=memberships take seconds.
    """
    return [(int(role["id"]), str(role.get("name", role["id"])))
            for membership in memberships
            if membership.get("user", {}).get("id") == user_id
            for role in membership.get("roles", [])]


class RedminePermissions:
    """slabridge's permissions per project, from its memberships and its roles."""

    def __init__(self, transport: RedmineTransport, catalog: RedmineCatalog) -> None:
        self._transport = transport
        self._catalog = catalog
        self._permissions: dict[str, frozenset[str] | None] = {}
        self._role_permissions: dict[int, frozenset[str]] = {}

    def permissions_in(self, project: str) -> frozenset[str] | None:
        """slabridge's permissions in a configured project, from the project's members and
        the roles' permission lists (readable by any user); None where it may do everything
        (an administrator) or where Redmine does not say (no membership, roles unreadable).

        Redmine drops what a role may not write and still answers 204, so slabridge asks
        before it writes what it cannot check afterwards (a note's privacy) or would
        announce in the note (the sprint move).
        """
        if project not in self._permissions:
            self._permissions[project] = self._read_permissions(project)
        return self._permissions[project]

    def _read_permissions(self, project: str) -> frozenset[str] | None:
        user = self._catalog.current_user()
        if user.get("admin"):
            return None
        project_id = self._catalog.project_ids().get(project)
        if project_id is None:
            return None
        try:
            role_ids = {role_id for role_id, _ in roles_of(
                int(user["id"]), self._transport.pages(
                    f"/projects/{project_id}/memberships.json", "memberships", {}))}
        except TrackerError:
            return None  # the members list hidden by a plugin or a proxy: not known
        if not role_ids:
            return None
        permissions: set[str] = set()
        for role_id in sorted(role_ids):
            if role_id not in self._role_permissions:
                try:
                    role = self._transport.request("get", f"/roles/{role_id}.json")["role"]
                except (TrackerError, KeyError, TypeError):
                    return None  # an older Redmine, or a proxy in the way: not known
                self._role_permissions[role_id] = frozenset(role.get("permissions", []))
            permissions |= self._role_permissions[role_id]
        return frozenset(permissions)

    def check_private_notes(self) -> None:
        """With notes.private on, refuse to write where Redmine would make the notes
        public: a role without "Set notes as private" gets its private flag dropped, and
        customers would read internal terms."""
        lacking = [project for project in self._catalog.projects
                   if (allowed := self.permissions_in(project)) is not None
                   and "set_notes_private" not in allowed]
        if lacking:
            raise TrackerError(
                "notes.private is on, but slabridge's role in project(s) "
                + ", ".join(lacking) + " lacks 'Set notes as private': Redmine would "
                "write its notes public, for customers to read. Give the service account's "
                "role that permission (Administration > Roles and permissions), or set "
                "notes.private: false; nothing was written"
            )
