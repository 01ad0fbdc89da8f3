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

import pytest

from slabridge.adapters.state_postgres import LeaderLock
from slabridge.bootstrap import build_syncer
from slabridge.config import load_config
from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A DSN for a real PostgreSQL on loopback."""
    running = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "55432", "-q"],
                             check=False).returncode == 0 if _has("pg_isready") else False
    result = subprocess.run(["bash", str(ROOT / "deploy" / "postgres-local" / "start.sh")],
                            capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        pytest.fail(f"deploy/postgres-local/start.sh failed:\n{result.stderr[-3000:]}")
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    yield values["PG_DSN"]
    if not running:
        subprocess.run(["bash", str(ROOT / "deploy" / "postgres-local" / "stop.sh")],
                       check=False, timeout=60)


def _has(command: str) -> bool:
    return any(Path(d, command).exists() for d in os.environ.get("PATH", "").split(":"))


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
from slabridge.adapters.state_postgres import LeaderLock
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
