"""The daemon's scheduling, failure handling, stopping and reloading, with a fake syncer."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from slabridge.app.report import SyncReport
from slabridge.bootstrap import settle_long_lived_objects
from slabridge.config.loader import Config, load_config
from slabridge.daemon.scheduler import POLL_JOB, RECONCILE_JOB, CycleRunner, Daemon
from slabridge.errors import ConfigError, TrackerAuthError, TrackerUnavailableError
from tests.daemon_support import FakeSyncer, Running, wait_until


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(None)


@pytest.fixture
def start(config: Config) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def starter(syncers: list[FakeSyncer], *, interval: int = 1,
                load: Callable[[Path | None], Config] | None = None,
                settle: Callable[[], None] = lambda: None) -> Running:
        pending = list(syncers)

        def build(_: Config) -> CycleRunner:
            # The first build is the start-up check; every later one is a real syncer.
            return pending.pop(0) if len(pending) > 1 else pending[0]

        # No gc.freeze of the whole test process (a full collection per build) by default.
        extra: dict[str, Any] = {"settle": settle} if load is None else {"load": load,
                                                                       "settle": settle}
        daemon = Daemon(None, config, overrides={"interval_seconds": interval,
                                                 "health_port": None}, build=build, **extra)
        running = Running(daemon)
        started.append(running)
        running.thread.start()
        return running

    yield starter
    for running in started:
        if running.thread.is_alive():
            running.stop()


def test_first_cycle_at_once_then_every_interval(start: Callable[..., Running]) -> None:
    """The poll runs at start and again each interval; never a full cycle by itself."""
    syncer = FakeSyncer()
    running = start([FakeSyncer(), syncer])
    wait_until(lambda: len(syncer.calls) >= 1, timeout=0.8)
    wait_until(lambda: len(syncer.calls) >= 3, timeout=3.5)
    assert not any(syncer.calls)
    running.stop()


def test_failed_cycles_are_counted_and_the_daemon_goes_on(start: Callable[..., Running]) -> None:
    """Auth, unavailable and unexpected errors: logged, counted, and the next cycle runs."""
    syncer = FakeSyncer(outcomes=[TrackerAuthError("rejected"),
                                  TrackerUnavailableError("down"), RuntimeError("bug")])
    running = start([FakeSyncer(), syncer])
    wait_until(lambda: running.daemon.monitor.health()[1]["failed_cycles"] == 3)
    code, body = running.daemon.monitor.health()
    assert (code, body["status"], body["last_error"]) == (503, "unhealthy", "RuntimeError: bug")
    wait_until(lambda: running.daemon.monitor.health()[0] == 200)
    registry = running.daemon.monitor.registry
    assert registry.get_sample_value("slabridge_cycle_errors_total") == 3
    assert registry.get_sample_value("slabridge_tracker_requests_total") >= 8  # type: ignore[operator]
    running.stop()


def test_poll_and_reconcile_never_overlap(start: Callable[..., Running]) -> None:
    """A reconciliation asked for during a poll waits for it; only one cycle at a time."""
    syncer = FakeSyncer(seconds=0.6, issues=3)
    running = start([FakeSyncer(), syncer])
    wait_until(lambda: syncer.active == 1)
    running.daemon.run_now(RECONCILE_JOB)
    wait_until(lambda: True in syncer.calls)
    wait_until(lambda: len(syncer.calls) >= 4)
    assert syncer.max_active == 1
    running.stop()


def test_second_reconcile_within_two_hours_is_skipped(start: Callable[..., Running]) -> None:
    """The night clocks go back, 02:30 comes twice: one reconciliation only."""
    syncer = FakeSyncer()
    running = start([FakeSyncer(), syncer], interval=60)
    wait_until(lambda: len(syncer.calls) == 1)
    running.daemon.run_now(RECONCILE_JOB)
    wait_until(lambda: syncer.calls == [False, True])
    running.daemon.run_now(RECONCILE_JOB)
    running.daemon.run_now(POLL_JOB)
    wait_until(lambda: len(syncer.calls) == 3)
    assert syncer.calls == [False, True, False]
    running.stop()


def test_reconcile_at_local_time_of_the_default_tier(start: Callable[..., Running]) -> None:
    """The nightly job is at 02:30 Vienna time (the shipped calendars' zone)."""
    running = start([FakeSyncer()], interval=60)
    wait_until(lambda: RECONCILE_JOB in running.daemon.next_runs())
    when = running.daemon.next_runs()[RECONCILE_JOB]
    local = when.astimezone(ZoneInfo("Europe/Vienna"))
    assert (local.hour, local.minute) == (2, 30)
    running.stop()


def test_stop_mid_cycle_finishes_the_current_issue(start: Callable[..., Running]) -> None:
    """A stop is seen between issues; run() returns 0 promptly; queued cycles do not start."""
    syncer = FakeSyncer(seconds=10, issues=50)
    running = start([FakeSyncer(), syncer])
    wait_until(lambda: syncer.active == 1)
    time.sleep(0.5)
    seconds = running.stop()
    assert seconds < 1.5
    assert len(syncer.stopped_at) == 1
    assert 0 < syncer.stopped_at[0] < 50
    assert len(syncer.calls) == 1


def test_stop_while_idle(start: Callable[..., Running]) -> None:
    """Between cycles, a stop returns at once."""
    syncer = FakeSyncer()
    running = start([FakeSyncer(), syncer], interval=60)
    wait_until(lambda: len(syncer.calls) == 1)
    assert running.stop() < 0.5


def test_reload_swaps_the_syncer_and_a_bad_one_keeps_it(
    start: Callable[..., Running], config: Config
) -> None:
    """A good reload builds a new syncer (the old store is closed); a bad one changes nothing."""
    answers: list[Config | Exception] = [config, ConfigError([])]

    def load(path: Path | None) -> Config:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    first, second = FakeSyncer(), FakeSyncer()
    running = start([FakeSyncer(), first, second], interval=60, load=load)
    registry = running.daemon.monitor.registry
    wait_until(lambda: len(first.calls) == 1)
    running.daemon.request_reload()
    wait_until(lambda: registry.get_sample_value("slabridge_config_reloads_total",
                                                 {"outcome": "ok"}) == 1)
    assert first.store.closed == 1
    running.daemon.run_now(POLL_JOB)
    wait_until(lambda: len(second.calls) == 1)
    running.daemon.request_reload()
    wait_until(lambda: registry.get_sample_value("slabridge_config_reloads_total",
                                                 {"outcome": "error"}) == 1)
    running.daemon.run_now(POLL_JOB)
    wait_until(lambda: len(second.calls) == 2)
    assert second.store.closed == 0
    running.stop()


def test_bad_reconcile_time_is_a_config_error(tmp_path: Path) -> None:
    """reconcile_at must be a time of day; the message names the file, line and key."""
    path = tmp_path / "slabridge.yaml"
    path.write_text("include: [contract-terms]\ndaemon:\n  reconcile_at: '25:10'\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Daemon(path, load_config(path))
    assert str(caught.value) == (
        f"{path}:3: at daemon.reconcile_at: '25:10' is not a time of day: write HH:MM, e.g. 02:30"
    )


def test_the_first_cycle_runs_with_start_up_objects_settled(
    start: Callable[..., Running],
) -> None:
    """Built, then kept out of later garbage collections (settle_long_lived_objects)."""

    frozen_at_cycle: list[int] = []

    class SettledSyncer(FakeSyncer):
        def cycle(self, now: datetime, *, dry_run: bool = False, full: bool = False,
                  should_stop: Callable[[], bool] = lambda: False) -> SyncReport:
            frozen_at_cycle.append(gc.get_freeze_count())
            return super().cycle(now, dry_run=dry_run, full=full, should_stop=should_stop)

    gc.unfreeze()
    try:
        syncer = SettledSyncer()
        running = start([FakeSyncer(), syncer], settle=settle_long_lived_objects)
        wait_until(lambda: len(syncer.calls) >= 1)
        assert frozen_at_cycle[0] > 0
        running.stop()
    finally:
        gc.unfreeze()
