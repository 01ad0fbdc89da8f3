"""Stand-ins for the daemon's tests: scripted cycles, a daemon run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slabridge.app.report import SyncReport
from slabridge.daemon.scheduler import Daemon


@dataclass
class Counter:
    """Stands in for the tracker: only the request count is read."""

    requests_made: int = 0


@dataclass
class Store:
    """Stands in for the state store: counts close()."""

    closed: int = 0

    def close(self) -> None:
        self.closed += 1


@dataclass
class FakeSyncer:
    """Runs scripted cycles: each takes `seconds`, walking `issues` and asking should_stop."""

    outcomes: list[Exception | None] = field(default_factory=list)
    seconds: float = 0.0
    issues: int = 1
    tracker: Counter = field(default_factory=Counter)
    store: Store = field(default_factory=Store)
    calls: list[bool] = field(default_factory=list)
    stopped_at: list[int] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cycle(self, now: datetime, *, dry_run: bool = False, full: bool = False,
              should_stop: Callable[[], bool] = lambda: False) -> SyncReport:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(full)
            outcome = self.outcomes.pop(0) if self.outcomes else None
        try:
            self.tracker.requests_made += 2
            if outcome is not None:
                raise outcome
            report = SyncReport(mode="full" if full else "incremental", dry_run=dry_run,
                                requests=2)
            for index in range(self.issues):
                if should_stop():
                    self.stopped_at.append(index)
                    break
                time.sleep(self.seconds / self.issues)
                report.writes += 1
            return report
        finally:
            with self.lock:
                self.active -= 1


class Running:
    """A daemon run() in a background thread (so without signal handlers)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.result: list[int] = []
        self.thread = threading.Thread(target=lambda: self.result.append(daemon.run()))

    def stop(self, timeout: float = 5.0) -> float:
        """Ask it to stop; seconds until run() returned."""
        started = time.monotonic()
        self.daemon.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the daemon did not stop"
        assert self.result == [0]
        return time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
