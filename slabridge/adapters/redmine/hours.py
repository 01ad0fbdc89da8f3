"""Hours on Redmine: the projects' time entries for the ledger, and statements posted as
wiki pages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from slabridge.adapters.redmine.catalog import RedmineCatalog
from slabridge.adapters.redmine.translate import required_time
from slabridge.adapters.redmine.transport import PAGE, RedmineTransport
from slabridge.domain.model import TimeEntry, TimeEntryBatch
from slabridge.errors import TrackerError


def wiki_title(text: str) -> str:
    """A wiki page title as Redmine makes one (Wiki.titleize): runs of white space become
    `_`, the characters it forbids in titles (, . / ? ; : |) are dropped, the first letter
    is upper case; letters of any script are kept (Bäckerei stays Bäckerei)."""
    title = re.sub(r"\s+", "_", text).translate(str.maketrans("", "", ",./?;|:"))
    return title[:1].upper() + title[1:]


class RedmineHours:
    """Reads time entries and posts statements."""

    def __init__(self, transport: RedmineTransport, catalog: RedmineCatalog) -> None:
        self._transport = transport
        self._catalog = catalog

    def read_time_entries(self, first_day: date) -> TimeEntryBatch:
        """Every time entry of the projects spent on or after `first_day`.

        Redmine 5's REST API can neither filter nor sort time entries by update time, so the
        whole window is read and the store replaces it (edits and deletions included).
        """
        ids = self._catalog.project_ids()
        params: dict[str, Any] = {
            "set_filter": "1", "f[]": ["project_id", "spent_on"], "op[project_id]": "=",
            "v[project_id][]": [str(i) for i in ids.values()],
            "op[spent_on]": ">=", "v[spent_on][]": [first_day.isoformat()],
        }
        entries: list[TimeEntry] = []
        offset = 0
        while True:
            page = self._transport.request("get", "/time_entries.json",
                                           params={**params, "limit": PAGE, "offset": offset})
            rows = page.get("time_entries", [])
            entries += [self._time_entry(raw) for raw in rows]
            offset += len(rows)
            if not rows or offset >= int(page.get("total_count", 0)):
                return TimeEntryBatch(entries, complete_from=first_day, cursor=None)

    def _time_entry(self, raw: Mapping[str, Any]) -> TimeEntry:
        day = date.fromisoformat(raw["spent_on"])
        return TimeEntry(
            id=str(raw["id"]),
            ticket_key=str(raw["issue"]["id"]) if raw.get("issue") else None,
            author=str(raw.get("user", {}).get("id", "")),
            started=datetime(day.year, day.month, day.day, tzinfo=UTC),
            seconds=round(float(raw["hours"]) * 3600),
            updated=required_time(raw["updated_on"]),
            comment=raw.get("comments") or "",
            project=self._catalog.project_names.get(raw["project"]["id"]),
        )

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
        self._transport.request(
            "put", f"/projects/{where}/wiki/{quote(page, safe='')}.json",
            data={"wiki_page": {"text": text, "comments": "slabridge statement"}},
        )
        return f"wiki:{where}/{page}"
