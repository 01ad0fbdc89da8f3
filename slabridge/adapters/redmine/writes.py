"""Writes to Redmine issues: a TicketUpdate as one prepared PUT (fields, note, version,
assignee, priority), then its watchers; the user and priority ids they need."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
import structlog
from redminelib import exceptions as rex

from slabridge.adapters.redmine.catalog import RedmineCatalog
from slabridge.adapters.redmine.transport import RedmineTransport
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import IssueError

log = structlog.get_logger("slabridge.redmine")


class IssueWriter:
    """Prepares updates: ids looked up and the body encoded before anything is sent."""

    def __init__(self, transport: RedmineTransport, catalog: RedmineCatalog, *,
                 private_notes: bool) -> None:
        self._transport = transport
        self._catalog = catalog
        self._private_notes = private_notes
        self._priority_ids: dict[str, int] | None = None
        self._user_ids: dict[str, int] = {}
        self._members_read = False
        self._watchers_refused = False

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """Fields, note, version, assignee and priority in one PUT (one journal entry),
        ready to send: ids looked up, body encoded (see Tracker); watchers after it."""
        key = update.ticket_key
        payload: dict[str, Any] = {}
        custom_fields = self._custom_fields(update)
        if custom_fields:
            payload["custom_fields"] = custom_fields
        if update.note:
            payload["notes"] = update.note
            if self._private_notes:
                payload["private_notes"] = True
        if update.sprint is not None:
            payload["fixed_version_id"] = int(update.sprint.id)
        if update.assignee:
            payload["assigned_to_id"] = self._user_id_of(update.assignee, key)
        if update.priority:
            payload["priority_id"] = self._priority_id(update.priority, key)
        body = orjson.dumps({"issue": payload}) if payload else None
        path = f"/issues/{int(key)}.json"
        put = partial(self._transport.put_issue, key, path, body) if body else None
        if put is not None and not update.watchers:
            return put  # the usual write: one PUT

        def send() -> None:
            if put is not None:
                put()
            # Watchers after the PUT, looked up only then: an unknown login must not keep
            # the fields and the note from being written.
            for person in update.watchers:
                self._add_watcher(key, person)

        return send

    def _custom_fields(self, update: TicketUpdate) -> list[dict[str, Any]]:
        """The update's fields as Redmine's custom_fields, by id."""
        key = update.ticket_key
        names, ids = self._catalog.field_names, self._catalog.field_ids
        wanted = [names[r] for r in update.fields if r in names]
        if any(name not in ids for name in wanted):
            # A non-admin key learns field ids from issues; after a restart a write that
            # comes from the clock alone has listed none yet: read them off this issue.
            raw = self._transport.errors.call(
                partial(self._transport.get_json, f"/issues/{int(key)}.json", {}), issue=key)
            for cf in raw.get("issue", {}).get("custom_fields", ()):
                ids.setdefault(cf["name"], cf["id"])
        custom_fields = []
        for role, value in update.fields.items():
            name = names.get(role)
            if name is None:
                continue
            if name not in ids:
                raise IssueError(
                    f"issue #{key}: custom field {name!r} is not available "
                    "(missing, or not enabled for this project or tracker)"
                )
            custom_fields.append({"id": ids[name], "value": value})
        return custom_fields

    def _add_watcher(self, key: str, person: str) -> None:
        user_id = self._user_id_of(person, key)
        try:
            self._transport.raw_request("post", f"/issues/{int(key)}/watchers.json",
                                        data={"user_id": user_id})
        except rex.ForbiddenError:
            # The stock Developer role may not add watchers. The note and fields are
            # written; say once what to grant instead of failing every cycle.
            if not self._watchers_refused:
                self._watchers_refused = True
                log.warning("watchers_not_added", issue=key, person=person,
                            reason="forbidden (HTTP 403): give slabridge's role the "
                                   "'Add watchers' permission")
        except Exception as exc:
            self._transport.errors.raise_translated(exc, key)

    def _user_id_of(self, person: str, issue: str) -> int:
        """A user id from an id or a login.

        Finding a login in /users.json needs an administrator's key; a non-admin key finds
        it among the members of the configured projects (/users/{id}.json names logins).
        """
        if person.isdigit():
            return int(person)
        if person not in self._user_ids:
            try:
                users = self._transport.raw_request(
                    "get", "/users.json", params={"name": person, "limit": 100})["users"]
            except rex.ForbiddenError:
                self._learn_member_logins()
            except Exception as exc:
                self._transport.errors.raise_translated(exc, None)
            else:
                for user in users:
                    if user.get("login") == person:
                        self._user_ids[person] = int(user["id"])
            if person not in self._user_ids:
                raise IssueError(f"issue #{issue}: no Redmine user with login {person!r}"
                                 " among the members of the configured projects")
        return self._user_ids[person]

    def _learn_member_logins(self) -> None:
        """Logins of the configured projects' members (readable without admin rights)."""
        if self._members_read:
            return
        member_ids: set[int] = set()
        for project_id in self._catalog.project_ids().values():
            for membership in self._transport.pages(f"/projects/{project_id}/memberships.json",
                                                    "memberships", {}):
                if "user" in membership:
                    member_ids.add(int(membership["user"]["id"]))
        for user_id in sorted(member_ids - set(self._user_ids.values())):
            user = self._transport.request("get", f"/users/{user_id}.json")["user"]
            if user.get("login"):
                self._user_ids[str(user["login"])] = user_id
        self._members_read = True

    def _priority_id(self, name: str, issue: str) -> int:
        if self._priority_ids is None:
            priorities = self._transport.request(
                "get", "/enumerations/issue_priorities.json")["issue_priorities"]
            self._priority_ids = {p["name"]: int(p["id"]) for p in priorities}
        if name not in self._priority_ids:
            raise IssueError(f"issue #{issue}: no Redmine priority named {name!r}")
        return self._priority_ids[name]
