"""Jira's issue, changelog, comment and worklog JSON as slabridge's Ticket, Journal and
TimeEntry, read defensively (reading.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from slabridge.adapters.jira.adf import adf_closing_paragraph, adf_text
from slabridge.adapters.jira.reading import (
    ISSUE_KEY,
    NUMERIC_ID,
    Unreadable,
    UnreadableIssueError,
    field_value,
    issue_name,
    kind_of,
    object_member,
    objects_in,
    optional_list,
    optional_object,
    parse_jira_time,
    text_member,
    time_member,
)
from slabridge.adapters.receipt import receipt_in
from slabridge.domain.annotations import note_keys_in, written_by_slabridge
from slabridge.domain.model import (
    Journal,
    Note,
    StatusChange,
    Ticket,
    TicketFacts,
    TimeEntry,
)

PROPERTY = "slabridge.sla"
"""The issue property slabridge's values go to where no fields are configured."""


class JiraTranslator:
    """Reads issues with the site's field definitions (read by JiraTracker.prepare); learns
    issue keys by id from the issues it reads."""

    def __init__(self, field_names: Mapping[str, str | None] | None,
                 receipt_field: str | None, local_zone: ZoneInfo) -> None:
        self.field_names = (
            {role: name for role, name in field_names.items() if name} if field_names else None
        )
        self.fields_by_name: dict[str, dict[str, Any]] = {}
        """field definitions of /field by name (the first of a name)"""
        self.keys_by_id: dict[str, str] = {}
        self._receipt_field = receipt_field
        self._local_zone = local_zone

    def field_id(self, name: str) -> str:
        """The id of a field known by name (e.g. customfield_10020)."""
        return str(self.fields_by_name[name]["id"])

    def field_type(self, name: str) -> Any:
        """A field's schema type (datetime, number, string...), if it says."""
        schema = self.fields_by_name[name].get("schema")
        return schema.get("type") if isinstance(schema, dict) else None

    def ticket_from(self, raw: Any, position: int | None = None) -> Ticket:
        """A Jira issue's JSON as a Ticket; UnreadableIssueError names what is wrong (and
        the issue by its `position` in a listing where it has no key)."""
        try:
            return self._read_ticket(raw)
        except Unreadable as fault:
            raise UnreadableIssueError(issue_name(raw, position), fault.field,
                                       fault.problem) from None

    def _read_ticket(self, raw: Any) -> Ticket:
        if not isinstance(raw, dict):
            raise Unreadable("the issue", f"is {kind_of(raw)}, not an object")
        key = text_member(raw, "key", "key")
        if not ISSUE_KEY.fullmatch(key):
            raise Unreadable("key", f"is not an issue key: {key!r:.40}")
        fields = object_member(raw, "fields", "fields")
        custom: dict[str, str | tuple[str, ...]] = {}
        for name, field in self.fields_by_name.items():
            if field["id"] in fields and str(field["id"]).startswith("customfield_"):
                custom[name] = field_value(fields[field["id"]])
        status = object_member(fields, "status", "fields.status")
        status_name = text_member(status, "name", "fields.status.name")
        category = object_member(status, "statusCategory", "fields.status.statusCategory")
        category_key = text_member(category, "key", "fields.status.statusCategory.key")
        created = time_member(fields, "created", "fields.created")
        updated = time_member(fields, "updated", "fields.updated")
        project = text_member(object_member(fields, "project", "fields.project"), "key",
                        "fields.project.key")
        issue_type = text_member(object_member(fields, "issuetype", "fields.issuetype"), "name",
                           "fields.issuetype.name")
        priority = fields.get("priority")
        if priority is not None and not isinstance(priority, dict):
            raise Unreadable("fields.priority", f"is {kind_of(priority)}, not an object")
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise Unreadable("fields.labels", f"is {kind_of(labels)}, not a list of labels")
        reporter = optional_object(fields, "reporter", "fields.reporter", "a user")
        received, receipt_problem = receipt_in(custom, self._receipt_field, self._local_zone,
                                               created)
        sla_fields = self._sla_fields(raw, custom)
        issue_id = raw.get("id")
        if isinstance(issue_id, str | int) and not isinstance(issue_id, bool):
            self.keys_by_id[str(issue_id)] = key
        return Ticket(
            key=key,
            facts=TicketFacts(
                project=project,
                tracker=issue_type,
                priority=text_member(priority, "name", "fields.priority.name", required=False)
                if priority else "",
                status=status_name,
                labels=frozenset(labels),
                custom_fields=custom,
            ),
            subject=text_member(fields, "summary", "fields.summary", required=False),
            created=created,
            updated=updated,
            status=status_name,
            closed=category_key == "done",
            reporter=str(reporter.get("accountId") or reporter.get("name") or ""),
            received_field=received,
            sla_fields=sla_fields,
            pristine=updated == created and not any(sla_fields.values()),
            sprint=self._sprint_of(fields),
            tracked_fields=frozenset(self.field_names) if self.field_names else None,
            receipt_problem=receipt_problem,
        )

    def _sla_fields(self, raw: Mapping[str, Any],
                    custom: Mapping[str, str | tuple[str, ...]]) -> dict[str, str]:
        """slabridge's values on the issue: from the configured fields, else from the issue
        property."""
        if self.field_names:
            return {role: self._stored_value(name, custom.get(name, ""))
                    for role, name in self.field_names.items()}
        properties = raw.get("properties")
        stored = properties.get(PROPERTY) if isinstance(properties, dict) else None
        # Someone else's value in our property is no SLA data: it is written anew.
        return ({str(k): str(v) for k, v in stored.items() if isinstance(v, str)}
                if isinstance(stored, dict) else {})

    def _sprint_of(self, fields: Mapping[str, Any]) -> str | None:
        sprint_field = self.fields_by_name.get("Sprint")
        if sprint_field is None:
            return None
        sprints = fields.get(sprint_field["id"]) or []
        if not isinstance(sprints, list):
            raise Unreadable(f"fields.{sprint_field['id']} (Sprint)",
                              f"is {kind_of(sprints)}, not a list of sprints")
        for sprint in sprints:
            if isinstance(sprint, dict) and sprint.get("state") in ("active", "future"):
                return str(sprint.get("id"))
        return None

    def _stored_value(self, name: str, value: str | tuple[str, ...]) -> str:
        text = value if isinstance(value, str) else ",".join(value)
        if self.field_type(name) == "datetime" and text:
            parsed = parse_jira_time(text)
            return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else text
        return text


    def journal_from(self, raw: Mapping[str, Any]) -> Journal:
        changes: list[StatusChange] = []
        changelog = optional_object(raw, "changelog", "changelog")
        histories = optional_list(changelog, "histories", "changelog.histories")
        for where, history in objects_in(histories, "changelog.histories"):
            items = optional_list(history, "items", f"{where}.items")
            for item in items:
                if isinstance(item, dict) and item.get("field") == "status":
                    changes.append(StatusChange(
                        time_member(history, "created", f"{where}.created"),
                        text_member(item, "fromString", f"{where}.items.fromString",
                                    required=False),
                        text_member(item, "toString", f"{where}.items.toString",
                                    required=False)))
        changes.sort(key=lambda c: c.at)
        notes: list[Note] = []
        own: set[str] = set()
        fields = object_member(raw, "fields", "fields")
        page = optional_object(fields, "comment", "fields.comment", "a page of comments")
        comments = optional_list(page, "comments", "fields.comment.comments")
        for where, comment in objects_in(comments, "fields.comment.comments"):
            author = optional_object(comment, "author", f"{where}.author", "a user")
            public = True if comment.get("jsdPublic") is None else comment["jsdPublic"]
            if not isinstance(public, bool):
                raise Unreadable(f"{where}.jsdPublic", f"is {kind_of(public)}, not a boolean")
            own |= note_keys_in(adf_text(comment.get("body")))
            if written_by_slabridge(adf_closing_paragraph(comment.get("body"))):
                continue  # never a response, whichever account posted it
            notes.append(Note(
                time_member(comment, "created", f"{where}.created"),
                str(author.get("accountId") or author.get("name") or ""),
                public=public,
                author_name=str(author.get("displayName") or ""),
            ))
        initial = changes[0].old if changes else text_member(
            object_member(fields, "status", "fields.status"), "name", "fields.status.name")
        return Journal(initial, tuple(changes), tuple(notes), frozenset(own))


    def time_entry(self, raw: Any) -> TimeEntry:
        """One worklog of /worklog/list as a TimeEntry."""
        if not isinstance(raw, dict):
            raise Unreadable("worklog", f"is {kind_of(raw)}, not an object")
        worklog_id = raw.get("id")
        if not isinstance(worklog_id, str | int) or isinstance(worklog_id, bool) \
                or not str(worklog_id):
            raise Unreadable("id", f"is {kind_of(worklog_id)}, not an id")
        issue_id = raw.get("issueId")
        if isinstance(issue_id, int) and not isinstance(issue_id, bool):
            issue_id = str(issue_id)
        author = optional_object(raw, "author", "author", "a user")
        seconds = raw.get("timeSpentSeconds") or 0
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            raise Unreadable("timeSpentSeconds", f"is {kind_of(seconds)}, not seconds")
        return TimeEntry(
            id=str(worklog_id),
            # Only a numeric id names an issue (it goes into a URL).
            ticket_key=issue_id if isinstance(issue_id, str)
            and NUMERIC_ID.fullmatch(issue_id) else None,
            author=str(author.get("accountId") or author.get("name") or ""),
            started=time_member(raw, "started", "started"),
            seconds=seconds,
            updated=time_member(raw, "updated", "updated"),
            comment=adf_text(raw.get("comment")),
        )
