"""State store on PostgreSQL (psycopg 3), and the advisory lock that picks the active replica.

Several replicas may run against one database: the one holding a session-level advisory
lock is active and runs cycles; the others wait as standbys. If the active process dies, its
connection closes, PostgreSQL releases the lock, and a standby takes it within its retry
interval.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from slabridge.adapters.state.sqlite import (
    NEXT_CHECK,
    SCHEMA,
    SqlStateStore,
    migrate,
    record_to_ascii_json,
)
from slabridge.errors import SlabridgeError

POSTGRES_MIGRATIONS = (SCHEMA, NEXT_CHECK)
"""Schema versions, as for SQLite (the statements are portable)."""


def lock_key(name: str) -> int:
    """A stable 32-bit advisory-lock key for a name (e.g. the tracker URL)."""
    return zlib.crc32(f"slabridge:{name}".encode())


class PostgresStateStore(SqlStateStore):
    """StateStore on PostgreSQL; every write commits at once."""

    # With ASCII escapes an issue record (subjects in any script) stores even in a
    # database that is not UTF-8; names in other tables are stored as they are.
    _encode = staticmethod(record_to_ascii_json)

    def __init__(self, dsn: str) -> None:
        try:
            self._db = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise SlabridgeError(f"cannot connect to the PostgreSQL state store: {exc}") \
                from None
        # Replicas starting together must not migrate twice: serialise on a lock.
        self._db.execute("SELECT pg_advisory_lock(%s)", (lock_key("migrations"),))
        try:
            migrate(self._db, POSTGRES_MIGRATIONS)
        finally:
            self._db.execute("SELECT pg_advisory_unlock(%s)", (lock_key("migrations"),))

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql.replace("?", "%s"), params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._db.transaction():
            yield


class LeaderLock:
    """A session-level advisory lock held on its own connection for as long as we lead."""

    def __init__(self, dsn: str, name: str) -> None:
        self.dsn = dsn
        self.key = lock_key(name)
        self._connection: psycopg.Connection[Any] | None = None
        self.held = False

    def try_acquire(self) -> bool:
        """True if we hold the lock (taking it now if it is free); never blocks."""
        if self.held and self._alive():
            return True
        self.held = False
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self.dsn, autocommit=True,
                                                   connect_timeout=5)
            row = self._connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (self.key,)
            ).fetchone()
        except psycopg.Error:
            self._connection = None
            return False
        self.held = bool(row and row[0])
        return self.held

    def _alive(self) -> bool:
        try:
            assert self._connection is not None  # noqa: S101 - held implies a connection
            self._connection.execute("SELECT 1")
        except (psycopg.Error, AssertionError):
            self._connection = None
            return False
        return True

    def release(self) -> None:
        """Give the lock up (closing the connection releases it too)."""
        if self._connection is not None and not self._connection.closed:
            try:
                self._connection.execute("SELECT pg_advisory_unlock_all()")
            finally:
                self._connection.close()
        self._connection = None
        self.held = False
