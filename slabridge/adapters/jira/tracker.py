"""Jira Cloud and Data Center through the `jira` library: JQL polling, changelog, comments.

Requests used (checked against Atlassian's OpenAPI descriptions in the tests):
GET serverInfo, myself, field; GET search/jql (nextPageToken paging; the old /search
answers 410 on Cloud); GET issue/{key}?expand=changelog; PUT issue/{key} (fields plus a
comment in one request); PUT issue/{key}/properties/slabridge.sla; POST issue/{key}/comment;
GET agile board/{id}/sprint?state=active; POST agile sprint/{id}/issue (50 at most per call);
GET worklog/updated, POST worklog/list.

Whatever Jira sends, reading it ends in a Ticket or in one of slabridge's errors: an issue
that cannot be read raises UnreadableIssueError (an IssueError: the issue is reported and
skipped, the cycle goes on), and listings are bounded (isLast, a repeated page token, a
page cap).

JiraTracker reads and writes issues itself and is composed of one part per concern:
transport.py (the client, counted requests), error_map.py (failures as slabridge's
errors), reading.py (defensive JSON reading), translate.py (issues as Tickets and
Journals), adf.py (rich text), sprints.py (the board's sprint) and worklogs.py (hours).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from jira import JIRA

from slabridge.adapters.jira.adf import to_adf, with_mentions
from slabridge.adapters.jira.reading import NUMERIC_ID, Unreadable, UnreadableIssueError, kind_of
from slabridge.adapters.jira.sprints import JiraSprints
from slabridge.adapters.jira.translate import PROPERTY, JiraTranslator
from slabridge.adapters.jira.transport import JiraConnection, json_of
from slabridge.adapters.jira.worklogs import JiraWorklogs
from slabridge.domain.model import Journal, Sprint, Ticket, TimeEntryBatch
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import TrackerError

log = structlog.get_logger("slabridge.jira")
BASE_FIELDS = ("summary", "status", "priority", "issuetype", "labels", "project", "created",
               "updated", "reporter")
SEARCH_PAGE_SIZE = 100  # what /search/jql gives at most when fields are asked for
SEARCH_PAGE_CAP = 1000  # 100,000 issues: a listing longer than this is taken for a fault
ALL_UNREADABLE_AT_LEAST = 2  # one odd issue never stops a cycle; every one of several does


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
        self.listing_started: datetime | None = None
        self._projects = tuple(projects)
        self._wanted = tuple(wanted_fields)
        self._receipt_field = receipt_field
        # Private notes: restricted to a group or role, else a JSM internal comment.
        self._comment_extras: dict[str, Any] = {}
        if private_notes:
            self._comment_extras = (
                {"visibility": dict(visibility)} if visibility else
                {"properties": [{"key": "sd.public.comment", "value": {"internal": True}}]})
        self._api_version = api_version
        self.connection = JiraConnection(self.name, token=token, email=email,
                                         api_version=api_version, timeout=timeout,
                                         retries=retries, verify_tls=verify_tls, client=client)
        self.translator = JiraTranslator(field_names, receipt_field, ZoneInfo(local_zone))
        # The translator's own: prepare() fills the field definitions in for both.
        self._field_names = self.translator.field_names
        self._fields_by_name = self.translator.fields_by_name
        self.sprints = JiraSprints(self.connection, board_id)
        self.worklogs = JiraWorklogs(self.connection, self.translator)
        self.deployment: str | None = None
        self._user: dict[str, Any] | None = None
        self.unreadable: list[str] = []
        """What was wrong with each issue the last listing skipped, one line per issue."""

    @property
    def requests_made(self) -> int:
        """Answers counted from Jira."""
        return self.connection.requests_made

    @requests_made.setter
    def requests_made(self, value: int) -> None:
        self.connection.requests_made = value

    @property
    def api_version(self) -> str:
        """The REST version in use ("2" or "3")."""
        return self.connection.api_version

    # --- reference data ------------------------------------------------------------------

    def prepare(self) -> None:
        """Deployment type, API version, our account, field ids; missing fields are named."""
        self.adopt_server_info(self.connection.get("serverInfo"))
        if self._user is None:
            self._user = self._myself()
        fields = self.connection.get("field")
        if not isinstance(fields, list):
            raise TrackerError(f"{self.name}: Jira's /field answer is {kind_of(fields)}, "
                               "not a list of fields")
        usable = [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)
                  and isinstance(f.get("id"), str) and f["id"]]
        for field in usable:
            self._fields_by_name.setdefault(field["name"], field)
        # Prime the library's own field cache (JQL names to ids) with the same answer, so
        # a library call does not read /field a second time.
        cache: dict[str, str] = {}
        for field in usable:
            names = field.get("clauseNames")
            for name in names if isinstance(names, list) else []:
                if isinstance(name, str):
                    cache[name] = field["id"]
        self.connection.client._fields_cache_value = cache
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

    def read_back(self, keys: Sequence[str]) -> dict[str, Ticket]:
        """Jira answers 400 for a field it will not store and the agile API for a sprint
        move it refuses, so nothing needs reading back."""
        return {}

    def issue_url(self, key: str) -> str:
        """The issue's page."""
        return f"{self.name}/browse/{key}"

    def field_label(self, role: str) -> str:
        """The custom field's name, or the issue property's key."""
        name = self._field_names.get(role) if self._field_names else None
        return repr(name) if name else f"{PROPERTY}.{role}"

    def adopt_server_info(self, info: Any) -> None:
        """Take the deployment type (and with api_version auto, the REST version) from
        /serverInfo's answer, decided on evidence where it does not say (see _deployment)."""
        declared = info.get("deploymentType") if isinstance(info, dict) else None
        self.deployment, evidence = self._deployment(declared)
        (log.info if declared in ("Cloud", "Server", "DataCenter") else log.warning)(
            "jira_deployment", url=self.name, deployment=self.deployment, evidence=evidence)
        # The library's own calls route by this (Cloud: /search/jql, else /search).
        self.connection.client.deploymentType = "Cloud" if self.deployment == "cloud" else "Server"
        if self._api_version == "auto":
            self.connection.client._options["rest_api_version"] = (
                "3" if self.deployment == "cloud" else "2"
            )

    def probe(self, path: str, params: Mapping[str, Any] | None = None, *,
              agile: bool = False) -> tuple[int, Any]:
        """See JiraConnection.probe (for `slabridge doctor`)."""
        return self.connection.probe(path, params, agile=agile)

    def _deployment(self, declared: Any) -> tuple[str, str]:
        """Cloud or Data Center, and the evidence: serverInfo, else the host, else /myself."""
        if declared == "Cloud":
            return "cloud", "serverInfo says Cloud"
        if declared in ("Server", "DataCenter"):
            return "datacenter", f"serverInfo says {declared}"
        said = f"serverInfo gives deploymentType {declared!r:.40}"
        host = (urlsplit(self.name).hostname or "").lower()
        if host.endswith(".atlassian.net"):
            return "cloud", f"{said}; the host {host} is Atlassian's cloud"
        if self._api_version == "3":
            return "cloud", f"{said}; api_version 3 exists on Cloud only"
        self._user = self._myself()
        if self._user.get("accountId") and not (self._user.get("key") or self._user.get("name")):
            return "cloud", f"{said}; /myself answers with an accountId only (Cloud)"
        if self._user.get("key") or self._user.get("name"):
            return "datacenter", f"{said}; /myself answers with a user key or name (Data Center)"
        raise TrackerError(
            f"{self.name}: cannot tell Jira Cloud from Data Center: {said}, the host is not "
            "*.atlassian.net and /myself shows neither an accountId (Cloud) nor a user name "
            "(Data Center)")

    def _myself(self) -> dict[str, Any]:
        """The API user, as /myself describes it."""
        user = self.connection.get("myself")
        if not isinstance(user, dict):
            raise TrackerError(f"{self.name}: Jira's /myself answer is {kind_of(user)}, "
                               "not a user")
        return user

    def own_authors(self) -> frozenset[str]:
        """Our account id (Cloud) or name (Data Center)."""
        if self._user is None:
            self._user = self._myself()
        return frozenset(
            str(self._user[k]) for k in ("accountId", "name", "key") if self._user.get(k)
        )

    def _user_zone(self) -> ZoneInfo:
        # JQL date literals are read in the API user's time zone.
        name = (self._user or {}).get("timeZone")
        try:
            return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
        except (KeyError, ValueError, OSError):
            return ZoneInfo("UTC")

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
        field_id = self.translator.field_id
        return [*BASE_FIELDS, *(field_id(n) for n in names if n in self._fields_by_name)]

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        """Issues of the configured projects, every page; unreadable ones skipped and named.

        Each issue that cannot be read is logged once (issue_unreadable) and kept in
        `unreadable` for the cycle's report. If every one of several issues fails on the
        same field, the fault is not the issues': the listing stops with a TrackerError
        naming that field.
        """
        self.listing_started = None
        self.unreadable = []
        reported: set[str] = set()
        faults: Counter[str] = Counter()
        listed = 0
        for raw in self._search(self.jql(updated_since, open_only)):
            listed += 1
            try:
                ticket = self.translator.ticket_from(raw, listed)
            except UnreadableIssueError as error:
                faults[error.field] += 1
                if error.key not in reported:
                    reported.add(error.key)
                    self.unreadable.append(str(error))
                    log.warning("issue_unreadable", issue=error.key, field=error.field,
                                problem=error.problem)
                continue
            yield ticket
        if listed >= ALL_UNREADABLE_AT_LEAST and faults:
            field, count = faults.most_common(1)[0]
            if count == listed:
                raise TrackerError(
                    f"{self.name}: no issue of the listing can be read: in all {listed}, "
                    f"{field} is wrong (first: {self.unreadable[0]}); check the field "
                    "configuration and what the API user may see")

    def _search(self, jql: str) -> Iterator[Any]:
        """The raw issues of a search, page by page, bounded.

        Cloud: /search/jql with nextPageToken (the old /search answers 410 there), until
        isLast; a token given twice or more than SEARCH_PAGE_CAP pages stop with a
        TrackerError. Data Center: /search with startAt, until the total or an empty page.
        """
        params: dict[str, Any] = {"jql": jql, "fields": ",".join(self._search_fields()),
                                  "maxResults": SEARCH_PAGE_SIZE}
        if not self._field_names:
            params["properties"] = PROPERTY
        cloud = self.deployment == "cloud"
        path = "search/jql" if cloud else "search"
        tokens: set[str] = set()
        token: str | None = None
        start = 0
        for number in range(1, SEARCH_PAGE_CAP + 1):
            page = self.connection.get(path, {**params, "nextPageToken": token} if token
                             else params if cloud else {**params, "startAt": start})
            where = f"{self.name}: Jira's /{path} page {number}"
            if not isinstance(page, dict):
                raise TrackerError(f"{where} is {kind_of(page)}, not a page of issues")
            issues = page.get("issues")
            if issues is None:
                issues = []
            if not isinstance(issues, list):
                raise TrackerError(f"{where}: 'issues' is {kind_of(issues)}, not a list")
            yield from issues
            if not cloud:
                start += len(issues)
                total = page.get("total")
                if not issues or not isinstance(total, int) or start >= total:
                    return
                continue
            next_token = page.get("nextPageToken")
            if page.get("isLast") is True or (
                    page.get("isLast") is None and not next_token):
                return
            if not isinstance(next_token, str) or not next_token:
                raise TrackerError(f"{where} says more follow (isLast false) but gives no "
                                   "nextPageToken: the listing would be incomplete")
            if next_token in tokens or next_token == token:
                raise TrackerError(f"{where} repeats the nextPageToken {next_token!r:.60} of an "
                                   "earlier page: Jira would page forever; stopped")
            tokens.add(next_token)
            token = next_token
        raise TrackerError(f"{self.name}: Jira's /{path} gave more than {SEARCH_PAGE_CAP} "
                           f"pages of {SEARCH_PAGE_SIZE} issues: stopped (narrow the projects, "
                           "or the server pages without end)")

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with changelog and comments, read now."""
        raw = self.connection.get(f"issue/{key}", {
            "expand": "changelog",
            "fields": ",".join([*self._search_fields(), "comment"]),
            **({} if self._field_names else {"properties": PROPERTY}),
        }, issue=key)
        ticket = self.translator.ticket_from(raw)
        try:
            return ticket, self.translator.journal_from(raw)
        except Unreadable as fault:
            raise UnreadableIssueError(key, fault.field, fault.problem) from None

    def journal(self, key: str) -> Journal:
        """Status changes from the changelog, comments and our own markers."""
        return self.fetch(key)[1]

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
            document = with_mentions(document, mentions)
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
                self.translator.field_id(self._field_names[role]): self._write_value(
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
                self.connection.send("put", f"issue/{key}", body, issue=key)
        else:
            if update.fields:
                self.connection.send("put", f"issue/{key}/properties/{PROPERTY}",
                           {**update.all_fields, **update.fields}, issue=key)
            if update.priority:
                self.connection.send("put", f"issue/{key}",
                           {"fields": {"priority": {"name": update.priority}}}, issue=key)
            if update.note:
                self.connection.send("post", f"issue/{key}/comment",
                           {"body": self.comment_body(update.note, update.mentions),
                            **self._comment_extras}, issue=key)
        if update.sprint is not None:
            self.sprints.move_to_sprint(update.sprint.id, [key])
        if update.assignee:
            who = "accountId" if self.deployment == "cloud" else "name"
            self.connection.send("put", f"issue/{key}/assignee", {who: update.assignee}, issue=key)
        for person in update.watchers:
            self.connection.send("post", f"issue/{key}/watchers", person, issue=key)

    def current_sprint(self, project: str) -> Sprint | None:
        """The active sprint of the configured board (one board serves the projects)."""
        return self.sprints.active_sprint()

    def _write_value(self, name: str, value: str) -> Any:
        kind = self.translator.field_type(name)
        if kind == "datetime" and value:
            return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if kind == "number":
            return float(value) if value else None
        return value or None

    # --- sprints, worklogs and statements -----------------------------------------------

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """Add the statement as a comment on the configured issue, or update that comment."""
        kind, _, key = target.partition(":")
        if kind != "issue":
            raise TrackerError(f"Jira statements go to an issue: use 'issue:KEY', not {target!r}")
        body = {"body": self.comment_body(f"*{title}*\n\n{text}")}
        if location:
            self.connection.send("put", f"issue/{key}/comment/{location}", body, issue=key)
            return location
        response = self.connection.send("post", f"issue/{key}/comment", body, issue=key)
        answer = json_of(response, f"issue {key}")
        comment_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(comment_id, str | int) or isinstance(comment_id, bool) \
                or not NUMERIC_ID.fullmatch(str(comment_id)):
            raise TrackerError(f"issue {key}: Jira took the statement but its answer gives "
                               f"no comment id ({kind_of(comment_id)})")
        return str(comment_id)

    # --- sprints and worklogs (escalation and hours build on these) ------------------------

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """See JiraWorklogs.read_time_entries."""
        return self.worklogs.read_time_entries(first_day, cursor)
