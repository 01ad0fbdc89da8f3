"""The Tracker port on Redmine 5.x's REST API, through python-redmine.

RedmineTracker reads issues itself (listings, journals, the read-back after writes) and
is composed of one part per concern:

- transport.py: the tuned requests session, JSON pages and the fast write channel
- error_map.py: python-redmine's and HTTP failures as slabridge's errors
- catalog.py: reference data read once (own account, project, field and status ids)
- translate.py: issue JSON as Ticket and Journal
- writes.py: a TicketUpdate as one prepared PUT, then watchers
- permissions.py: what slabridge's account may do per project
- sprints.py: which version is the current sprint
- hours.py: time entries and statements (wiki pages)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import requests

from slabridge.adapters.redmine.catalog import RedmineCatalog
from slabridge.adapters.redmine.error_map import ErrorMap
from slabridge.adapters.redmine.hours import RedmineHours
from slabridge.adapters.redmine.permissions import RedminePermissions
from slabridge.adapters.redmine.sprints import SprintPolicy
from slabridge.adapters.redmine.translate import IssueTranslator
from slabridge.adapters.redmine.transport import PAGE, RedmineTransport
from slabridge.adapters.redmine.writes import IssueWriter
from slabridge.domain.model import Journal, Sprint, Ticket, TimeEntryBatch
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import TrackerError, UsageError


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
        self._private_notes = private_notes
        self.listing_started: datetime | None = None
        zone = ZoneInfo(local_zone)
        self.error_map = ErrorMap(self.name, key_source)
        self.transport = RedmineTransport(self.name, api_key, self.error_map,
                                          verify_tls=verify_tls, timeout=timeout,
                                          retries=retries)
        self.catalog = RedmineCatalog(self.transport, projects, field_names, receipt_field)
        self.translator = IssueTranslator(self.catalog, zone)
        self.permissions = RedminePermissions(self.transport, self.catalog)
        self.sprints = SprintPolicy(self.transport, self.permissions, sprint_rule, zone)
        self.writer = IssueWriter(self.transport, self.catalog, private_notes=private_notes)
        self.hours = RedmineHours(self.transport, self.catalog)

    @property
    def requests_made(self) -> int:
        """Answers counted from Redmine (reads through the session, and writes)."""
        return self.transport.requests_made

    @requests_made.setter
    def requests_made(self, value: int) -> None:
        self.transport.requests_made = value

    @property
    def key_source(self) -> str:
        """Where the key came from (e.g. REDMINE_API_KEY), to name when it is refused."""
        return self.error_map.key_source

    def probe(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """A GET of a REST path, its answer unjudged (for `slabridge doctor`)."""
        return self.transport.probe(path, params)

    def prepare(self) -> None:
        """Read what every cycle needs once: our user, projects, fields, statuses, trackers."""
        self.own_authors()
        self.catalog.project_ids()
        if self._private_notes:
            self.permissions.check_private_notes()
        self.catalog.check_fields()
        self.catalog.statuses()
        self.catalog.default_statuses()

    def own_authors(self) -> frozenset[str]:
        """slabridge's own user id (from /users/current): its notes never accept a ticket."""
        return frozenset({str(self.catalog.current_user()["id"])})

    # --- reading -------------------------------------------------------------------------

    def _filters(self, updated_since: datetime | None, open_only: bool) -> dict[str, Any]:
        ids = self.catalog.project_ids()
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
        ticket_from = self.translator.ticket_from
        for raw in self.transport.pages("/issues.json", "issues",
                                        self._filters(updated_since, open_only),
                                        first_answered=self._note_listing_start):
            listed += 1
            seen_fields.update(cf["name"] for cf in raw.get("custom_fields", ()))
            yield ticket_from(raw)
        if updated_since is None and listed and not self.catalog.fields_known_by_admin:
            # A non-admin key cannot read /custom_fields.json: a field that no issue of the
            # whole listing carries is missing, not enabled anywhere, or not visible to it.
            # Said once, naming all, before anything is written (a dry run too).
            missing = [name for name in self.catalog.field_names.values()
                       if name not in seen_fields]
            if missing:
                raise TrackerError(
                    "no issue of the configured projects has the custom field "
                    + ", ".join(repr(m) for m in missing)
                    + " (missing, not enabled for these projects and trackers, or not "
                    "visible to slabridge's role): create it for all projects and trackers, "
                    "or fix tracker.fields; `slabridge doctor` checks the setup"
                )

    def _note_listing_start(self) -> None:
        # The server's clock when the first page was answered (its Date header) is the next
        # watermark: anything changed later has a later updated_on. Puma sends no Date, so
        # then the local clock stands in; overlap_seconds covers the skew between the two.
        if self.listing_started is not None:
            return
        last_date = self.transport.last_date
        try:
            self.listing_started = parsedate_to_datetime(last_date).astimezone(UTC) \
                if last_date else datetime.now(UTC)
        except (TypeError, ValueError):
            self.listing_started = datetime.now(UTC)

    def read_back(self, keys: Sequence[str]) -> dict[str, Ticket]:
        """The issues as Redmine stored them after writes (one request per 100): Redmine
        drops a value it will not take (field read-only in the workflow, role without
        "Edit issues", a version it will not assign) and still answers 204."""
        found: dict[str, Ticket] = {}
        for first in range(0, len(keys), PAGE):
            chunk = ",".join(str(int(k)) for k in keys[first:first + PAGE])
            for raw in self.transport.pages("/issues.json", "issues",
                                            {"issue_id": chunk, "status_id": "*"}):
                found[str(raw["id"])] = self.translator.ticket_from(raw)
        return found

    def _issue_with_journals(self, key: str) -> Mapping[str, Any]:
        issue: Mapping[str, Any] = self.transport.request(
            "get", f"/issues/{int(key)}.json", params={"include": "journals"},
            issue=key)["issue"]
        return issue

    def journal(self, key: str) -> Journal:
        """Status changes, notes and own markers from the issue's journals."""
        return self.translator.journal_from(self._issue_with_journals(key))

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with its journal, read now."""
        if not key.isdigit():
            raise UsageError(f"issue {key!r}: Redmine issue ids are numbers")
        self.catalog.project_ids()
        raw = self._issue_with_journals(key)
        return self.translator.ticket_from(raw), self.translator.journal_from(raw)

    def issue_url(self, key: str) -> str:
        """The issue's page."""
        return f"{self._public_name}/issues/{key}"

    def field_label(self, role: str) -> str:
        """The custom field's name for a field role."""
        return repr(self.catalog.field_names.get(role, role))

    # --- the other parts of the port -------------------------------------------------------

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """See IssueWriter.prepare_update."""
        return self.writer.prepare_update(update)

    def current_sprint(self, project: str) -> Sprint | None:
        """See SprintPolicy.current_sprint."""
        return self.sprints.current_sprint(project)

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """See RedmineHours.read_time_entries (Redmine keeps no cursor)."""
        return self.hours.read_time_entries(first_day)

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """See RedmineHours.post_statement."""
        return self.hours.post_statement(target, title, text, location)
