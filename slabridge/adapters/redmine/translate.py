"""Redmine's issue JSON as slabridge's Ticket and Journal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slabridge.adapters.receipt import receipt_in
from slabridge.adapters.redmine.catalog import RedmineCatalog
from slabridge.domain.annotations import note_keys_in, written_by_slabridge
from slabridge.domain.model import (
    Journal,
    Note,
    StatusChange,
    Ticket,
    TicketFacts,
)


def parse_time(text: str | None, local_zone: ZoneInfo) -> datetime | None:
    """Redmine's ISO 8601 times (UTC with Z); naive texts are read in `local_zone`."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=local_zone)


def required_time(text: str) -> datetime:
    """A time Redmine always sends (created_on, updated_on), in UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


class IssueTranslator:
    """Reads issues and their journals; learns custom-field ids from the issues it reads."""

    def __init__(self, catalog: RedmineCatalog, local_zone: ZoneInfo) -> None:
        self._catalog = catalog
        self._field_names = catalog.field_names
        self._all_roles = frozenset(self._field_names)
        self._receipt_field = catalog.receipt_field
        self._local_zone = local_zone

    def ticket_from(self, raw: Mapping[str, Any]) -> Ticket:
        """A Redmine issue's JSON as a Ticket."""
        catalog = self._catalog
        custom: dict[str, str | tuple[str, ...]] = {}
        for cf in raw.get("custom_fields", []):
            catalog.field_ids.setdefault(cf["name"], cf["id"])
            value = cf.get("value")
            if isinstance(value, list):
                custom[cf["name"]] = tuple(str(v) for v in value)
            else:
                custom[cf["name"]] = "" if value is None else str(value)
        project_id = raw["project"]["id"]
        project = catalog.project_names.get(project_id) or str(raw["project"].get("name", ""))
        created = required_time(raw["created_on"])
        updated = required_time(raw["updated_on"])
        received, receipt_problem = receipt_in(custom, self._receipt_field, self._local_zone,
                                               created)
        sla_fields = {}
        for role, name in self._field_names.items():
            value = custom.get(name, "")
            sla_fields[role] = value if isinstance(value, str) else ",".join(value)
        # Only the fields this issue carries can be written (Redmine ignores the others:
        # not enabled for its project or tracker, or not visible to slabridge's role).
        present = [role for role, name in self._field_names.items() if name in custom]
        tracked = (self._all_roles if len(present) == len(self._field_names)
                   else frozenset(present))
        category = raw.get("category", {}).get("name")
        # Times have whole seconds, so "updated == created" alone could hide a change made
        # in the same second; the default status and empty SLA fields rule that out.
        pristine = (
            updated == created
            and raw["status"]["name"] == catalog.default_statuses().get(raw["tracker"]["name"])
            and not any(sla_fields.values())
        )
        return Ticket(
            key=str(raw["id"]),
            facts=TicketFacts(
                project=project,
                tracker=raw["tracker"]["name"],
                priority=raw["priority"]["name"],
                status=raw["status"]["name"],
                labels=frozenset({category}) if category else frozenset(),
                custom_fields=custom,
            ),
            subject=raw.get("subject", ""),
            created=created,
            updated=updated,
            status=raw["status"]["name"],
            closed=bool(raw["status"].get("is_closed", False)),
            reporter=str(raw["author"]["id"]),
            received_field=received,
            sla_fields=sla_fields,
            pristine=pristine,
            sprint=str(raw["fixed_version"]["id"]) if raw.get("fixed_version") else None,
            tracked_fields=tracked,
            receipt_problem=receipt_problem,
        )

    def journal_from(self, raw: Mapping[str, Any]) -> Journal:
        """Status changes, notes and slabridge's own note markers of an issue read with
        its journals."""
        statuses = self._catalog.statuses()
        changes: list[StatusChange] = []
        notes: list[Note] = []
        own: set[str] = set()
        for entry in raw.get("journals", []):
            at = required_time(entry["created_on"])
            for detail in entry.get("details", []):
                if detail.get("property") == "attr" and detail.get("name") == "status_id":
                    old = statuses.get(str(detail.get("old_value")), str(detail.get("old_value")))
                    new = statuses.get(str(detail.get("new_value")), str(detail.get("new_value")))
                    changes.append(StatusChange(at, old, new))
            text = entry.get("notes") or ""
            # slabridge's notes are not responses whichever account posted them (an admin
            # key tried first, the service account after it): only their keys count.
            if text.strip() and not written_by_slabridge(text):
                user = entry.get("user") or {}
                notes.append(Note(at, str(user.get("id", "")),
                                  public=not entry.get("private_notes", False),
                                  author_name=str(user.get("name") or "")))
            own |= note_keys_in(text)
        initial = changes[0].old if changes else raw["status"]["name"]
        return Journal(initial, tuple(changes), tuple(notes), frozenset(own))
