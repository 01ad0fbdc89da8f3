"""The unit tests' outside world: one fake tracker, an in-memory state store, and the
configuration the use cases' tests run on.

`FakeTracker` implements the whole `Tracker` port (slabridge.ports) without a network. It
keeps what slabridge writes as Redmine does (fields, notes with their markers, which the
journal then shows), and fails on demand. A test that needs other behaviour configures it
(`sprint`, `clock`, `journals`, the `fail_*` attributes) or subclasses it.

The state store is the real `SqliteStateStore` on SQLite's ":memory:" database
(`memory_store`), not a second implementation of the port: no file, and no fake whose
`open_records(due_by)`, flags, marks or hour ledger could drift from what the product does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from pathlib import Path

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.config.loader import Config, load_config
from slabridge.domain.annotations import note_keys_in
from slabridge.domain.model import Journal, Sprint, Ticket, TimeEntry, TimeEntryBatch
from slabridge.domain.plan import TicketUpdate


class FakeTracker:
    """A Tracker (slabridge.ports) in memory.

    It lists every issue it holds, newest change first, whatever the filters (as a listing
    that overlaps the last one does); a write stores the fields and the note, and moves the
    issue's update time to `clock` (None: the write lands within the issue's last second,
    so the update time stays). `read_back` returns {}: the protocol's answer of a tracker
    that refuses what it will not store rather than dropping it.
    """

    name = "https://tracker.example"
    listing_started: datetime | None = None
    """The tracker's clock when the last listing began (None: it does not say)."""

    def __init__(self, tickets: Iterable[Ticket] = (), *, sprint: Sprint | None = None) -> None:
        self.issues: dict[str, Ticket] = {t.key: t for t in tickets}
        self.journals: dict[str, Journal] = {}
        """What people did per issue (status changes, notes); Journal("New") if absent."""
        self.notes: dict[str, list[str]] = {}
        """slabridge's own notes per issue, as written."""
        self.updates: list[TicketUpdate] = []
        """Every write sent, refused ones too."""
        self.sprint = sprint
        self.clock: datetime | None = None
        self.requests_made = 0
        self.journal_reads = 0
        self.fail_prepare: dict[str, BaseException] = {}
        """By issue key: raised while the write is prepared (a field not enabled, a kill)."""
        self.fail_update: BaseException | None = None
        """Raised by every write when it is sent (after it is counted in `updates`)."""
        self.fail_journal: dict[str, BaseException] = {}
        """By issue key: raised when its journal is read."""
        self.time_entries: list[TimeEntry] = []
        self.statements: dict[str, str] = {}
        """Posted statements: location -> text."""

    def replace_issues(self, tickets: Iterable[Ticket]) -> None:
        """The tracker now holds exactly `tickets` (what a listing shows next)."""
        self.issues = {t.key: t for t in tickets}

    def prepare(self) -> None:
        """Nothing to check."""
        self.requests_made += 1

    def own_authors(self) -> frozenset[str]:
        """slabridge's own account."""
        return frozenset({"slabridge"})

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        """Every issue, newest change first."""
        self.requests_made += 1
        yield from sorted(self.issues.values(), key=lambda t: t.updated, reverse=True)

    def journal(self, key: str) -> Journal:
        """People's changes and notes, and the markers of slabridge's own notes."""
        self.requests_made += 1
        self.journal_reads += 1
        failure = self.fail_journal.get(key)
        if failure is not None:
            raise failure
        history = self.journals.get(key, Journal("New"))
        own = frozenset().union(*map(note_keys_in, self.notes.get(key, [])))
        return replace(history, own_note_keys=history.own_note_keys | own)

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """One issue with its journal."""
        return self.issues[key], self.journal(key)

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """The write, ready to send (or the failure configured for the issue)."""
        failure = self.fail_prepare.get(update.ticket_key)
        if failure is not None:
            raise failure
        return partial(self.update, update)

    def update(self, update: TicketUpdate) -> None:
        """Send one write: counted, then refused (`fail_update`) or stored."""
        self.requests_made += 1
        self.updates.append(update)
        if self.fail_update is not None:
            raise self.fail_update
        issue = self.issues[update.ticket_key]
        updated = self.clock.replace(microsecond=0) if self.clock else issue.updated
        self.issues[issue.key] = replace(issue, sla_fields={**issue.sla_fields, **update.fields},
                                         updated=updated, pristine=False)
        if update.note:
            self.notes.setdefault(issue.key, []).append(update.note)

    def read_back(self, keys: Sequence[str]) -> dict[str, Ticket]:
        """Nothing to read back: this fake stores every field it is sent."""
        return {}

    def issue_url(self, key: str) -> str:
        """A made-up page of the issue."""
        return f"{self.name}/issues/{key}"

    def field_label(self, role: str) -> str:
        """The role itself."""
        return role

    def current_sprint(self, project: str) -> Sprint | None:
        """`sprint`, in every project."""
        return self.sprint

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        """The entries held, in one batch."""
        self.requests_made += 1
        return TimeEntryBatch(list(self.time_entries), None, None)

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        """Keep the statement; the location is the one given, or one made from the title."""
        self.requests_made += 1
        where = location or f"{target}/{title}"
        self.statements[where] = text
        return where


def memory_store() -> SqliteStateStore:
    """The real state store, in memory (see the module's docstring)."""
    return SqliteStateStore(":memory:")


EXAMPLE = Path(__file__).parents[1] / "config" / "slabridge.example.yaml"
LADDERS = """
escalation:
  channels:
    chat: {kind: webhook, url: "http://127.0.0.1:9/hook"}
    mail: {kind: email, to: [ops@example.com], sender: sla@example.com}
    pager: {kind: webhook, url: "http://127.0.0.1:9/pager"}
  on_call_channel: pager
  ladders:
    standard:
      - {name: at-risk, when: at_risk, mention: [alice], watchers: [alice], notify: [chat]}
      - {name: breached, when: breached, mention: [alice, bob], raise_priority: Immediate,
         reassign: bob, notify: [mail, chat]}
  rules:
    - {ladder: standard}
"""

RESOLUTION_METRIC = """
sla:
  metrics:
    resolution:
      label: {en: resolution, de: Lösung}
      stop_statuses: [Resolved, Closed]
tiers:
  advanced:
    classes:
      critical: {resolution: 2d}
"""
"""A resolution metric (config text): on Advanced, critical issues only."""


def example_config(tmp_path: Path, extra: str = "") -> Config:
    """For the use cases' tests (sync, reload): the example configuration with escalation
    ladders on three channels, and `extra` YAML on top. (Domain tests build plain values:
    tests/domain_values.py.)"""
    path = tmp_path / "c.yaml"
    path.write_text(f"include: [{EXAMPLE}]\n{LADDERS}{extra}", encoding="utf-8")
    return load_config(path)
