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
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
import structlog
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
log = structlog.get_logger("slabridge.jira")
PROPERTY = "slabridge.sla"
SPRINT_BATCH = 50  # POST sprint/{id}/issue takes at most 50 issues
WORKLOG_BATCH = 1000  # POST worklog/list takes at most 1000 ids
BASE_FIELDS = ("summary", "status", "priority", "issuetype", "labels", "project", "created",
               "updated", "reporter")
SEARCH_PAGE_SIZE = 100  # what /search/jql gives at most when fields are asked for
SEARCH_PAGE_CAP = 1000  # 100,000 issues: a listing longer than this is taken for a fault
WORKLOG_PAGE_CAP = 1000  # /worklog/updated gives 1000 ids a page
ALL_UNREADABLE_AT_LEAST = 2  # one odd issue never stops a cycle; every one of several does
YEARS = (1970, 2999)  # times outside are not Jira's (and would overflow the calendar)
MAX_EPOCH_MS = 32503680000000  # 3000-01-01 in milliseconds
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]{1,18}")
_NUMERIC_ID = re.compile(r"[0-9]{1,18}")


class UnreadableIssueError(IssueError):
    """Jira sent an issue slabridge cannot read; names the issue and the field at fault."""

    def __init__(self, key: str, field: str, problem: str) -> None:
        self.key, self.field, self.problem = key, field, problem
        super().__init__(f"issue {key}: cannot be read: {field} {problem}")


class _Unreadable(Exception):  # noqa: N818 - internal: becomes UnreadableIssueError with the key
    """A field of an issue that cannot be read, and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r:.20})"
    if isinstance(value, str):
        return f"text ({value!r:.30})"
    return "a list" if isinstance(value, list) else "an object"


def _object(container: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    """A required JSON object member."""
    if name not in container:
        raise _Unreadable(path, "is missing")
    value = container[name]
    if not isinstance(value, dict):
        raise _Unreadable(path, f"is {_kind(value)}, not an object")
    return value


def _text(container: Mapping[str, Any], name: str, path: str, *, required: bool = True) -> str:
    """A text member; a missing, null or empty one is an error where it is required."""
    value = container.get(name)
    if value is None:
        if required:
            raise _Unreadable(path, "is missing" if name not in container else "is null")
        return ""
    if not isinstance(value, str):
        raise _Unreadable(path, f"is {_kind(value)}, not text")
    if required and not value.strip():
        raise _Unreadable(path, "is empty")
    return value


def _time(container: Mapping[str, Any], name: str, path: str) -> datetime:
    """A required time member in Jira's format."""
    text = _text(container, name, path)
    value = parse_jira_time(text)
    if value is None:
        raise _Unreadable(path, f"is not a time: {text!r:.40}")
    return value


def _issue_name(raw: Any, position: int | None = None) -> str:
    """How to name an issue in a message: its key, else its id, else its place."""
    if isinstance(raw, dict):
        key = raw.get("key")
        if isinstance(key, str) and key.strip():
            return key[:40]
        if isinstance(raw.get("id"), str | int) and not isinstance(raw.get("id"), bool):
            return f"with id {str(raw['id'])[:20]}"
    return f"#{position} of the listing" if position is not None else "without a key"


def parse_jira_time(text: Any) -> datetime | None:
    """Jira's timestamps, e.g. 2026-11-23T10:00:00.000+0100; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        return None
    return value if YEARS[0] <= year <= YEARS[1] else None


def _json_of(response: requests.Response, where: str) -> Any:
    """The JSON body of a response we sent a write for."""
    try:
        return response.json()
    except ValueError:
        raise TrackerError(f"{where}: Jira's answer is not JSON") from None


def _endpoint(error: JIRAError) -> str:
    """The method and path of the request that failed, as far as the error tells."""
    request = getattr(error.response, "request", None)
    url = error.url or getattr(request, "url", None) or ""
    method = getattr(request, "method", None) or ""
    path = urlsplit(str(url)).path
    return f"{method} {path}".strip() or "a request"


def _jira_message(error: JIRAError) -> str:
    """Jira's own words for an error: errorMessages and errors, else the raw text."""
    parts: list[str] = []
    try:
        body = error.response.json() if error.response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        messages = body.get("errorMessages")
        if isinstance(messages, list):
            parts += [str(m) for m in messages if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
    if not parts:
        text = (error.text or "").strip()
        if not text and error.response is not None:
            text = (getattr(error.response, "text", "") or "").strip() \
                or str(getattr(error.response, "reason", "") or "")
        parts = [text] if text else ["(no message)"]
    return "; ".join(parts)[:300]


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
    """The plain text of an ADF document (or a v2 string body as is); odd nodes give ''."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        own = node.get("text")
        own = own if isinstance(own, str) else ""
        content = node.get("content")
        children = " ".join(adf_text(child) for child in content) \
            if isinstance(content, list) else ""
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
        self.unreadable: list[str] = []
        """What was wrong with each issue the last listing skipped, one line per issue."""

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
            endpoint, text = _endpoint(exc), _jira_message(exc)
            if code == 401:
                raise TrackerAuthError(
                    f"Jira at {self.name} rejected the credentials (HTTP 401) on {endpoint}: "
                    "check the API token variable (and the e-mail for Cloud)"
                ) from None
            if code == 429 or code >= 500:
                raise TrackerUnavailableError(
                    f"{where}: Jira unavailable: HTTP {code} on {endpoint}: {text}") from None
            if code == 410:
                raise TrackerError(f"{where}: Jira removed this endpoint (HTTP 410): "
                                   f"{endpoint}: {text}") from None
            if issue is not None:
                raise IssueError(f"{where}: HTTP {code} on {endpoint}: {text}") from None
            raise TrackerError(f"{where}: HTTP {code} on {endpoint}: {text}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TrackerUnavailableError(f"{where}: Jira unreachable: {exc}") from None
        except ValueError:  # a 2xx answer whose body is not JSON (requests' JSONDecodeError)
            raise TrackerError(f"{where}: Jira's answer is not JSON") from None

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
        if self._user is None:
            self._user = self._myself()
        fields = self._get("field")
        if not isinstance(fields, list):
            raise TrackerError(f"{self.name}: Jira's /field answer is {_kind(fields)}, "
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
        self._client._fields_cache_value = cache
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
        self._client.deploymentType = "Cloud" if self.deployment == "cloud" else "Server"
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
        user = self._get("myself")
        if not isinstance(user, dict):
            raise TrackerError(f"{self.name}: Jira's /myself answer is {_kind(user)}, "
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

    def _field_id(self, name: str) -> str:
        return str(self._fields_by_name[name]["id"])

    def _field_type(self, name: str) -> Any:
        schema = self._fields_by_name[name].get("schema")
        return schema.get("type") if isinstance(schema, dict) else None

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
                ticket = self._ticket_from(raw, listed)
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
            page = self._get(path, {**params, "nextPageToken": token} if token
                             else params if cloud else {**params, "startAt": start})
            where = f"{self.name}: Jira's /{path} page {number}"
            if not isinstance(page, dict):
                raise TrackerError(f"{where} is {_kind(page)}, not a page of issues")
            issues = page.get("issues")
            if issues is None:
                issues = []
            if not isinstance(issues, list):
                raise TrackerError(f"{where}: 'issues' is {_kind(issues)}, not a list")
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

    def ticket_from(self, raw: Any) -> Ticket:
        """A Jira issue's JSON as a Ticket; UnreadableIssueError names what is wrong."""
        return self._ticket_from(raw, None)

    def _ticket_from(self, raw: Any, position: int | None) -> Ticket:
        try:
            return self._read_ticket(raw)
        except _Unreadable as fault:
            raise UnreadableIssueError(_issue_name(raw, position), fault.field,
                                       fault.problem) from None

    def _read_ticket(self, raw: Any) -> Ticket:
        if not isinstance(raw, dict):
            raise _Unreadable("the issue", f"is {_kind(raw)}, not an object")
        key = _text(raw, "key", "key")
        if not _ISSUE_KEY.fullmatch(key):
            raise _Unreadable("key", f"is not an issue key: {key!r:.40}")
        fields = _object(raw, "fields", "fields")
        custom: dict[str, str | tuple[str, ...]] = {}
        for name, field in self._fields_by_name.items():
            if field["id"] in fields and str(field["id"]).startswith("customfield_"):
                custom[name] = field_value(fields[field["id"]])
        status = _object(fields, "status", "fields.status")
        status_name = _text(status, "name", "fields.status.name")
        category = _object(status, "statusCategory", "fields.status.statusCategory")
        category_key = _text(category, "key", "fields.status.statusCategory.key")
        created = _time(fields, "created", "fields.created")
        updated = _time(fields, "updated", "fields.updated")
        project = _text(_object(fields, "project", "fields.project"), "key",
                        "fields.project.key")
        issue_type = _text(_object(fields, "issuetype", "fields.issuetype"), "name",
                           "fields.issuetype.name")
        priority = fields.get("priority")
        if priority is not None and not isinstance(priority, dict):
            raise _Unreadable("fields.priority", f"is {_kind(priority)}, not an object")
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise _Unreadable("fields.labels", f"is {_kind(labels)}, not a list of labels")
        reporter = fields.get("reporter") or {}
        if not isinstance(reporter, dict):
            raise _Unreadable("fields.reporter", f"is {_kind(reporter)}, not a user")
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
            properties = raw.get("properties")
            stored = properties.get(PROPERTY) if isinstance(properties, dict) else None
            # Someone else's value in our property is no SLA data: it is written anew.
            sla_fields = ({str(k): str(v) for k, v in stored.items() if isinstance(v, str)}
                          if isinstance(stored, dict) else {})
        issue_id = raw.get("id")
        if isinstance(issue_id, str | int) and not isinstance(issue_id, bool):
            self._keys_by_id[str(issue_id)] = key
        return Ticket(
            key=key,
            facts=TicketFacts(
                project=project,
                tracker=issue_type,
                priority=_text(priority, "name", "fields.priority.name", required=False)
                if priority else "",
                status=status_name,
                labels=frozenset(labels),
                custom_fields=custom,
            ),
            subject=_text(fields, "summary", "fields.summary", required=False),
            created=created,
            updated=updated,
            status=status_name,
            closed=category_key == "done",
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
        sprints = fields.get(sprint_field["id"]) or []
        if not isinstance(sprints, list):
            raise _Unreadable(f"fields.{sprint_field['id']} (Sprint)",
                              f"is {_kind(sprints)}, not a list of sprints")
        for sprint in sprints:
            if isinstance(sprint, dict) and sprint.get("state") in ("active", "future"):
                return str(sprint.get("id"))
        return None

    def _read_back(self, name: str, value: str | tuple[str, ...]) -> str:
        text = value if isinstance(value, str) else ",".join(value)
        if self._field_type(name) == "datetime" and text:
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
        ticket = self._ticket_from(raw, None)
        try:
            return ticket, self._journal_from(raw)
        except _Unreadable as fault:
            raise UnreadableIssueError(key, fault.field, fault.problem) from None

    def journal(self, key: str) -> Journal:
        """Status changes from the changelog, comments and our own markers."""
        return self.fetch(key)[1]

    def _journal_from(self, raw: Mapping[str, Any]) -> Journal:
        changes: list[StatusChange] = []
        changelog = raw.get("changelog") or {}
        if not isinstance(changelog, dict):
            raise _Unreadable("changelog", f"is {_kind(changelog)}, not an object")
        histories = changelog.get("histories") or []
        if not isinstance(histories, list):
            raise _Unreadable("changelog.histories", f"is {_kind(histories)}, not a list")
        for n, history in enumerate(histories):
            where = f"changelog.histories[{n}]"
            if not isinstance(history, dict):
                raise _Unreadable(where, f"is {_kind(history)}, not an object")
            items = history.get("items") or []
            if not isinstance(items, list):
                raise _Unreadable(f"{where}.items", f"is {_kind(items)}, not a list")
            for item in items:
                if isinstance(item, dict) and item.get("field") == "status":
                    changes.append(StatusChange(
                        _time(history, "created", f"{where}.created"),
                        _text(item, "fromString", f"{where}.items.fromString", required=False),
                        _text(item, "toString", f"{where}.items.toString", required=False)))
        changes.sort(key=lambda c: c.at)
        notes: list[Note] = []
        own: set[str] = set()
        fields = _object(raw, "fields", "fields")
        page = fields.get("comment") or {}
        if not isinstance(page, dict):
            raise _Unreadable("fields.comment", f"is {_kind(page)}, not a page of comments")
        comments = page.get("comments") or []
        if not isinstance(comments, list):
            raise _Unreadable("fields.comment.comments", f"is {_kind(comments)}, not a list")
        for n, comment in enumerate(comments):
            where = f"fields.comment.comments[{n}]"
            if not isinstance(comment, dict):
                raise _Unreadable(where, f"is {_kind(comment)}, not an object")
            author = comment.get("author") or {}
            if not isinstance(author, dict):
                raise _Unreadable(f"{where}.author", f"is {_kind(author)}, not a user")
            public = True if comment.get("jsdPublic") is None else comment["jsdPublic"]
            if not isinstance(public, bool):
                raise _Unreadable(f"{where}.jsdPublic", f"is {_kind(public)}, not a boolean")
            notes.append(Note(
                _time(comment, "created", f"{where}.created"),
                str(author.get("accountId") or author.get("name") or ""),
                public=public,
                author_name=str(author.get("displayName") or ""),
            ))
            own |= note_keys_in(adf_text(comment.get("body")))
        initial = changes[0].old if changes else _text(
            _object(fields, "status", "fields.status"), "name", "fields.status.name")
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
        kind = self._field_type(name)
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
            key = raw.get("key") if isinstance(raw, dict) else None
            if not isinstance(key, str) or not _ISSUE_KEY.fullmatch(key):
                raise UnreadableIssueError(f"with id {issue_id}", "key",
                                           f"is {_kind(key)}, not an issue key")
            self._keys_by_id[issue_id] = key
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
        answer = _json_of(response, f"issue {key}")
        comment_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(comment_id, str | int) or isinstance(comment_id, bool) \
                or not _NUMERIC_ID.fullmatch(str(comment_id)):
            raise TrackerError(f"issue {key}: Jira took the statement but its answer gives "
                               f"no comment id ({_kind(comment_id)})")
        return str(comment_id)

    # --- sprints and worklogs (escalation and hours build on these) ------------------------

    def active_sprint(self) -> Sprint | None:
        """The active sprint of the configured board, if any (sprints Jira sends odd are
        skipped and logged)."""
        if self._board_id is None:
            raise TrackerError("tracker.board_id is not set: no board to take the sprint from")
        data = self._get(f"board/{self._board_id}/sprint", {"state": "active"}, agile=True)
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, list):
            raise TrackerError(f"{self.name}: Jira's sprints of board {self._board_id}: "
                               f"'values' is {_kind(values)}, not a list")
        for value in values:
            sprint_id = value.get("id") if isinstance(value, dict) else None
            if (not isinstance(sprint_id, int | str) or isinstance(sprint_id, bool)
                    or not _NUMERIC_ID.fullmatch(str(sprint_id))
                    or int(sprint_id) >= 2**63):
                log.warning("sprint_unreadable", board=self._board_id,
                            problem=f"id is {_kind(sprint_id)}, not a sprint id")
                continue
            name, state = value.get("name"), value.get("state")
            return Sprint(str(int(sprint_id)), name if isinstance(name, str) else "",
                          state if isinstance(state, str) else "",
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
        for number in range(1, WORKLOG_PAGE_CAP + 1):
            page = self._get("worklog/updated", {"since": cursor})
            where = f"{self.name}: Jira's /worklog/updated page {number}"
            if not isinstance(page, dict):
                raise TrackerError(f"{where} is {_kind(page)}, not a page of worklog ids")
            values = page.get("values") or []
            if not isinstance(values, list):
                raise TrackerError(f"{where}: 'values' is {_kind(values)}, not a list")
            for value in values:
                worklog_id = value.get("worklogId") if isinstance(value, dict) else None
                if isinstance(worklog_id, int) and not isinstance(worklog_id, bool) \
                        and 0 < worklog_id < 2**63:
                    ids.append(worklog_id)
                else:
                    log.warning("worklog_unreadable", problem=f"worklogId is {_kind(worklog_id)}")
            last = page.get("lastPage") is not False
            next_until = page.get("until")
            if not isinstance(next_until, int) or isinstance(next_until, bool) \
                    or not 0 <= next_until <= MAX_EPOCH_MS:
                if last:
                    break  # nothing to continue from: ask from the same time next time
                raise TrackerError(f"{where}: 'until' is {_kind(next_until)}, not a time in "
                                   "milliseconds")
            until = max(until, next_until)
            if last:
                break
            if next_until <= cursor:
                raise TrackerError(f"{where} does not move on (until {next_until} after since "
                                   f"{cursor}): Jira would page forever; stopped")
            cursor = next_until
        else:
            raise TrackerError(f"{self.name}: Jira's /worklog/updated gave more than "
                               f"{WORKLOG_PAGE_CAP} pages: stopped")
        entries: list[TimeEntry] = []
        for start in range(0, len(ids), WORKLOG_BATCH):
            response = self._send("post", "worklog/list", {"ids": ids[start:start + WORKLOG_BATCH]})
            answer = _json_of(response, f"{self.name}: /worklog/list")
            if not isinstance(answer, list):
                raise TrackerError(f"{self.name}: Jira's /worklog/list answer is "
                                   f"{_kind(answer)}, not a list of worklogs")
            for raw in answer:
                try:
                    entries.append(self._time_entry(raw))
                except _Unreadable as fault:
                    worklog = raw.get("id") if isinstance(raw, dict) else None
                    log.warning("worklog_unreadable", worklog=str(worklog)[:20],
                                field=fault.field, problem=fault.problem)
        return entries, datetime.fromtimestamp(until / 1000, UTC)

    def _time_entry(self, raw: Any) -> TimeEntry:
        """One worklog of /worklog/list as a TimeEntry."""
        if not isinstance(raw, dict):
            raise _Unreadable("worklog", f"is {_kind(raw)}, not an object")
        worklog_id = raw.get("id")
        if not isinstance(worklog_id, str | int) or isinstance(worklog_id, bool) \
                or not str(worklog_id):
            raise _Unreadable("id", f"is {_kind(worklog_id)}, not an id")
        issue_id = raw.get("issueId")
        if isinstance(issue_id, int) and not isinstance(issue_id, bool):
            issue_id = str(issue_id)
        author = raw.get("author") or {}
        if not isinstance(author, dict):
            raise _Unreadable("author", f"is {_kind(author)}, not a user")
        seconds = raw.get("timeSpentSeconds") or 0
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            raise _Unreadable("timeSpentSeconds", f"is {_kind(seconds)}, not seconds")
        return TimeEntry(
            id=str(worklog_id),
            # Only a numeric id names an issue (it goes into a URL).
            ticket_key=issue_id if isinstance(issue_id, str)
            and _NUMERIC_ID.fullmatch(issue_id) else None,
            author=str(author.get("accountId") or author.get("name") or ""),
            started=_time(raw, "started", "started"),
            seconds=seconds,
            updated=_time(raw, "updated", "updated"),
            comment=adf_text(raw.get("comment")),
        )
