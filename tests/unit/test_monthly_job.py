"""The daemon's monthly summary: built by the composition root on the hours port, its
store connection closed whatever happens, a failure logged and survived."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.app.hours import HoursService
from slabridge.config.loader import Config, load_config
from slabridge.daemon import scheduler
from slabridge.daemon.scheduler import Daemon
from tests.daemon_support import FakeSyncer
from tests.fakes import FakeTracker


@pytest.mark.parametrize("fails", [False, True])
def test_monthly_job_runs_on_the_hours_port_and_closes_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    config: Config = load_config(None)
    stores: list[SqliteStateStore] = []
    summarised: list[HoursService] = []

    def hours(given: Config) -> HoursService:
        stores.append(SqliteStateStore(tmp_path / "state.sqlite3"))
        return HoursService(FakeTracker(), stores[-1], given)

    def summary(service: HoursService, today: date, now: datetime) -> list[str] | None:
        summarised.append(service)
        if fails:
            raise RuntimeError("wiki down")
        return ["wiki:acme/Statement"]

    monkeypatch.setattr(scheduler, "monthly_summary", summary)
    daemon = Daemon(None, config, overrides={"health_port": None},
                    build=lambda _: FakeSyncer(), hours=hours, settle=lambda: None)
    daemon._syncer = FakeSyncer()  # as after the first cycle
    with capture_logs() as logs:
        daemon._monthly_job()
    assert [s.store for s in summarised] == stores and len(stores) == 1
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        stores[0].mark("x", "y")
    events = [e["event"] for e in logs]
    assert ("monthly_summary_failed" in events) is fails
    assert ("monthly_summary_posted" in events) is not fails
