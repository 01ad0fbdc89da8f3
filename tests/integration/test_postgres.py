"""The PostgreSQL state store and the active/standby lock, against a real PostgreSQL started
by deploy/postgres-local/start.sh (stopped at the end if this session started it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from slabridge.adapters.state.postgres import LeaderLock, PostgresStateStore
from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from slabridge.domain.model import IssueRecord, Ticket, TicketFacts
from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A DSN for a real PostgreSQL on loopback."""
    running = _postmaster_alive()
    result = subprocess.run(["bash", str(ROOT / "deploy" / "postgres-local" / "start.sh")],
                            capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        pytest.fail(f"deploy/postgres-local/start.sh failed:\n{result.stderr[-3000:]}")
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    yield values["PG_DSN"]
    if not running:
        subprocess.run(["bash", str(ROOT / "deploy" / "postgres-local" / "stop.sh")],
                       check=False, timeout=60)


def _postmaster_alive() -> bool:
    # The directory deploy/postgres-local/start.sh uses (root-owned machine, tests only).
    default = "/var/tmp/slabridge-postgres"  # noqa: S108
    pidfile = Path(os.environ.get("PG_DIR", default)) / "postmaster.pid"
    try:
        os.kill(int(pidfile.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def test_sync_with_postgres_state(
    workspace: Workspace, admin: RedmineAdmin, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same cycle on PostgreSQL state: written once, the second cycle writes nothing."""
    text = workspace.config_path.read_text(encoding="utf-8").replace(
        "state:\n  path: state.sqlite3\n", "state:\n  kind: postgres\n  dsn: ${SLABRIDGE_DSN}\n"
    )
    workspace.config_path.write_text(text, encoding="utf-8")
    for name in ("REDMINE_URL", "REDMINE_API_KEY"):
        monkeypatch.setenv(name, workspace.env[name])
    monkeypatch.setenv("SLABRIDGE_DSN", postgres)
    issue = admin.make_issue(workspace.projects["acme"], "Down", priority="Urgent")
    first = build_syncer(load_config(workspace.config_path)).cycle(datetime.now(UTC))
    second = build_syncer(load_config(workspace.config_path)).cycle(datetime.now(UTC))
    assert first.writes == 1
    assert second.writes == 0
    assert len(admin.notes(issue)) == 1


HOLDER = """
import sys, time
from slabridge.adapters.state.postgres import LeaderLock
lock = LeaderLock(sys.argv[1], "replica-test")
assert lock.try_acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_standby_takes_over_when_the_active_replica_is_killed(postgres: str) -> None:
    """kill -9 of the lock holder: a standby holds the lock within seconds."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, postgres],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        standby = LeaderLock(postgres, "replica-test")
        assert not standby.try_acquire()
        holder.kill()
        holder.wait(timeout=10)
        started = time.monotonic()
        while not standby.try_acquire():
            assert time.monotonic() - started < 10, "standby did not take over"
            time.sleep(0.2)
        assert time.monotonic() - started < 5
        again = LeaderLock(postgres, "replica-test")
        assert not again.try_acquire()  # exactly one active
        standby.release()
        assert again.try_acquire()
        again.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_replicas_standby_completes_after_kill_9_mid_cycle(
    workspace: Workspace, admin: RedmineAdmin, postgres: str
) -> None:
    """Two daemons on one PostgreSQL: one is active; kill -9 it mid-cycle, the standby takes
    over within seconds and finishes the work with every issue annotated exactly once."""
    import queue
    import signal
    import threading

    text = workspace.config_path.read_text(encoding="utf-8").replace(
        "state:\n  path: state.sqlite3\n", "state:\n  kind: postgres\n  dsn: ${SLABRIDGE_DSN}\n"
    )
    workspace.config_path.write_text(text, encoding="utf-8")
    env = {**workspace.env, "SLABRIDGE_DSN": postgres}
    issues = [admin.make_issue(workspace.projects["acme"], f"Outage {n}", priority="Urgent")
              for n in range(30)]
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    daemons = []
    for number in range(2):
        process = subprocess.Popen(
            [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "run",
             "--interval", "60", "--health-port", "0", "--log-level", "INFO"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        daemons.append(process)

        def pump(index: int = number, stream: Any = process.stderr) -> None:
            for line in stream:
                lines.put((index, line))

        threading.Thread(target=pump, daemon=True).start()
        time.sleep(1.5)  # the first one started becomes active
    try:
        written: dict[int, int] = {0: 0, 1: 0}
        victim = None
        deadline = time.monotonic() + 120
        while victim is None:
            index, line = lines.get(timeout=max(1, deadline - time.monotonic()))
            if "issue_updated" in line:
                written[index] += 1
                if written[index] == 3:
                    victim = index
        killed_at = time.monotonic()
        os.kill(daemons[victim].pid, signal.SIGKILL)
        daemons[victim].wait(timeout=10)
        survivor = 1 - victim
        took_over = None
        while True:
            index, line = lines.get(timeout=max(1, deadline - time.monotonic()))
            if index == survivor and "became_active" in line and took_over is None:
                took_over = time.monotonic() - killed_at
            if index == survivor and "cycle_done" in line and took_over is not None:
                break
        assert took_over is not None and took_over < 10
        assert written[survivor] == 0 or victim == survivor  # only one was ever active before
        for issue in issues:
            notes = admin.notes(issue)
            assert len(notes) == 1, (issue, notes)
    finally:
        for process in daemons:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_a_latin1_database_stores_any_subject(postgres: str) -> None:
    """Records are ASCII JSON on PostgreSQL: a database that is not UTF-8 stores an emoji."""
    admin = psycopg.connect(postgres, autocommit=True)
    try:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'slabridge_latin1'").fetchone()
        if not exists:
            admin.execute("CREATE DATABASE slabridge_latin1 ENCODING 'LATIN1' "
                          "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    finally:
        admin.close()
    dsn = postgres.rsplit("/", 1)[0] + "/slabridge_latin1"
    store = PostgresStateStore(dsn)
    try:
        assert store._db.execute("SHOW server_encoding").fetchone()[0] == "LATIN1"
        at = datetime(2026, 11, 23, 9, tzinfo=UTC)
        record = IssueRecord(Ticket("7", TicketFacts("p", "Bug", "Urgent", "New", frozenset(),
                                                     {"Customer": "Müller & Söhne"}),
                                    "Kühlhaus 🧊 ausgefallen \u2013 bitte ✓", at, at, "New", False,
                                    "3"))
        store.put("https://redmine.example", record)
        store.put_many("https://redmine.example", [record])
        assert store.get("https://redmine.example", "7") == record
    finally:
        store.close()
