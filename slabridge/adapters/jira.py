"""Jira Cloud and Data Center through the `jira` library: JQL polling, changelog, comments.

Requests used (checked against Atlassian's OpenAPI descriptions in the tests):
GET serverInfo, myself, field; GET search/jql (nextPageToken paging; the old /search
answers 410 on Cloud); GET issue/{key}?expand=changelog; PUT issue/{key} (fields plus a
comment in one request); PUT issue/{key}/properties/slabridge.sla; POST issue/{key}/comment;
GET agile board/{id}/sprint?state=active; POST agile sprint/{id}/issue (50 at most per call);
GET worklog/updated, POST worklog/list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from jira import JIRA, JIRAError

from slabridge.domain.annotations import note_keys_in
from slabridge.domain.model import (
    Journal,
    Note,
    Sprint,
    StatusChange,
    Ticket,
    TicketFacts,
    TimeEntry,
    TimeEntryBatch,
    checked_receipt,
)
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import (
    IssueError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
)

T = TypeVar("T")
PROPERTY = "slabridge.sla"
SPRINT_BATCH = 50  # POST sprint/{id}/issue takes at most 50 issues
WORKLOG_BATCH = 1000  # POST worklog/list takes at most 1000 ids
BASE_FIELDS = ("summary", "status", "priority", "issuetype", "labels", "project", "created",
               "updated", "reporter")
_BOLD = re.compile(r"\*([^*\n]+)\*")


def parse_jira_time(text: str | None) -> datetime | None:
    """Jira's timestamps, e.g. 2026-11-23T10:00:00.000+0100."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def _required_time(text: str) -> datetime:
    value = parse_jira_time(text)
    if value is None:
        raise TrackerError(f"Jira sent an unreadable time: {text!r}")
    return value


def to_adf(text: str) -> dict[str, Any]:
    """Plain text with *bold* spans as an Atlassian Document Format document (API v3)."""
    paragraphs = []
    for block in (b for b in text.split("\n\n") if b.strip()):
        content: list[dict[str, Any]] = []
        position = 0
        flat = " ".join(block.splitlines())
        for match in _BOLD.finditer(flat):
            if match.start() > position:
                content.append({"type": "text", "text": flat[position:match.start()]})
            content.append({"type": "text", "text": match.group(1),
                            "marks": [{"type": "strong"}]})
            position = match.end()
        if position < len(flat):
            content.append({"type": "text", "text": flat[position:]})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_text(node: Any) -> str:
    """The plain text of an ADF document (or a v2 string body as is)."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        own = node.get("text", "")
        children = " ".join(adf_text(child) for child in node.get("content", []))
        return f"{own} {children}".strip()
    return ""


def _with_mentions(document: dict[str, Any], people: Sequence[str]) -> dict[str, Any]:
    """Replace "@id" inside ADF text nodes with mention nodes."""
    pattern = re.compile("(" + "|".join(re.escape(f"@{p}") for p in people) + ")")
    for paragraph in document["content"]:
        content: list[dict[str, Any]] = []
        for node in paragraph["content"]:
            if node.get("marks") or "@" not in node.get("text", ""):
                content.append(node)
                continue
            for part in pattern.split(node["text"]):
                if not part:
                    continue
                if pattern.fullmatch(part):
                    content.append({"type": "mention", "attrs": {"id": part[1:]}})
                else:
                    content.append({"type": "text", "text": part})
        paragraph["content"] = content
    return document


def field_value(value: Any) -> str | tuple[str, ...]:
    """A Jira field value as text: options, users, organizations and lists flattened."""
    if value is None:
        return ""
    if isinstance(value, list):
        return tuple(str(field_value(v)) for v in value)
    if isinstance(value, dict):
        for key in ("value", "name", "displayName", "key"):
            if key in value:
                return str(value[key])
        return json.dumps(value, sort_keys=True)
    return str(value)


class JiraTracker:
    """The Tracker port on Jira Cloud (API token) or Data Center (personal access token)."""

    def __init__(
        self,
        url: str,
        projects: Sequence[str],
        *,
        token: str,
        email: str | None = None,
        api_version: str = "auto",
        field_names: Mapping[str, str | None] | None = None,
        wanted_fields: Sequence[str] = (),
        receipt_field: str | None = None,
        board_id: int | None = None,
        local_zone: str = "Europe/Vienna",
        timeout: float = 30,
        retries: int = 3,
        verify_tls: bool = True,
        private_notes: bool = False,
        visibility: Mapping[str, str] | None = None,
        client: JIRA | None = None,
    ) -> None:
        self.name = url.rstrip("/")
        self.requests_made = 0
        self.listing_started: datetime | None = None
        self._projects = tuple(projects)
        self._field_names = (
            {role: name for role, name in field_names.items() if name} if field_names else None
        )
        self._wanted = tuple(wanted_fields)
        self._receipt_field = receipt_field
        # Private notes: restricted to a group or role, else a JSM internal comment.
        self._comment_extras: dict[str, Any] = {}
        if private_notes:
            self._comment_extras = (
                {"visibility": dict(visibility)} if visibility else
                {"properties": [{"key": "sd.public.comment", "value": {"internal": True}}]})
        self._board_id = board_id
        self._local_zone = ZoneInfo(local_zone)
        self._api_version = api_version
        # One retry layer only: the library's own (429 and 503, honouring Retry-After).
        self._client = client or JIRA(
            server=self.name,
            basic_auth=(email, token) if email else None,
            token_auth=None if email else token,
            get_server_info=False,
            max_retries=retries,
            timeout=timeout,
            # v2 exists on Cloud and Data Center alike: serverInfo decides what "auto" means.
            options={"rest_api_version": "2" if api_version == "auto" else api_version,
                     "verify": verify_tls},
        )
        self._client._session.hooks["response"].append(self._count)
        self.deployment: str | None = None
        self._user: dict[str, Any] | None = None
        self._fields_by_name: dict[str, dict[str, Any]] = {}
        self._keys_by_id: dict[str, str] = {}

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests_made += 1

    @property
    def api_version(self) -> str:
        """The REST version in use ("2" or "3")."""
        return str(self._client._options["rest_api_version"])

    def call(self, action: Callable[[], T], issue: str | None = None) -> T:
        """Run a jira-library call and translate its failures into slabridge's errors."""
        where = f"issue {issue}" if issue else self.name
        try:
            return action()
        except JIRAError as exc:
            code = exc.status_code or 0
            text = (exc.text or "").strip()[:300]
            if code == 401:
                raise TrackerAuthError(
                    f"Jira at {self.name} rejected the credentials (HTTP 401): check the API "
                    "token variable (and the e-mail for Cloud)"
                ) from None
            if code == 429 or code >= 500:
                raise TrackerUnavailableError(f"{where}: Jira unavailable: HTTP {code}") from None
            if code == 410:
                raise TrackerError(f"{where}: Jira removed this endpoint (HTTP 410): {text}") \
                    from None
            if issue is not None:
                raise IssueError(f"{where}: HTTP {code}: {text}") from None
            raise TrackerError(f"{where}: HTTP {code}: {text}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TrackerUnavailableError(f"{where}: Jira unreachable: {exc}") from None

    def _get(self, path: str, params: Mapping[str, Any] | None = None,
             issue: str | None = None, agile: bool = False) -> Any:
        base = JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL
        client = self._client
        return self.call(
            lambda: client._get_json(path, params=dict(params or {}), base=base),
            issue=issue,
        )

    def _send(self, method: str, path: str, body: Any, issue: str | None = None,
              agile: bool = False) -> requests.Response:
        url = self._client._get_url(
            path, base=JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL
        )
        session = self._client._session
        sender = getattr(session, method)
        response: requests.Response = self.call(
            lambda: sender(url, data=json.dumps(body)), issue=issue
        )
        return response

    # --- reference data ------------------------------------------------------------------

    def prepare(self) -> None:
        """Deployment type, API version, our account, field ids; missing fields are named."""
        self.adopt_server_info(self._get("serverInfo"))
        self._user = self._get("myself")
        fields = self._get("field")
        for field in fields:
            self._fields_by_name.setdefault(field["name"], field)
        # Prime the library's own field cache (JQL names to ids) with the same answer, so
        # the search does not read /field a second time.
        self._client._fields_cache_value = {
            name: field["id"] for field in fields for name in field.get("clauseNames", [])
        }
        wanted = list(self._wanted)
        if self._receipt_field:
            wanted.append(self._receipt_field)
        if self._field_names:
            wanted += list(self._field_names.values())
        missing = [name for name in wanted if name not in self._fields_by_name]
        if missing:
            raise TrackerError(
                "Jira has no field named " + ", ".join(repr(m) for m in missing)
                + " (checked through /field): create it or fix the configuration"
            )

    def stored_fields(self, keys: Sequence[str]) -> dict[str, dict[str, str]]:
        """Jira answers 400 for a field it will not store, so nothing needs reading back."""
        return {}

    def issue_url(self, key: str) -> str:
        """The issue's page."""
        return f"{self.name}/browse/{key}"

    def field_label(self, role: str) -> str:
        """The custom field's name, or the issue property's key."""
        name = self._field_names.get(role) if self._field_names else None
        return repr(name) if name else f"{PROPERTY}.{role}"

    def adopt_server_info(self, info: Mapping[str, Any]) -> None:
        """Take the deployment type (and with api_version auto, the REST version) from
        /serverInfo's answer."""
        self.deployment = "cloud" if info.get("deploymentType") == "Cloud" else "datacenter"
        # The library routes searches by this: Cloud to /search/jql, Data Center to /search.
        self._client.deploymentType = info.get("deploymentType")
        if self._api_version == "auto":
            self._client._options["rest_api_version"] = (
                "3" if self.deployment == "cloud" else "2"
            )

    def probe(self, path: str, params: Mapping[str, Any] | None = None, *,
              agile: bool = False) -> tuple[int, Any]:
        """A GET whose refusal is returned, not raised: (HTTP status, JSON or None), for
        `slabridge doctor`; a connection failure is raised as requests raises it."""
        url = self._client._get_url(
            path, base=JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL)
        try:
            response = self._client._session.get(url, params=dict(params or {}))
        except JIRAError as exc:
            if exc.response is None:
                return exc.status_code or 0, None
            response = exc.response
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def own_authors(self) -> frozenset[str]:
        """Our account id (Cloud) or name (Data Center)."""
        if self._user is None:
            self._user = self._get("myself")
        return frozenset(
            str(self._user[k]) for k in ("accountId", "name", "key") if self._user.get(k)
        )

    def _user_zone(self) -> ZoneInfo:
        # JQL date literals are read in the API user's time zone.
        name = (self._user or {}).get("timeZone")
        try:
            return ZoneInfo(name) if name else ZoneInfo("UTC")
        except (KeyError, ValueError):
            return ZoneInfo("UTC")

    def _field_id(self, name: str) -> str:
        return str(self._fields_by_name[name]["id"])

    # --- reading -------------------------------------------------------------------------

    def jql(self, updated_since: datetime | None, open_only: bool) -> str:
        """The JQL for a listing; the date literal in the API user's zone, floored to minutes."""
        projects = ", ".join(json.dumps(p) for p in self._projects)
        clauses = [f"project in ({projects})"]
        if updated_since is not None:
            local = updated_since.astimezone(self._user_zone())
            clauses.append(f'updated >= "{local.strftime("%Y/%m/%d %H:%M")}"')
        if open_only:
            clauses.append("statusCategory != Done")
        return " AND ".join(clauses) + " ORDER BY updated DESC"

    def _search_fields(self) -> list[str]:
        names = [*self._wanted, "Sprint"]
        if self._receipt_field:
            names.append(self._receipt_field)
        if self._field_names:
            names += list(self._field_names.values())
        return [*BASE_FIELDS, *(self._field_id(n) for n in names if n in self._fields_by_name)]

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        """Issues of the configured projects, every page.

        On Cloud the library uses /search/jql with nextPageToken (the old /search answers
        410 there); Data Center keeps /search with startAt. maxResults=False makes it follow
        every page: a number would silently return the first page only.
        """
        self.listing_started = None
        issues = self.call(lambda: self._client.search_issues(
            self.jql(updated_since, open_only), maxResults=False,
            fields=self._search_fields(),
            properties=None if self._field_names else PROPERTY,
        ))
        for issue in issues:
            yield self.ticket_from(issue.raw)

    def ticket_from(self, raw: Mapping[str, Any]) -> Ticket:
        """A Jira issue's JSON as a Ticket."""
        fields = raw["fields"]
        custom: dict[str, str | tuple[str, ...]] = {}
        for name, field in self._fields_by_name.items():
            if field["id"] in fields and str(field["id"]).startswith("customfield_"):
                custom[name] = field_value(fields[field["id"]])
        status = fields["status"]
        created = _required_time(fields["created"])
        updated = _required_time(fields["updated"])
        received, receipt_problem = None, ""
        if self._receipt_field:
            value = custom.get(self._receipt_field)
            text = value if isinstance(value, str) else ""
            received, receipt_problem = checked_receipt(
                self._receipt_field, text, self._local_zone, created)
        if self._field_names:
            sla_fields = {}
            for role, name in self._field_names.items():
                value = custom.get(name, "")
                sla_fields[role] = self._read_back(name, value)
        else:
            stored = (raw.get("properties") or {}).get(PROPERTY) or {}
            sla_fields = {str(k): str(v) for k, v in stored.items()}
        reporter = fields.get("reporter") or {}
        self._keys_by_id[str(raw.get("id", ""))] = str(raw["key"])
        return Ticket(
            key=str(raw["key"]),
            facts=TicketFacts(
                project=fields["project"]["key"],
                tracker=fields["issuetype"]["name"],
                priority=(fields.get("priority") or {}).get("name", ""),
                status=status["name"],
                labels=frozenset(fields.get("labels") or ()),
                custom_fields=custom,
            ),
            subject=fields.get("summary", ""),
            created=created,
            updated=updated,
            status=status["name"],
            closed=status.get("statusCategory", {}).get("key") == "done",
            reporter=str(reporter.get("accountId") or reporter.get("name") or ""),
            received_field=received,
            sla_fields=sla_fields,
            pristine=updated == created and not any(sla_fields.values()),
            sprint=self._sprint_of(fields),
            tracked_fields=frozenset(self._field_names) if self._field_names else None,
            receipt_problem=receipt_problem,
        )

    def _sprint_of(self, fields: Mapping[str, Any]) -> str | None:
        sprint_field = self._fields_by_name.get("Sprint")
        if sprint_field is None:
            return None
        for sprint in fields.get(sprint_field["id"]) or []:
            if isinstance(sprint, dict) and sprint.get("state") in ("active", "future"):
                return str(sprint.get("id"))
        return None

    def _read_back(self, name: str, value: str | tuple[str, ...]) -> str:
        text = value if isinstance(value, str) else ",".join(value)
        if self._fields_by_name[name].get("schema", {}).get("type") == "datetime" and text:
            parsed = parse_jira_time(text)
            return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else text
        return text

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with changelog and comments, read now."""
        raw = self._get(f"issue/{key}", {
            "expand": "changelog",
            "fields": ",".join([*self._search_fields(), "comment"]),
            **({} if self._field_names else {"properties": PROPERTY}),
        }, issue=key)
        return self.ticket_from(raw), self._journal_from(raw)

    def journal(self, key: str) -> Journal:
        """Status changes from the changelog, comments and our own markers."""
        return self.fetch(key)[1]

    def _journal_from(self, raw: Mapping[str, Any]) -> Journal:
        changes: list[StatusChange] = []
        for history in (raw.get("changelog") or {}).get("histories", []):
            at = _required_time(history["created"])
            for item in history.get("items", []):
                if item.get("field") == "status":
                    changes.append(StatusChange(at, str(item.get("fromString") or ""),
                                                str(item.get("toString") or "")))
        changes.sort(key=lambda c: c.at)
        notes: list[Note] = []
        own: set[str] = set()
        comments = ((raw.get("fields") or {}).get("comment") or {}).get("comments", [])
        for comment in comments:
            author = comment.get("author") or {}
            notes.append(Note(
                _required_time(comment["created"]),
                str(author.get("accountId") or author.get("name") or ""),
                public=comment.get("jsdPublic", True),
                author_name=str(author.get("displayName") or ""),
            ))
            own |= note_keys_in(adf_text(comment.get("body")))
        initial = changes[0].old if changes else raw["fields"]["status"]["name"]
        return Journal(initial, tuple(changes), tuple(notes), frozenset(own))

    # --- writing -------------------------------------------------------------------------

    def comment_body(self, text: str, mentions: Sequence[str] = ()) -> Any:
        """Wiki markup on API v2, Atlassian Document Format on v3; @people become mentions."""
        if self.api_version == "2":
            for person in mentions:
                tag = f"[~accountid:{person}]" if self.deployment == "cloud" else f"[~{person}]"
                text = text.replace(f"@{person}", tag)
            return text
        document = to_adf(text)
        if mentions:
            document = _with_mentions(document, mentions)
        return document

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """The update, sent as a whole by `update` (see Tracker.prepare_update)."""
        return partial(self.update, update)

    def update(self, update: TicketUpdate) -> None:
        """Custom fields, priority and comment in one PUT; or the issue property and the
        comment; then sprint, assignee and watchers."""
        key = update.ticket_key
        if self._field_names:
            body: dict[str, Any] = {}
            fields = {
                self._field_id(self._field_names[role]): self._write_value(
                    self._field_names[role], value)
                for role, value in update.fields.items() if role in self._field_names
            }
            if update.priority:
                fields["priority"] = {"name": update.priority}
            if fields:
                body["fields"] = fields
            if update.note:
                body["update"] = {"comment": [{"add": {
                    "body": self.comment_body(update.note, update.mentions),
                    **self._comment_extras}}]}
            if body:
                self._send("put", f"issue/{key}", body, issue=key)
        else:
            if update.fields:
                self._send("put", f"issue/{key}/properties/{PROPERTY}",
                           {**update.all_fields, **update.fields}, issue=key)
            if update.priority:
                self._send("put", f"issue/{key}",
                           {"fields": {"priority": {"name": update.priority}}}, issue=key)
            if update.note:
                self._send("post", f"issue/{key}/comment",
                           {"body": self.comment_body(update.note, update.mentions),
                            **self._comment_extras}, issue=key)
        if update.sprint is not None:
            self.move_to_sprint(update.sprint.id, [key])
        if update.assignee:
            who = "accountId" if self.deployment == "cloud" else "name"
            self._send("put", f"issue/{key}/assignee", {who: update.assignee}, issue=key)
        for person in update.watchers:
            self._send("post", f"issue/{key}/watchers", person, issue=key)

    def current_sprint(self, project: str) -> Sprint | None:
        """The active sprint of the configured board (one board serves the projects)."""
        return self.active_sprint()

    def _write_value(self, name: str, value: str) -> Any:
        kind = self._fields_by_name[name].get("schema", {}).get("type")
        if kind == "datetime" and value:
            return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if kind == "number":
            return float(value) if value else None
        return value or None

    # --- sprints, worklogs and statements -----------------------------------------------

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """Worklogs changed since the cursor (or since `first_day` the first time)."""
        since = (datetime.fromtimestamp(int(cursor) / 1000, UTC) if cursor
                 else datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC))
        entries, until = self.worklogs_updated_since(since)
        resolved = [replace(e, ticket_key=self._key_for(e.ticket_key)) for e in entries]
        return TimeEntryBatch(resolved, complete_from=None,
                              cursor=str(int(until.timestamp() * 1000)))

    def _key_for(self, issue_id: str | None) -> str | None:
        """Worklogs name issues by id; tickets are keyed by issue key."""
        if issue_id is None:
            return None
        if issue_id not in self._keys_by_id:
            raw = self._get(f"issue/{issue_id}", {"fields": "project"}, issue=issue_id)
            self._keys_by_id[issue_id] = str(raw["key"])
        return self._keys_by_id[issue_id]

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """Add the statement as a comment on the configured issue, or update that comment."""
        kind, _, key = target.partition(":")
        if kind != "issue":
            raise TrackerError(f"Jira statements go to an issue: use 'issue:KEY', not {target!r}")
        body = {"body": self.comment_body(f"*{title}*\n\n{text}")}
        if location:
            self._send("put", f"issue/{key}/comment/{location}", body, issue=key)
            return location
        response = self._send("post", f"issue/{key}/comment", body, issue=key)
        return str(response.json()["id"])

    # --- sprints and worklogs (escalation and hours build on these) ------------------------

    def active_sprint(self) -> Sprint | None:
        """The active sprint of the configured board, if any."""
        if self._board_id is None:
            raise TrackerError("tracker.board_id is not set: no board to take the sprint from")
        data = self._get(f"board/{self._board_id}/sprint", {"state": "active"}, agile=True)
        for value in data.get("values", []):
            return Sprint(str(value["id"]), value.get("name", ""), value.get("state", ""),
                          parse_jira_time(value.get("startDate")),
                          parse_jira_time(value.get("endDate")))
        return None

    def move_to_sprint(self, sprint_id: str, keys: Sequence[str]) -> int:
        """Move issues into a sprint, 50 per request; returns the number of requests."""
        batches = [list(keys[i:i + SPRINT_BATCH]) for i in range(0, len(keys), SPRINT_BATCH)]
        for batch in batches:
            self._send("post", f"sprint/{sprint_id}/issue", {"issues": batch}, agile=True)
        return len(batches)

    def worklogs_updated_since(self, since: datetime) -> tuple[list[TimeEntry], datetime]:
        """Worklogs changed since `since` and the time to ask from next time.

        /worklog/updated pages through ids (per-issue worklog calls return one page only),
        then /worklog/list fetches them, 1000 per request.
        """
        ids: list[int] = []
        cursor = int(since.timestamp() * 1000)
        until = cursor
        while True:
            page = self._get("worklog/updated", {"since": cursor})
            ids += [int(v["worklogId"]) for v in page.get("values", [])]
            until = int(page.get("until", until))
            if page.get("lastPage", True):
                break
            cursor = until
        entries: list[TimeEntry] = []
        for start in range(0, len(ids), WORKLOG_BATCH):
            response = self._send("post", "worklog/list", {"ids": ids[start:start + WORKLOG_BATCH]})
            for raw in response.json():
                entries.append(TimeEntry(
                    id=str(raw["id"]),
                    ticket_key=str(raw.get("issueId")) if raw.get("issueId") else None,
                    author=str((raw.get("author") or {}).get("accountId")
                               or (raw.get("author") or {}).get("name") or ""),
                    started=_required_time(raw["started"]),
                    seconds=int(raw.get("timeSpentSeconds", 0)),
                    updated=_required_time(raw["updated"]),
                    comment=adf_text(raw.get("comment")),
                ))
        return entries, datetime.fromtimestamp(until / 1000, UTC)
