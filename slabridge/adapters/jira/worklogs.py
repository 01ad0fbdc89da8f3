"""Jira's worklogs for the hour ledger: ids changed since a time, then the worklogs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import structlog

from slabridge.adapters.jira.reading import (
    ISSUE_KEY,
    MAX_EPOCH_MS,
    Unreadable,
    UnreadableIssueError,
    kind_of,
)
from slabridge.adapters.jira.translate import JiraTranslator
from slabridge.adapters.jira.transport import JiraConnection, json_of
from slabridge.domain.model import TimeEntry, TimeEntryBatch
from slabridge.errors import TrackerError

log = structlog.get_logger("slabridge.jira")
WORKLOG_BATCH = 1000  # POST worklog/list takes at most 1000 ids
WORKLOG_PAGE_CAP = 1000  # /worklog/updated gives 1000 ids a page


class JiraWorklogs:
    """Reads worklogs and names their issues by key."""

    def __init__(self, connection: JiraConnection, translator: JiraTranslator) -> None:
        self._connection = connection
        self._translator = translator

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """Worklogs changed since the cursor (or since `first_day` the first time)."""
        since = (datetime.fromtimestamp(int(cursor) / 1000, UTC) if cursor
                 else datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC))
        entries, until = self.updated_since(since)
        resolved = [replace(e, ticket_key=self._key_for(e.ticket_key)) for e in entries]
        return TimeEntryBatch(resolved, complete_from=None,
                              cursor=str(int(until.timestamp() * 1000)))

    def _key_for(self, issue_id: str | None) -> str | None:
        """Worklogs name issues by id; tickets are keyed by issue key."""
        if issue_id is None:
            return None
        if issue_id not in self._translator.keys_by_id:
            raw = self._connection.get(f"issue/{issue_id}", {"fields": "project"}, issue=issue_id)
            key = raw.get("key") if isinstance(raw, dict) else None
            if not isinstance(key, str) or not ISSUE_KEY.fullmatch(key):
                raise UnreadableIssueError(f"with id {issue_id}", "key",
                                           f"is {kind_of(key)}, not an issue key")
            self._translator.keys_by_id[issue_id] = key
        return self._translator.keys_by_id[issue_id]


    def updated_since(self, since: datetime) -> tuple[list[TimeEntry], datetime]:
        """Worklogs changed since `since` and the time to ask from next time.

        /worklog/updated pages through ids (per-issue worklog calls return one page only),
        then /worklog/list fetches them, 1000 per request.
        """
        ids: list[int] = []
        cursor = int(since.timestamp() * 1000)
        until = cursor
        for number in range(1, WORKLOG_PAGE_CAP + 1):
            page = self._connection.get("worklog/updated", {"since": cursor})
            where = f"{self._connection.name}: Jira's /worklog/updated page {number}"
            if not isinstance(page, dict):
                raise TrackerError(f"{where} is {kind_of(page)}, not a page of worklog ids")
            values = page.get("values") or []
            if not isinstance(values, list):
                raise TrackerError(f"{where}: 'values' is {kind_of(values)}, not a list")
            for value in values:
                worklog_id = value.get("worklogId") if isinstance(value, dict) else None
                if isinstance(worklog_id, int) and not isinstance(worklog_id, bool) \
                        and 0 < worklog_id < 2**63:
                    ids.append(worklog_id)
                else:
                    log.warning("worklog_unreadable", problem=f"worklogId is {kind_of(worklog_id)}")
            last = page.get("lastPage") is not False
            next_until = page.get("until")
            if not isinstance(next_until, int) or isinstance(next_until, bool) \
                    or not 0 <= next_until <= MAX_EPOCH_MS:
                if last:
                    break  # nothing to continue from: ask from the same time next time
                raise TrackerError(f"{where}: 'until' is {kind_of(next_until)}, not a time in "
                                   "milliseconds")
            until = max(until, next_until)
            if last:
                break
            if next_until <= cursor:
                raise TrackerError(f"{where} does not move on (until {next_until} after since "
                                   f"{cursor}): Jira would page forever; stopped")
            cursor = next_until
        else:
            raise TrackerError(f"{self._connection.name}: Jira's /worklog/updated gave more than "
                               f"{WORKLOG_PAGE_CAP} pages: stopped")
        entries: list[TimeEntry] = []
        for start in range(0, len(ids), WORKLOG_BATCH):
            response = self._connection.send("post", "worklog/list",
                                             {"ids": ids[start:start + WORKLOG_BATCH]})
            answer = json_of(response, f"{self._connection.name}: /worklog/list")
            if not isinstance(answer, list):
                raise TrackerError(f"{self._connection.name}: Jira's /worklog/list answer is "
                                   f"{kind_of(answer)}, not a list of worklogs")
            for raw in answer:
                try:
                    entries.append(self._translator.time_entry(raw))
                except Unreadable as fault:
                    worklog = raw.get("id") if isinstance(raw, dict) else None
                    log.warning("worklog_unreadable", worklog=str(worklog)[:20],
                                field=fault.field, problem=fault.problem)
        return entries, datetime.fromtimestamp(until / 1000, UTC)
