"""State store in one SQLite file: watermarks and one JSON record per issue."""

from __future__ import annotations

import json
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from slabridge.domain.model import (
    ClassChange,
    IssueRecord,
    Journal,
    Note,
    StatusChange,
    Ticket,
    TicketFacts,
    TimeEntry,
)
from slabridge.errors import SlabridgeError, running_user

SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (tracker TEXT PRIMARY KEY, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS issues (
    tracker TEXT NOT NULL,
    key TEXT NOT NULL,
    open INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (tracker, key)
);
CREATE INDEX IF NOT EXISTS issues_open ON issues (tracker, open);
CREATE TABLE IF NOT EXISTS flags (tracker TEXT NOT NULL, key TEXT NOT NULL,
                                  PRIMARY KEY (tracker, key));
CREATE TABLE IF NOT EXISTS time_entries (
    tracker TEXT NOT NULL,
    id TEXT NOT NULL,
    ticket_key TEXT,
    project TEXT,
    spent_on TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tracker, id)
);
CREATE INDEX IF NOT EXISTS time_entries_spent ON time_entries (tracker, spent_on);
CREATE TABLE IF NOT EXISTS statements (
    tracker TEXT NOT NULL,
    customer TEXT NOT NULL,
    month TEXT NOT NULL,
    posted TEXT NOT NULL,
    entries TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (tracker, customer, month)
);
CREATE TABLE IF NOT EXISTS marks (tracker TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                                  PRIMARY KEY (tracker, key));
"""


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _req_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    facts = ticket.facts
    return {
        "key": ticket.key,
        "facts": {
            "project": facts.project,
            "tracker": facts.tracker,
            "priority": facts.priority,
            "status": facts.status,
            "labels": sorted(facts.labels),
            "custom_fields": {
                k: v if isinstance(v, str) else list(v) for k, v in facts.custom_fields.items()
            },
        },
        "subject": ticket.subject,
        "created": ticket.created.isoformat(),
        "updated": ticket.updated.isoformat(),
        "status": ticket.status,
        "closed": ticket.closed,
        "reporter": ticket.reporter,
        "received_field": _iso(ticket.received_field),
        "sla_fields": dict(ticket.sla_fields),
        "pristine": ticket.pristine,
        "sprint": ticket.sprint,
        "tracked_fields": (None if ticket.tracked_fields is None
                           else sorted(ticket.tracked_fields)),
        "receipt_problem": ticket.receipt_problem,
    }


def _journal_to_dict(journal: Journal | None) -> dict[str, Any] | None:
    if journal is None:
        return None
    return {
        "initial_status": journal.initial_status,
        "status_changes": [{"at": c.at.isoformat(), "old": c.old, "new": c.new}
                           for c in journal.status_changes],
        "notes": [{"at": n.at.isoformat(), "author": n.author, "public": n.public,
                   "author_name": n.author_name} for n in journal.notes],
        "own_note_keys": sorted(journal.own_note_keys),
    }


def _orjson_default(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a record")


def record_to_json(record: IssueRecord) -> str:
    """A record as JSON text: the dataclasses as objects, times in ISO 8601, sets sorted.

    orjson encodes the dataclasses directly in about 8 us; the standard library took 25 us
    even field by field, the largest share of a first cycle's local time. What orjson
    refuses (a lone surrogate from a cut emoji) or would round (an offset with seconds) is
    stored by the field-by-field encoder, with ASCII escapes.
    """
    if _offsets_in_whole_minutes(record):
        try:
            return orjson.dumps(record, default=_orjson_default).decode()
        except orjson.JSONEncodeError:
            pass
    return _record_to_ascii_json(record)


def _offsets_in_whole_minutes(record: IssueRecord) -> bool:
    """Whether orjson keeps every time of the record exact: it writes UTC offsets to the
    minute, and local mean time before about 1900 (a receipt field typed as 1850, say)
    has offsets with seconds, such as Vienna's +01:05:21."""
    ticket, journal = record.ticket, record.journal
    times = [ticket.created, ticket.updated, ticket.received_field, record.journal_as_of,
             record.accepted_at, record.next_check, *(c.at for c in record.class_changes)]
    if journal is not None:
        times += [c.at for c in journal.status_changes]
        times += [n.at for n in journal.notes]
    for instant in times:
        if instant is not None and instant.tzinfo is not UTC:  # most are UTC: no call
            offset = instant.utcoffset()
            if offset is not None and offset % ONE_MINUTE:
                return False
    return True


def _record_to_ascii_json(record: IssueRecord) -> str:
    """A record as JSON text with ASCII escapes, field by field (see record_to_json)."""
    return json.dumps({
        "ticket": _ticket_to_dict(record.ticket),
        "journal": _journal_to_dict(record.journal),
        "journal_as_of": _iso(record.journal_as_of),
        "class_changes": [{"at": c.at.isoformat(), "new": c.new}
                          for c in record.class_changes],
        "accepted_at": _iso(record.accepted_at),
        "done_keys": sorted(record.done_keys),
        "next_check": _iso(record.next_check),
    })  # ASCII escapes: a lone surrogate in a subject (cut emoji) still stores as UTF-8


def _ticket(data: dict[str, Any]) -> Ticket:
    facts = data["facts"]
    return Ticket(
        key=data["key"],
        facts=TicketFacts(
            project=facts["project"],
            tracker=facts["tracker"],
            priority=facts["priority"],
            status=facts["status"],
            labels=frozenset(facts["labels"]),
            custom_fields={
                k: v if isinstance(v, str) else tuple(v)
                for k, v in facts["custom_fields"].items()
            },
        ),
        subject=data["subject"],
        created=_req_dt(data["created"]),
        updated=_req_dt(data["updated"]),
        status=data["status"],
        closed=data["closed"],
        reporter=data["reporter"],
        received_field=_dt(data["received_field"]),
        sla_fields=dict(data["sla_fields"]),
        pristine=data.get("pristine", False),
        sprint=data.get("sprint"),
        tracked_fields=(None if data.get("tracked_fields") is None
                        else frozenset(data["tracked_fields"])),
        receipt_problem=data.get("receipt_problem", ""),
    )


def _journal(data: dict[str, Any] | None) -> Journal | None:
    if data is None:
        return None
    return Journal(
        initial_status=data["initial_status"],
        status_changes=tuple(
            StatusChange(_req_dt(c["at"]), c["old"], c["new"]) for c in data["status_changes"]
        ),
        notes=tuple(Note(_req_dt(n["at"]), n["author"], n["public"], n.get("author_name", ""))
                    for n in data["notes"]),
        own_note_keys=frozenset(data["own_note_keys"]),
    )


def record_from_json(text: str) -> IssueRecord:
    """A record from its JSON text."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:  # ASCII escapes orjson refuses (lone surrogates)
        data = json.loads(text)
    return IssueRecord(
        ticket=_ticket(data["ticket"]),
        journal=_journal(data["journal"]),
        journal_as_of=_dt(data["journal_as_of"]),
        class_changes=tuple(ClassChange(_req_dt(c["at"]), c["new"]) for c in data["class_changes"]),
        accepted_at=_dt(data["accepted_at"]),
        done_keys=frozenset(data["done_keys"]),
        next_check=_dt(data.get("next_check")),
    )


ONE_MINUTE = timedelta(minutes=1)

# SQLite allows 32766 bound parameters (999 before 3.32); PostgreSQL 65535.
KEYS_PER_QUERY = 500

PUT_RECORD = (
    "INSERT INTO issues (tracker, key, open, record, next_check) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (tracker, key) DO UPDATE SET open = excluded.open, "
    "record = excluded.record, next_check = excluded.next_check"
)


def record_to_ascii_json(record: IssueRecord) -> str:
    """record_to_json with ASCII escapes for every non-ASCII character, so that a database
    in any encoding (PostgreSQL's LATIN1, say) stores it: orjson's text where it is ASCII
    already (most records), else the field-by-field encoder, which writes the same document."""
    text = record_to_json(record)
    return text if text.isascii() else _record_to_ascii_json(record)


def _record_row(tracker: str, record: IssueRecord,
                encode: Callable[[IssueRecord], str]) -> tuple[str, str, int, str, str | None]:
    check = record.next_check.astimezone(UTC).isoformat() if record.next_check else None
    return tracker, record.ticket.key, int(not record.ticket.closed), encode(record), check


class SqlStateStore(ABC):
    """The StateStore in SQL that SQLite and PostgreSQL share; every write commits at once.

    Statements are written with `?` placeholders; the PostgreSQL store translates them.
    """

    _db: Any
    _encode: Callable[[IssueRecord], str] = staticmethod(record_to_json)
    """How a record becomes the text stored (SQLite stores UTF-8 whatever the text)."""

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def watermark(self, tracker: str) -> datetime | None:
        """The newest `updated` time of the last completed listing."""
        row = self._run(
            "SELECT updated FROM watermarks WHERE tracker = ?", (tracker,)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def set_watermark(self, tracker: str, at: datetime) -> None:
        """Record the newest `updated` time of a completed listing."""
        self._run(
            "INSERT INTO watermarks (tracker, updated) VALUES (?, ?) "
            "ON CONFLICT (tracker) DO UPDATE SET updated = excluded.updated",
            (tracker, at.isoformat()),
        )

    def get(self, tracker: str, key: str) -> IssueRecord | None:
        """The record of one issue, if any."""
        row = self._run(
            "SELECT record FROM issues WHERE tracker = ? AND key = ?", (tracker, key)
        ).fetchone()
        return record_from_json(row[0]) if row else None

    def get_many(self, tracker: str, keys: Sequence[str]) -> dict[str, IssueRecord]:
        """The records of those of `keys` that have one, by key."""
        found: dict[str, IssueRecord] = {}
        for first in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[first:first + KEYS_PER_QUERY]
            rows = self._run(
                "SELECT key, record FROM issues WHERE tracker = ? AND key IN "  # noqa: S608
                f"({', '.join('?' * len(chunk))})",  # placeholders only, values bound
                (tracker, *chunk),
            ).fetchall()
            found.update((row[0], record_from_json(row[1])) for row in rows)
        return found

    def put(self, tracker: str, record: IssueRecord) -> None:
        """Store (replace) the record of one issue."""
        self._run(PUT_RECORD, _record_row(tracker, record, self._encode))

    def put_many(self, tracker: str, records: Sequence[IssueRecord]) -> None:
        """Store (replace) several records in one transaction."""
        if records:
            with self._transaction():
                encode = self._encode
                self._many(PUT_RECORD, [_record_row(tracker, record, encode)
                                        for record in records])

    def open_records(self, tracker: str, due_by: datetime | None = None) -> list[IssueRecord]:
        """Records of issues last seen open; with `due_by`, only those whose next_check has
        come (the others cannot change without a change in the tracker)."""
        if due_by is None:
            rows = self._run(
                "SELECT record FROM issues WHERE tracker = ? AND open = 1", (tracker,)
            ).fetchall()
        else:
            rows = self._run(
                "SELECT record FROM issues WHERE tracker = ? AND open = 1 "
                "AND next_check IS NOT NULL AND next_check <= ?",
                (tracker, due_by.astimezone(UTC).isoformat()),
            ).fetchall()
        return [record_from_json(row[0]) for row in rows]

    def all_records(self, tracker: str) -> list[IssueRecord]:
        """Every record of a tracker (for reports)."""
        rows = self._run(
            "SELECT record FROM issues WHERE tracker = ?", (tracker,)
        ).fetchall()
        return [record_from_json(row[0]) for row in rows]

    def flag_once(self, tracker: str, key: str, on: bool) -> bool:
        """Set (on) or clear a flag; True if it was just set (report once, not every cycle)."""
        if not on:
            self._run("DELETE FROM flags WHERE tracker = ? AND key = ?", (tracker, key))
            return False
        cursor = self._run(
            "INSERT INTO flags (tracker, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (tracker, key),
        )
        return bool(cursor.rowcount == 1)

    # --- time entries and statements (the hour ledger) ---------------------------------

    def replace_time_entries(
        self, tracker: str, entries: list[TimeEntry], first_day: date | None = None
    ) -> None:
        """Store entries; with `first_day`, entries from then on that are gone are deleted."""
        with self._db:
            self._run("BEGIN")
            if first_day is not None:
                self._run(
                    "DELETE FROM time_entries WHERE tracker = ? AND spent_on >= ?",
                    (tracker, first_day.isoformat()),
                )
            self._db.executemany(
                "INSERT INTO time_entries (tracker, id, ticket_key, project, spent_on, seconds,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tracker, id) DO UPDATE SET"
                " ticket_key = excluded.ticket_key, project = excluded.project,"
                " spent_on = excluded.spent_on, seconds = excluded.seconds,"
                " updated = excluded.updated",
                [(tracker, e.id, e.ticket_key, e.project, e.started.date().isoformat(),
                  e.seconds, e.updated.isoformat()) for e in entries],
            )

    def time_entries(self, tracker: str) -> list[tuple[str, str | None, str | None, date, int]]:
        """(id, ticket key, project, day, seconds) of every stored entry."""
        rows = self._run(
            "SELECT id, ticket_key, project, spent_on, seconds FROM time_entries "
            "WHERE tracker = ?", (tracker,),
        ).fetchall()
        return [(r[0], r[1], r[2], date.fromisoformat(r[3]), int(r[4])) for r in rows]

    def posted_statements(self, tracker: str, customer: str) -> dict[str, dict[str, str]]:
        """month -> frozen {entry id: hours} of the statements already posted."""
        rows = self._run(
            "SELECT month, entries FROM statements WHERE tracker = ? AND customer = ?",
            (tracker, customer),
        ).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def statement_location(self, tracker: str, customer: str, month: str) -> str | None:
        """Where a posted statement lives (wiki page, comment id), if posted."""
        row = self._run(
            "SELECT location FROM statements WHERE tracker = ? AND customer = ? AND month = ?",
            (tracker, customer, month),
        ).fetchone()
        return str(row[0]) if row else None

    def freeze_statement(self, tracker: str, customer: str, month: str,
                         entries: dict[str, str], location: str, posted: datetime) -> None:
        """Record a posted statement; later changes to its month become adjustments."""
        self._run(
            "INSERT INTO statements (tracker, customer, month, posted, entries, location) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tracker, customer, month) DO UPDATE SET "
            "posted = excluded.posted, location = excluded.location",
            (tracker, customer, month, posted.isoformat(), json.dumps(entries), location),
        )

    def mark(self, tracker: str, key: str) -> str | None:
        """A remembered value (e.g. the worklog watermark)."""
        row = self._run(
            "SELECT value FROM marks WHERE tracker = ? AND key = ?", (tracker, key)
        ).fetchone()
        return str(row[0]) if row else None

    def set_mark(self, tracker: str, key: str, value: str) -> None:
        """Remember a value."""
        self._run(
            "INSERT INTO marks (tracker, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (tracker, key) DO UPDATE SET value = excluded.value",
            (tracker, key, value),
        )

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]:
        """A context in which the statements run as one transaction."""


def state_file_problem(path: Path) -> tuple[str, str] | None:
    """Why this user could not create or write the SQLite file at `path`, and what to do;
    None if it can. SQLite writes a journal beside the file, so the folder must be writable
    too; folders that do not exist yet are made on first use, so the nearest existing one
    counts."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        culprit = path
    elif not os.access(folder, os.W_OK | os.X_OK):
        culprit = folder
    else:
        return None
    return (f"{culprit} is not writable",
            f"{running_user()} must be able to create and write files in {folder}: give it "
            f"that folder (chown {os.getuid()} {folder}; on the host for a mounted folder or "
            "volume) or set state.path to a writable place (a relative path is taken from "
            "the config's folder; in the container image use /var/lib/slabridge, its volume)")


class SqliteStateStore(SqlStateStore):
    """StateStore on a SQLite file (the default)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every 10,000 pages (40 MB of WAL) instead of every 1,000: the
            # checkpoints' fsyncs doubled what storing a first cycle's records costs
            # (16 against 8 us per record, measured with 5,000).
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            # and the WAL file shrinks back to 64 MB at most after a checkpoint.
            self._db.execute("PRAGMA journal_size_limit=67108864")
            migrate(self._db, SQLITE_MIGRATIONS)
        except (OSError, sqlite3.Error) as exc:
            problem = state_file_problem(self.path) if str(path) != ":memory:" else None
            advice = f"; {problem[1]}" if problem else ""
            raise SlabridgeError(
                f"cannot open the state file {self.path}: {exc}{advice}") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


# Version 2: the time at which a record must be looked at again without a tracker change.
NEXT_CHECK = """
ALTER TABLE issues ADD COLUMN next_check TEXT;
CREATE INDEX IF NOT EXISTS issues_next_check ON issues (tracker, open, next_check);
"""

SQLITE_MIGRATIONS = (SCHEMA, NEXT_CHECK)
"""Schema versions in order: version N is reached by running entry N-1 on version N-1."""


def migrate(db: Any, migrations: Sequence[str]) -> int:
    """Bring the schema to the newest version; returns it. Each step is one transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT version FROM schema_version").fetchone()
    version = int(row[0]) if row else 0
    if row is None:
        db.execute("INSERT INTO schema_version (version) VALUES (0)")
    for number, script in enumerate(migrations[version:], start=version + 1):
        statements = [part.strip() for part in script.split(";") if part.strip()]
        db.execute("BEGIN")
        for statement in statements:
            db.execute(statement)
        db.execute(f"UPDATE schema_version SET version = {number}")  # noqa: S608 - an int
        db.execute("COMMIT")
    return len(migrations)
