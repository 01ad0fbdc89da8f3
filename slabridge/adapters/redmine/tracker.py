"""Redmine through python-redmine: list issues, read journals, write fields and notes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import orjson
import requests
import structlog
import urllib3
from redminelib import Redmine
from redminelib import exceptions as rex
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
    SprintUnavailableError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
    UsageError,
)

log = structlog.get_logger("slabridge.redmine")
T = TypeVar("T")
JSON_HEADERS = {"Content-Type": "application/json"}
PAGE = 100  # Redmine caps `limit` at 100
NO_CONTENT = int(HTTPStatus.NO_CONTENT)  # a plain int: compared after every write

# Every python-redmine exception and what it means for a cycle. A test fails if the
# library grows one that is not listed here.
ISSUE_ERRORS: tuple[type[Exception], ...] = (
    rex.ForbiddenError, rex.ResourceNotFoundError, rex.ValidationError,
    rex.RequestEntityTooLargeError, rex.ConflictError, rex.ResourceAttrError,
    rex.ResourceNoFieldsProvidedError,
)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    rex.ServerError, rex.HTTPProtocolError, rex.JSONDecodeError,
    requests.ConnectionError, requests.Timeout,
)
AUTH_ERRORS: tuple[type[Exception], ...] = (rex.AuthError, rex.ImpersonateError)
# Raised by python-redmine for misuse or features slabridge does not use: a bug or an
# incompatible server, reported as a tracker error rather than a crash.
MISUSE_ERRORS: tuple[type[Exception], ...] = (
    rex.CustomFieldValueError, rex.EngineClassError, rex.ExportFormatNotSupportedError,
    rex.ExportNotSupported, rex.FileObjectError, rex.FileUrlError, rex.NoFileError,
    rex.ReadonlyAttrError, rex.ResourceBadMethodError, rex.ResourceError,
    rex.ResourceFilterError, rex.ResourceNoFiltersProvidedError, rex.ResourceRequirementsError,
    rex.ResourceSetFilterLookupError, rex.ResourceSetIndexError,
    rex.ResourceVersionMismatchError, rex.ResultSetTotalCountError, rex.TimezoneError,
    rex.VersionFormatError, rex.VersionMismatchError,
)
OTHER_ERRORS: tuple[type[Exception], ...] = (
    *MISUSE_ERRORS, rex.BaseRedmineError, requests.RequestException,
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


def _required_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TimeoutAdapter(HTTPAdapter):
    """An HTTPAdapter with a default timeout: python-redmine sets `session.timeout`, which
    requests ignores, so without this a hung Redmine would hold a cycle forever."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send with the default timeout unless the caller gave one."""
        return super().send(request, stream, self.timeout if timeout is None else timeout,
                            verify, cert, proxies)


@dataclass(frozen=True)
class _WriteChannel:
    """Where and how writes go: see RedmineTracker._send_put."""

    adapter: TimeoutAdapter
    pool: urllib3.HTTPConnectionPool
    prefix: str  # what comes before /issues/<id>.json in the request line
    headers: dict[str, str]
    retries: Retry
    timeout: urllib3.Timeout


def ca_bundle_from_environment(verify_tls: bool) -> bool | str:
    """`verify` for requests: the CA bundle that REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE names
    (as requests itself would take it), else the flag."""
    if not verify_tls:
        return False
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class RedmineTracker:
    """The Tracker port on Redmine 5.x's REST API."""

    def __init__(
        self,
        url: str,
        api_key: str,
        projects: tuple[str, ...],
        field_names: Mapping[str, str | None],
        *,
        receipt_field: str | None = None,
        local_zone: str = "Europe/Vienna",
        verify_tls: bool = True,
        timeout: float = 30,
        retries: int = 3,
        sprint_rule: str = "current_dates",
        key_source: str = "REDMINE_API_KEY",
        private_notes: bool = False,
    ) -> None:
        self.name = url.rstrip("/")
        parts = urlsplit(self.name)
        # Links people open: without credentials a URL may carry for a proxy.
        self._public_name = urlunsplit(parts._replace(
            netloc=parts.hostname + (f":{parts.port}" if parts.port else "")
            if parts.hostname else parts.netloc))
        self._key_source = key_source  # where the key came from, named when it is refused
        self._private_notes = private_notes
        self.requests_made = 0
        self.listing_started: datetime | None = None
        self._last_date: str | None = None
        self._projects = projects
        self._field_names = {role: name for role, name in field_names.items() if name}
        self._all_roles = frozenset(self._field_names)
        self._receipt_field = receipt_field
        self._local_zone = ZoneInfo(local_zone)
        self._redmine = Redmine(
            self.name, key=api_key,
            requests={"verify": ca_bundle_from_environment(verify_tls), "timeout": timeout},
        )
        session: requests.Session = self._redmine.engine.session
        # requests reads the proxy variables, ~/.netrc and the CA-bundle variables from the
        # environment again on every request (0.3-0.9 ms of CPU each, more than all of
        # slabridge's own work per issue): read them once, here, and tell it not to.
        session.proxies.update(requests.utils.get_environ_proxies(self.name))
        session.trust_env = False
        # Only reads are retried here: a write that timed out may have been applied, and
        # the next cycle checks the journal before writing again.
        retry = Retry(
            total=retries, connect=retries, read=retries, status=retries,
            backoff_factor=0.5, status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}), respect_retry_after_header=True,
            raise_on_status=False,
        )
        session.mount("http://", TimeoutAdapter(timeout, max_retries=retry))
        session.mount("https://", TimeoutAdapter(timeout, max_retries=retry))
        session.hooks["response"].append(self._count)
        self._project_ids: dict[str, int] | None = None
        self._project_names: dict[int, str] = {}
        self._field_ids: dict[str, int] = {}
        self._status_names: dict[str, str] | None = None
        self._default_status: dict[str, str] | None = None
        self._priority_ids: dict[str, int] | None = None
        self._user_ids: dict[str, int] = {}
        self._members_read = False
        self._fields_known_by_admin = False
        self._watchers_refused = False
        self._sprint_rule = sprint_rule
        self._user: Mapping[str, Any] | None = None
        self._permissions: dict[str, frozenset[str] | None] = {}
        self._role_permissions: dict[int, frozenset[str]] = {}
        self._channel: _WriteChannel | None = None

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._answered(response.headers)

    def _answered(self, headers: Mapping[str, str]) -> None:
        """Count an answer from Redmine and keep its clock (see _note_listing_start)."""
        self.requests_made += 1
        self._last_date = headers.get("Date")

    # --- error mapping -------------------------------------------------------------------

    def call(self, action: Callable[[], T], issue: str | None = None) -> T:
        """Run a python-redmine call and translate its failures into slabridge's errors."""
        try:
            return action()
        except Exception as exc:
            self._raise_translated(exc, issue)

    def _raise_translated(self, exc: Exception, issue: str | None) -> NoReturn:
        """Raise slabridge's error for the failure being handled (of python-redmine,
        requests or urllib3), or the failure itself if it is none of theirs."""
        translated = self._translated(exc, issue)
        if translated is exc:
            raise exc
        raise translated from None

    def _translated(self, exc: Exception, issue: str | None) -> Exception:
        """slabridge's error for `exc` (see call); anything else is returned as it is."""
        where = f"issue #{issue}" if issue else self.name
        if isinstance(exc, AUTH_ERRORS):
            return TrackerAuthError(
                f"Redmine at {self.name} rejected the API key (HTTP 401): check "
                f"{self._key_source}"
            )
        if isinstance(exc, rex.UnknownError):
            # python-redmine raises this for every status it has no class for (429, 502...).
            code = _status_code(exc)
            if code == 429 or code >= 500:
                return TrackerUnavailableError(f"{where}: Redmine unavailable: HTTP {code}")
            error = IssueError if issue else TrackerError
            return error(f"{where}: HTTP {code}")
        if isinstance(exc, ISSUE_ERRORS):
            if issue is None:
                if isinstance(exc, rex.ResourceNotFoundError):
                    return TrackerError(f"Redmine at {self.name} refused a request: not found "
                                        "(HTTP 404): a wrong base URL, project or page, or "
                                        "one the API user cannot see")
                return TrackerError(f"Redmine at {self.name} refused a request: "
                                    f"{_describe(exc)}")
            return IssueError(f"{where}: {_describe(exc)}")
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return TrackerUnavailableError(f"{where}: Redmine unavailable: {_describe(exc)}")
        if isinstance(exc, OTHER_ERRORS):
            return TrackerError(f"{where}: {_describe(exc)}")
        return exc

    def probe(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """A GET of a REST path, its answer unjudged (for `slabridge doctor`)."""
        session: requests.Session = self._redmine.engine.session
        return session.get(f"{self.name}{path}", params=dict(params or {}))

    @property
    def key_source(self) -> str:
        """Where the key came from (e.g. REDMINE_API_KEY), to name when it is refused."""
        return self._key_source

    # --- reference data ------------------------------------------------------------------

    def _current_user(self) -> Mapping[str, Any]:
        """slabridge's own account with its memberships (/users/current), read once."""
        if self._user is None:
            self._user = self.call(lambda: self._redmine.engine.request(
                "get", f"{self.name}/users/current.json", params={"include": "memberships"}
            ))["user"]
        return self._user

    def own_authors(self) -> frozenset[str]:
        """slabridge's own user id (from /users/current): its notes never accept a ticket."""
        return frozenset({str(self._current_user()["id"])})

    def permissions_in(self, project: str) -> frozenset[str] | None:
        """slabridge's permissions in a configured project, from its memberships and the
        roles' permission lists (readable by any user); None where it may do everything
        (an administrator) or where Redmine does not say (no membership, roles unreadable).

        Redmine drops what a role may not write and still answers 204, so slabridge asks
        before it writes what it cannot check afterwards (a note's privacy) or would
        announce in the note (the sprint move).
        """
        if project not in self._permissions:
            self._permissions[project] = self._read_permissions(project)
        return self._permissions[project]

    def _read_permissions(self, project: str) -> frozenset[str] | None:
        user = self._current_user()
        if user.get("admin"):
            return None
        project_id = self.project_ids().get(project)
        role_ids = {int(role["id"]) for membership in user.get("memberships", [])
                    if membership.get("project", {}).get("id") == project_id
                    for role in membership.get("roles", [])}
        if not role_ids:
            return None
        permissions: set[str] = set()
        for role_id in sorted(role_ids):
            if role_id not in self._role_permissions:
                try:
                    role = self.call(partial(self._redmine.engine.request, "get",
                                             f"{self.name}/roles/{role_id}.json"))["role"]
                except (TrackerError, KeyError, TypeError):
                    return None  # an older Redmine, or a proxy in the way: not known
                self._role_permissions[role_id] = frozenset(role.get("permissions", []))
            permissions |= self._role_permissions[role_id]
        return frozenset(permissions)

    def _check_private_notes(self) -> None:
        """With notes.private on, refuse to write where Redmine would make the notes
        public: a role without "Set notes as private" gets its private flag dropped, and
        customers would read internal terms."""
        lacking = [project for project in self._projects
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

    def project_ids(self) -> dict[str, int]:
        """Configured project identifiers to ids; an unknown one is a clear error."""
        if self._project_ids is None:
            # Plain JSON pages: python-redmine's resource objects cost a millisecond per
            # page of projects, and a Redmine may have thousands of projects.
            projects = [(p["identifier"], p["id"])
                        for p in self._pages("/projects.json", "projects", {})]
            by_identifier = dict(projects)
            self._project_names = {number: name for name, number in projects}
            missing = [p for p in self._projects if p not in by_identifier]
            if missing:
                raise TrackerError(
                    f"project(s) not found or not visible to the API user: {', '.join(missing)}"
                )
            self._project_ids = {p: by_identifier[p] for p in self._projects}
        return self._project_ids

    def check_fields(self) -> None:
        """Find slabridge's custom fields by name; stop naming any that is missing."""
        try:
            fields = self.call(lambda: list(self._redmine.custom_field.all()))
        except TrackerError:
            return  # not an administrator: ids are learnt from the issues listed
        self._fields_known_by_admin = True
        for custom_field in fields:
            if getattr(custom_field, "customized_type", "issue") == "issue":
                self._field_ids[custom_field.name] = custom_field.id
        wanted = list(self._field_names.values())
        if self._receipt_field:
            wanted.append(self._receipt_field)
        missing = [name for name in wanted if name not in self._field_ids]
        if missing:
            raise TrackerError(
                "Redmine has no issue custom field named "
                + ", ".join(repr(m) for m in missing)
                + ": create it (deploy/redmine-local/start.sh does) or fix tracker.fields"
            )

    def _statuses(self) -> dict[str, str]:
        if self._status_names is None:
            statuses = self.call(lambda: list(self._redmine.issue_status.all()))
            self._status_names = {str(s.id): s.name for s in statuses}
        return self._status_names

    def _default_statuses(self) -> dict[str, str]:
        if self._default_status is None:
            trackers = self.call(lambda: self._redmine.engine.request(
                "get", f"{self.name}/trackers.json"
            ))["trackers"]
            self._default_status = {
                t["name"]: t["default_status"]["name"] for t in trackers if t.get("default_status")
            }
        return self._default_status

    def prepare(self) -> None:
        """Read what every cycle needs once: our user, projects, fields, statuses, trackers."""
        self.own_authors()
        self.project_ids()
        if self._private_notes:
            self._check_private_notes()
        self.check_fields()
        self._statuses()
        self._default_statuses()

    # --- reading -------------------------------------------------------------------------

    def _filters(self, updated_since: datetime | None, open_only: bool) -> dict[str, Any]:
        ids = self.project_ids()
        params: dict[str, Any] = {
            "set_filter": "1",
            "f[]": ["project_id", "status_id"],
            "op[project_id]": "=",
            "v[project_id][]": [str(i) for i in ids.values()],
            "op[status_id]": "o" if open_only else "*",
            "sort": "updated_on:desc,id:desc",
        }
        if updated_since is not None:
            params["f[]"].append("updated_on")
            params["op[updated_on]"] = ">="
            params["v[updated_on][]"] = [
                updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ]
        return params

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        """Issues of the configured projects, most recently updated first.

        Newest-first paging cannot skip an issue that changes while we page: it moves to
        the front (already read), and the watermark brings it back next cycle.
        """
        self.listing_started = None
        seen_fields: set[str] = set()
        listed = 0
        for raw in self._issue_pages(self._filters(updated_since, open_only)):
            listed += 1
            seen_fields.update(cf["name"] for cf in raw.get("custom_fields", ()))
            yield self.ticket_from(raw)
        if updated_since is None and listed and not self._fields_known_by_admin:
            # A non-admin key cannot read /custom_fields.json: a field that no issue of the
            # whole listing carries is missing, not enabled anywhere, or not visible to it.
            # Said once, naming all, before anything is written (a dry run too).
            missing = [name for name in self._field_names.values() if name not in seen_fields]
            if missing:
                raise TrackerError(
                    "no issue of the configured projects has the custom field "
                    + ", ".join(repr(m) for m in missing)
                    + " (missing, not enabled for these projects and trackers, or not "
                    "visible to slabridge's role): create it for all projects and trackers, "
                    "or fix tracker.fields; `slabridge doctor` checks the setup"
                )

    def read_back(self, keys: Sequence[str]) -> dict[str, Ticket]:
        """The issues as Redmine stored them after writes (one request per 100): Redmine
        drops a value it will not take (field read-only in the workflow, role without
        "Edit issues", a version it will not assign) and still answers 204."""
        found: dict[str, Ticket] = {}
        for first in range(0, len(keys), PAGE):
            chunk = ",".join(str(int(k)) for k in keys[first:first + PAGE])
            for raw in self._pages("/issues.json", "issues",
                                   {"issue_id": chunk, "status_id": "*"}):
                found[str(raw["id"])] = self.ticket_from(raw)
        return found

    def issue_url(self, key: str) -> str:
        """The issue's page."""
        return f"{self._public_name}/issues/{key}"

    def field_label(self, role: str) -> str:
        """The custom field's name for a field role."""
        return repr(self._field_names.get(role, role))

    def _note_listing_start(self) -> None:
        # The server's clock when the first page was answered (its Date header) is the next
        # watermark: anything changed later has a later updated_on. Puma sends no Date, so
        # then the local clock stands in; overlap_seconds covers the skew between the two.
        if self.listing_started is not None:
            return
        try:
            self.listing_started = parsedate_to_datetime(self._last_date).astimezone(UTC) \
                if self._last_date else datetime.now(UTC)
        except (TypeError, ValueError):
            self.listing_started = datetime.now(UTC)

    def _get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET a JSON document as python-redmine's engine.request does, parsed by orjson.

        Parsing the issue pages with the standard library's json (python-redmine's
        response.json()) took a tenth of a first cycle's local time; orjson takes a third
        of that. Every answer but a plain 200 with JSON goes to python-redmine's own
        processing, so errors are raised as they always were.
        """
        engine = self._redmine.engine
        response = engine.session.request("get", f"{self.name}{path}", params=params)
        if response.status_code == 200 and not response.history:
            with suppress(orjson.JSONDecodeError):
                return orjson.loads(response.content)
        return engine.process_response(response)

    def _put_issue(self, key: str, path: str, body: bytes) -> None:
        """PUT an encoded JSON document to an issue, as python-redmine's issue.update does
        (its values are plain JSON here), its failures translated as `call` does.

        Sent through requests' connection pool for this Redmine but not through the session:
        see _send_put. Redmine answers a successful PUT with 204; that is all that runs
        between two writes (where the interpreter is cold again), so anything else is
        judged apart (_judge_answer).
        """
        try:
            answer = self._send_put(path, body)
            self.requests_made += 1  # its Date is not kept: only a listing's is (_count)
            if answer.status != NO_CONTENT:
                self._judge_answer(key, path, body, answer)
        except Exception as exc:
            self._raise_translated(exc, key)

    def _judge_answer(self, key: str, path: str, body: bytes,
                      answer: urllib3.BaseHTTPResponse) -> None:
        """A write's answer other than 204. A redirect is an error that names where to: a
        write is not sent on to another address. Anything else (a 200 login page from a
        proxy, an error) becomes requests' response, read in full, and goes to
        python-redmine to judge, as issue.update would have."""
        channel = self._write_channel()
        request = requests.Request("PUT", f"{self.name}{path}", data=body,
                                   headers=channel.headers).prepare()
        response = channel.adapter.build_response(request, answer)
        _ = response.content  # read, so the connection goes back to the pool
        if response.is_redirect:
            raise TrackerError(
                f"issue #{key}: Redmine at {self.name} redirects writes (HTTP "
                f"{response.status_code}) to {response.headers.get('Location', '?')}: set "
                "tracker.url to that address"
            )
        self._redmine.engine.process_response(response)

    def _send_put(self, path: str, body: bytes) -> urllib3.BaseHTTPResponse:
        """One PUT through the urllib3 pool that requests' adapter keeps for this Redmine.

        The same TLS verification and CA bundle, proxy, timeout, connection retries and
        headers (API key, credentials in the URL) as through the session, without
        requests' per-request layers (settings merged, cookies parsed and sent back, hooks,
        redirects): a write measured 2.0-2.4 ms of CPU through the session and 1.0-1.1 ms
        this way on the local Redmine, several times slabridge's own work per issue
        (benchmarks/redmine_sync.py). A write that reached the server is never sent again.
        urllib3's errors are raised as requests' own, which `_put_issue` maps. Any answer but a
        204 is returned unread, for requests to read.
        """
        channel = self._channel or self._write_channel()
        try:
            answer = channel.pool.urlopen(
                "PUT", channel.prefix + path, body=body, headers=channel.headers,
                redirect=False, assert_same_host=False, preload_content=False,
                decode_content=False, retries=channel.retries, timeout=channel.timeout,
            )
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.MaxRetryError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
                    reason, urllib3.exceptions.NewConnectionError):
                raise requests.Timeout(error) from None
            raise requests.ConnectionError(error) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise requests.ConnectionError(error) from None
        if answer.status == NO_CONTENT:
            # Nothing to read (drain_conn swallows a broken connection): the connection goes
            # back to the pool for the next write.
            answer.drain_conn()
            answer.release_conn()
        return answer

    def _write_channel(self) -> _WriteChannel:
        """The pool, URL prefix, headers, retries and timeout of writes, taken from the
        session at the first write (python-redmine sets its headers when it is built; a
        pool that requests' pool manager drops stays open under urllib3 2)."""
        if self._channel is not None:
            return self._channel
        session = self._redmine.engine.session
        settings = self._redmine.engine.requests
        # Prepared by the session: its headers and any credentials in the URL, as reads get.
        template = session.prepare_request(requests.Request("PUT", f"{self.name}/issues.json"))
        adapter = session.get_adapter(self.name)
        if not isinstance(adapter, TimeoutAdapter):
            raise TypeError(f"unexpected transport adapter for {self.name}: {adapter!r}")
        verify, cert = settings.get("verify", True), settings.get("cert")
        pool = adapter.get_connection_with_tls_context(template, verify,
                                                       proxies=session.proxies, cert=cert)
        adapter.cert_verify(pool, self.name, verify, cert)
        # The path with Redmine's own prefix (/redmine/issues.json), or the whole URL
        # without credentials when a plain-HTTP proxy forwards it.
        target = adapter.request_url(template, session.proxies)
        if not target.endswith("/issues.json"):
            raise TrackerError(f"cannot tell where to send writes for {self.name}: requests "
                               f"would send them to {target}")
        headers = {name: value for name, value in template.headers.items()
                   if name.lower() not in ("cookie", "content-length")}
        self._channel = _WriteChannel(
            adapter=adapter, pool=pool, prefix=target.removesuffix("/issues.json"),
            headers={**headers, **JSON_HEADERS},
            # Only connecting is tried again: whatever reached Redmine may have been applied.
            retries=adapter.max_retries.new(read=False, status=0, other=0, redirect=0),
            timeout=urllib3.Timeout(connect=adapter.timeout, read=adapter.timeout),
        )
        return self._channel

    def _issue_pages(self, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        return self._pages("/issues.json", "issues", params, listing=True)

    def _pages(self, path: str, container: str, params: Mapping[str, Any],
               listing: bool = False) -> Iterator[dict[str, Any]]:
        """Every item of a paged Redmine list, PAGE to a request."""
        offset = 0
        while True:
            page = self.call(lambda offset=offset: self._get_json(  # type: ignore[misc]
                path, {**params, "limit": PAGE, "offset": offset},
            ))
            if offset == 0 and listing:
                self._note_listing_start()
            items = page.get(container, [])
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_count", 0)):
                return

    def ticket_from(self, raw: Mapping[str, Any]) -> Ticket:
        """A Redmine issue's JSON as a Ticket."""
        custom: dict[str, str | tuple[str, ...]] = {}
        for cf in raw.get("custom_fields", []):
            self._field_ids.setdefault(cf["name"], cf["id"])
            value = cf.get("value")
            if isinstance(value, list):
                custom[cf["name"]] = tuple(str(v) for v in value)
            else:
                custom[cf["name"]] = "" if value is None else str(value)
        project_id = raw["project"]["id"]
        project = self._project_names.get(project_id) or str(raw["project"].get("name", ""))
        created = _required_time(raw["created_on"])
        updated = _required_time(raw["updated_on"])
        received, receipt_problem = None, ""
        if self._receipt_field:
            value = custom.get(self._receipt_field)
            text = value if isinstance(value, str) else ""
            received, receipt_problem = checked_receipt(
                self._receipt_field, text, self._local_zone, created)
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
            and raw["status"]["name"] == self._default_statuses().get(raw["tracker"]["name"])
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

    def journal(self, key: str) -> Journal:
        """Status changes, notes and own markers from the issue's journals."""
        raw = self.call(
            lambda: self._redmine.engine.request(
                "get", f"{self.name}/issues/{int(key)}.json", params={"include": "journals"}
            ),
            issue=key,
        )["issue"]
        return self._journal_from(raw)

    def _journal_from(self, raw: Mapping[str, Any]) -> Journal:
        statuses = self._statuses()
        changes: list[StatusChange] = []
        notes: list[Note] = []
        own: set[str] = set()
        for entry in raw.get("journals", []):
            at = _required_time(entry["created_on"])
            for detail in entry.get("details", []):
                if detail.get("property") == "attr" and detail.get("name") == "status_id":
                    old = statuses.get(str(detail.get("old_value")), str(detail.get("old_value")))
                    new = statuses.get(str(detail.get("new_value")), str(detail.get("new_value")))
                    changes.append(StatusChange(at, old, new))
            text = entry.get("notes") or ""
            if text.strip():
                user = entry.get("user") or {}
                notes.append(Note(at, str(user.get("id", "")),
                                  public=not entry.get("private_notes", False),
                                  author_name=str(user.get("name") or "")))
                own |= note_keys_in(text)
        initial = changes[0].old if changes else raw["status"]["name"]
        return Journal(initial, tuple(changes), tuple(notes), frozenset(own))

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with its journal, read now."""
        if not key.isdigit():
            raise UsageError(f"issue {key!r}: Redmine issue ids are numbers")
        self.project_ids()
        raw = self.call(
            lambda: self._redmine.engine.request(
                "get", f"{self.name}/issues/{int(key)}.json", params={"include": "journals"}
            ),
            issue=key,
        )["issue"]
        return self.ticket_from(raw), self._journal_from(raw)

    # --- writing -------------------------------------------------------------------------

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """Fields, note, version, assignee and priority in one PUT (one journal entry),
        ready to send: ids looked up, body encoded (see Tracker); watchers after it."""
        key = update.ticket_key
        custom_fields = []
        wanted = [self._field_names[r] for r in update.fields if r in self._field_names]
        if any(name not in self._field_ids for name in wanted):
            # A non-admin key learns field ids from issues; after a restart a write that
            # comes from the clock alone has listed none yet: read them off this issue.
            raw = self.call(lambda: self._get_json(f"/issues/{int(key)}.json", {}), issue=key)
            for cf in raw.get("issue", {}).get("custom_fields", ()):
                self._field_ids.setdefault(cf["name"], cf["id"])
        for role, value in update.fields.items():
            name = self._field_names.get(role)
            if name is None:
                continue
            if name not in self._field_ids:
                raise IssueError(
                    f"issue #{key}: custom field {name!r} is not available "
                    "(missing, or not enabled for this project or tracker)"
                )
            custom_fields.append({"id": self._field_ids[name], "value": value})
        payload: dict[str, Any] = {}
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
        put = partial(self._put_issue, key, path, body) if body else None
        if put is not None and not update.watchers:
            return put  # the usual write: one PUT

        def send() -> None:
            if put is not None:
                put()
            # Watchers after the PUT, looked up only then: an unknown login must not keep
            # the fields and the note from being written.
            for person in update.watchers:
                user_id = self._user_id_of(person, key)
                try:
                    self._redmine.engine.request(
                        "post", f"{self.name}/issues/{int(key)}/watchers.json",
                        data={"user_id": user_id},
                    )
                except rex.ForbiddenError:
                    # The stock Developer role may not add watchers. The note and fields
                    # are written; say once what to grant instead of failing every cycle.
                    if not self._watchers_refused:
                        self._watchers_refused = True
                        log.warning("watchers_not_added", issue=key, person=person,
                                    reason="forbidden (HTTP 403): give slabridge's role the "
                                           "'Add watchers' permission")
                except Exception as exc:
                    self._raise_translated(exc, key)

        return send

    def _user_id_of(self, person: str, issue: str) -> int:
        """A user id from an id or a login.

        Finding a login in /users.json needs an administrator's key; a non-admin key finds
        it among the members of the configured projects (/users/{id}.json names logins).
        """
        if person.isdigit():
            return int(person)
        if person not in self._user_ids:
            try:
                users = self._redmine.engine.request(
                    "get", f"{self.name}/users.json", params={"name": person, "limit": 100}
                )["users"]
            except rex.ForbiddenError:
                self._learn_member_logins()
            except Exception as exc:
                self._raise_translated(exc, None)
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
        for project_id in self.project_ids().values():
            for membership in self._pages(f"/projects/{project_id}/memberships.json",
                                          "memberships", {}):
                if "user" in membership:
                    member_ids.add(int(membership["user"]["id"]))
        for user_id in sorted(member_ids - set(self._user_ids.values())):
            user = self.call(lambda user_id=user_id: self._redmine.engine.request(  # type: ignore[misc]
                "get", f"{self.name}/users/{user_id}.json"))["user"]
            if user.get("login"):
                self._user_ids[str(user["login"])] = user_id
        self._members_read = True

    def _priority_id(self, name: str, issue: str) -> int:
        if self._priority_ids is None:
            priorities = self.call(lambda: self._redmine.engine.request(
                "get", f"{self.name}/enumerations/issue_priorities.json"
            ))["issue_priorities"]
            self._priority_ids = {p["name"]: int(p["id"]) for p in priorities}
        if name not in self._priority_ids:
            raise IssueError(f"issue #{issue}: no Redmine priority named {name!r}")
        return self._priority_ids[name]

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """Every time entry of the projects spent on or after `first_day`.

        Redmine 5's REST API can neither filter nor sort time entries by update time, so the
        whole window is read and the store replaces it (edits and deletions included).
        """
        ids = self.project_ids()
        params: dict[str, Any] = {
            "set_filter": "1", "f[]": ["project_id", "spent_on"], "op[project_id]": "=",
            "v[project_id][]": [str(i) for i in ids.values()],
            "op[spent_on]": ">=", "v[spent_on][]": [first_day.isoformat()],
        }
        entries: list[TimeEntry] = []
        offset = 0
        while True:
            page = self.call(lambda offset=offset: self._redmine.engine.request(  # type: ignore[misc]
                "get", f"{self.name}/time_entries.json",
                params={**params, "limit": PAGE, "offset": offset},
            ))
            rows = page.get("time_entries", [])
            for raw in rows:
                day = date.fromisoformat(raw["spent_on"])
                entries.append(TimeEntry(
                    id=str(raw["id"]),
                    ticket_key=str(raw["issue"]["id"]) if raw.get("issue") else None,
                    author=str(raw.get("user", {}).get("id", "")),
                    started=datetime(day.year, day.month, day.day, tzinfo=UTC),
                    seconds=round(float(raw["hours"]) * 3600),
                    updated=_required_time(raw["updated_on"]),
                    comment=raw.get("comments") or "",
                    project=self._project_names.get(raw["project"]["id"]),
                ))
            offset += len(rows)
            if not rows or offset >= int(page.get("total_count", 0)):
                return TimeEntryBatch(entries, complete_from=first_day, cursor=None)

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """Create or update the wiki page `title` in the project named by target."""
        kind, _, where = target.partition(":")
        if kind != "project":
            raise TrackerError(f"Redmine statements go to a wiki: use 'project:IDENTIFIER', "
                               f"not {target!r}")
        page = wiki_title(title)
        if location is not None and location.startswith(f"wiki:{where}/"):
            # The page it was posted to before, even if titles were made differently then.
            page = location.removeprefix(f"wiki:{where}/")
        self.call(lambda: self._redmine.engine.request(
            "put", f"{self.name}/projects/{where}/wiki/{quote(page, safe='')}.json",
            data={"wiki_page": {"text": text, "comments": "slabridge statement"}},
        ))
        return f"wiki:{where}/{page}"

    def current_sprint(self, project: str) -> Sprint | None:
        """The project's current sprint: an open version (never a closed one).

        current_dates: the open version due soonest from today (undated ones last);
        default_version: the project's default version if it is open.
        """
        allowed = self.permissions_in(project)
        if allowed is not None and "edit_issues" not in allowed:
            raise SprintUnavailableError(
                f"slabridge's role in project {project} lacks 'Edit issues', so Redmine "
                "would not set the target version: Fastlane issues stay where they are "
                "until the role has it")
        versions = self.call(lambda: self._redmine.engine.request(
            "get", f"{self.name}/projects/{project}/versions.json"
        )).get("versions", [])
        open_versions = [v for v in versions if v.get("status") == "open"]
        if self._sprint_rule == "default_version":
            info = self.call(lambda: self._redmine.engine.request(
                "get", f"{self.name}/projects/{project}.json"
            ))["project"]
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


def wiki_title(text: str) -> str:
    """A wiki page title as Redmine makes one (Wiki.titleize): runs of white space become
    `_`, the characters it forbids in titles (, . / ? ; : |) are dropped, the first letter
    is upper case; letters of any script are kept (Bäckerei stays Bäckerei)."""
    title = re.sub(r"\s+", "_", text).translate(str.maketrans("", "", ",./?;|:"))
    return title[:1].upper() + title[1:]


def _status_code(exc: Exception) -> int:
    digits = "".join(ch for ch in str(exc).rsplit(":", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


# What Redmine's refusals mean, in place of python-redmine's class names.
REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (rex.ResourceNotFoundError, "not found (HTTP 404): deleted, or not visible to the API "
                                "user"),
    (rex.ForbiddenError, "forbidden (HTTP 403): the API user lacks the permission"),
)


def _describe(exc: Exception) -> str:
    for kind, meaning in REFUSALS:
        if isinstance(exc, kind):
            return meaning
    if isinstance(exc, rex.ValidationError):
        return f"rejected (HTTP 422): {str(exc).strip()}"
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
