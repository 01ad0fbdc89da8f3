"""The daemon behind `slabridge run`: scheduled cycles, signals, health; one cycle at a time.

Jobs (APScheduler 3.x):

- `poll`: `Syncer.cycle` every `daemon.interval_seconds`, the first one at once;
- `reconcile`: `Syncer.cycle(full=True)` daily at `daemon.reconcile_at`, local time of the
  default tier's calendar.

Both run on the scheduler's only worker thread, so two cycles never overlap (they share one
Syncer and one state store), and the store's SQLite connection, which belongs to the thread
that opened it, is only ever opened and used there. Signals reach the main thread as bytes on
a socket pair (the self-pipe trick, no locks in signal handlers): SIGHUP queues a reload on
the worker, behind any cycle in progress; SIGTERM and SIGINT make `should_stop` true, so the
cycle in progress ends after its current write, and the daemon exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from slabridge.adapters.state.postgres import LeaderLock
from slabridge.app.hours import HoursService, monthly_summary
from slabridge.app.report import SyncReport
from slabridge.bootstrap import (
    build_hours_service,
    build_leader_lock,
    build_syncer,
    settle_long_lived_objects,
)
from slabridge.config.loader import Config, load_config
from slabridge.config.models import DaemonSettings
from slabridge.daemon.health import HealthServer, Monitor
from slabridge.errors import (
    ConfigError,
    SlabridgeError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
)
from slabridge.web.server import daemon_pages

log = structlog.get_logger("slabridge.daemon")

POLL_JOB = "poll"
MONTHLY_JOB = "monthly"
MONTHLY_HOUR = 7
"""Local hour at which the daemon checks whether today is the month's first working day."""
LEADER_JOB = "leader"
LEADER_RETRY_SECONDS = 2
"""How often a standby tries the active replica's lock: the takeover delay after a crash."""
RECONCILE_JOB = "reconcile"
RECONCILE_GRACE_SECONDS = 3600
"""A reconciliation may start up to an hour late (behind a long cycle, after a suspend)."""
RECONCILE_MIN_GAP_SECONDS = 2 * 3600
"""The night clocks go back, 02:30 happens twice: the second run is skipped."""
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
HANDLED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)



class _RequestCounter(Protocol):
    requests_made: int


class CycleRunner(Protocol):
    """What the daemon needs of a Syncer (tests give it fakes)."""

    @property
    def tracker(self) -> _RequestCounter:
        """Counts the HTTP requests sent."""
        ...

    @property
    def store(self) -> object:
        """The state store; closed on a reload if it has close()."""
        ...

    def cycle(
        self, now: datetime, *, dry_run: bool = ..., full: bool = ...,
        should_stop: Callable[[], bool] = ...,
    ) -> SyncReport:
        """One sync cycle."""
        ...


SyncerFactory = Callable[[Config], CycleRunner]
HoursFactory = Callable[[Config], HoursService]
ConfigLoader = Callable[[Path | None], Config]


def reconcile_time(config: Config, settings: DaemonSettings) -> tuple[int, int, ZoneInfo]:
    """Hour, minute and zone of the nightly reconciliation (the settings checked the time)."""
    hour, minute = (int(part) for part in settings.reconcile_at.split(":"))
    zone = ZoneInfo(config.tier(config.settings.default_tier).calendar.timezone)
    return hour, minute, zone


def _leader_lock(config: Config) -> LeaderLock | None:
    tracker = config.settings.tracker
    return build_leader_lock(config, tracker.url if tracker else "slabridge")


def _close(syncer: CycleRunner) -> None:
    close = getattr(syncer.store, "close", None)  # the StateStore port has no close()
    if callable(close):
        close()


def _error_kind(error: BaseException) -> str:
    if isinstance(error, TrackerAuthError):
        return "auth"
    if isinstance(error, TrackerUnavailableError):
        return "unavailable"
    if isinstance(error, TrackerError):
        return "tracker"
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, SlabridgeError):
        return "failure"
    return "bug"


def _log_failure(event: str, error: Exception, **fields: Any) -> None:
    """One log line for a failure; a traceback only where it is a bug."""
    kind = _error_kind(error)
    if kind == "unavailable":
        log.warning(event, kind=kind, error=str(error), **fields)
    elif kind == "bug":
        log.error(event, kind=kind, error=repr(error),
                  traceback="".join(traceback.format_exception(error)), **fields)
    else:
        log.error(event, kind=kind, error=str(error), **fields)


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """Python-level handler; the work happens on the wakeup socket (see Daemon._serve)."""


class _SchedulerLogs(logging.Handler):
    """APScheduler's own warnings (a run missed or skipped) as structlog events on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(record.levelno, "scheduler",
                                              message=record.getMessage())


class Daemon:
    """Poll cycles and the nightly reconciliation until SIGTERM/SIGINT; SIGHUP reloads."""

    def __init__(
        self, config_path: Path | None, config: Config, *,
        overrides: Mapping[str, Any] | None = None,
        build: SyncerFactory = build_syncer, load: ConfigLoader = load_config,
        hours: HoursFactory = build_hours_service,
        leader: LeaderLock | None = None,
        settle: Callable[[], None] = settle_long_lived_objects,
    ) -> None:
        self._path = config_path
        self._settle = settle  # gc.freeze of what the build made (tests: nothing)
        self._overrides = dict(overrides or {})  # command-line values win over every reload
        self._build = build
        self._hours = hours
        self._load = load
        self._config = config
        self.settings = self._settings(config)
        self._reconcile_at = reconcile_time(config, self.settings)
        self.monitor = Monitor(
            self.settings.interval_seconds, self.settings.unhealthy_after_cycles,
            channel_unhealthy_after_seconds=self.settings.channel_unhealthy_after_seconds)
        self.health_address: tuple[str, int] | None = None
        self._syncer: CycleRunner | None = None  # built lazily on the worker thread
        self._stop = threading.Event()
        self._after_reload = False
        self._last_reconcile: float | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_write.setblocking(False)  # signal.set_wakeup_fd requires it
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        # PostgreSQL state: replicas elect one active daemon by advisory lock (see leader job).
        self._leader = leader if leader is not None else _leader_lock(config)
        self._active = self._leader is None

    def _settings(self, config: Config) -> DaemonSettings:
        return config.settings.daemon.model_copy(update=self._overrides)

    # --- control ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until told to stop, then return 0; a bad start raises SlabridgeError."""
        # Build once here so a bad tracker section or an unusable state file stops the start
        # with a clear message; the cycles build their own syncer on the worker thread.
        _close(self._build(self._config))
        server = self._start_health()
        restore_signals = self._install_signals()
        scheduler_log = logging.getLogger("apscheduler")
        forward = _SchedulerLogs(logging.WARNING)
        scheduler_log.addHandler(forward)
        propagate, scheduler_log.propagate = scheduler_log.propagate, False
        try:
            self._schedule_poll(first_run=datetime.now(UTC))
            self._schedule_reconcile()
            zone = self._reconcile_at[2]
            self._scheduler.add_job(
                self._monthly_job, CronTrigger(hour=MONTHLY_HOUR, minute=0, timezone=zone),
                id=MONTHLY_JOB, name=MONTHLY_JOB, replace_existing=True,
                misfire_grace_time=RECONCILE_GRACE_SECONDS,
            )
            if self._leader is not None:
                self._scheduler.add_job(
                    self._leader_job, IntervalTrigger(seconds=LEADER_RETRY_SECONDS, timezone=UTC),
                    id=LEADER_JOB, name=LEADER_JOB, replace_existing=True,
                    next_run_time=datetime.now(UTC),
                )
            self._scheduler.start()
            log.info("daemon_started", config=str(self._path) if self._path else None,
                     interval_seconds=self.settings.interval_seconds,
                     reconcile_at=self.settings.reconcile_at,
                     timezone=str(self._reconcile_at[2]),
                     next_reconcile=self.next_runs()[RECONCILE_JOB].isoformat())
            self._serve()
        finally:
            restore_signals()  # from here a second SIGTERM or Ctrl-C ends the process at once
            self._stop.set()
            if self._scheduler.running:
                # Waits for the cycle in progress, which ends after its current write.
                self._scheduler.shutdown(wait=True)
            if server is not None:
                server.stop()
            if self._leader is not None:
                self._leader.release()  # a standby takes over at once, not after a timeout
            scheduler_log.removeHandler(forward)
            scheduler_log.propagate = propagate
            self._wake_read.close()
            self._wake_write.close()
        _, health = self.monitor.health()
        log.info("daemon_stopped", cycles=health["cycles"], failed_cycles=health["failed_cycles"])
        return 0

    def request_stop(self) -> None:
        """Like SIGTERM: finish the current write, then stop (callable from any thread)."""
        self._wake_write.send(bytes([signal.SIGTERM]))

    def request_reload(self) -> None:
        """Like SIGHUP: reload the configuration after the cycle in progress."""
        self._wake_write.send(bytes([signal.SIGHUP]))

    def run_now(self, job_id: str) -> None:
        """Run a job (POLL_JOB or RECONCILE_JOB) as soon as the worker is free."""
        self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def next_runs(self) -> dict[str, datetime]:
        """When each scheduled job runs next."""
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    def _serve(self) -> None:
        """Act on signals and requests, one byte (a signal number) each, until a stop."""
        while True:
            data = self._wake_read.recv(64)
            if not data:
                return
            for number in data:
                if number in STOP_SIGNALS:
                    log.info("daemon_stopping", signal=signal.Signals(number).name)
                    self._stop.set()  # the cycle in progress sees it between two issues
                    return
                if number == signal.SIGHUP:
                    log.info("config_reload_requested", config=str(self._path))
                    # No grace limit: a reload queued behind a long cycle must still happen.
                    self._scheduler.add_job(self._reload_job, name="reload",
                                            misfire_grace_time=None)

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # embedded (tests): request_stop and request_reload instead
        previous_fd = signal.set_wakeup_fd(self._wake_write.fileno(), warn_on_full_buffer=False)
        previous = {number: signal.signal(number, _ignore_signal) for number in HANDLED_SIGNALS}

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)
            signal.set_wakeup_fd(previous_fd)

        return restore

    def _start_health(self) -> HealthServer | None:
        if self.settings.health_port is None:
            return None
        host = self.settings.health_host
        pages = daemon_pages(lambda: self._config, host)  # the board beside /healthz
        try:
            server = HealthServer(self.monitor, host, self.settings.health_port, pages)
        except OSError as error:
            raise SlabridgeError(
                f"cannot serve /healthz on {host}:{self.settings.health_port}: {error.strerror}"
            ) from None
        server.start()
        self.health_address = server.address
        log.info("health_listening", host=server.address[0], port=server.address[1],
                 url=f"http://{server.address[0]}:{server.address[1]}/healthz")
        return server

    # --- jobs ------------------------------------------------------------------------------

    def _schedule_poll(self, first_run: datetime | None = None) -> None:
        interval = self.settings.interval_seconds
        when = {} if first_run is None else {"next_run_time": first_run}
        self._scheduler.add_job(
            self._poll_job, IntervalTrigger(seconds=interval, timezone=UTC), id=POLL_JOB,
            name=POLL_JOB, replace_existing=True, misfire_grace_time=interval, **when,
        )

    def _schedule_reconcile(self) -> None:
        hour, minute, zone = self._reconcile_at
        self._scheduler.add_job(
            self._reconcile_job, CronTrigger(hour=hour, minute=minute, timezone=zone),
            id=RECONCILE_JOB, name=RECONCILE_JOB, replace_existing=True,
            misfire_grace_time=RECONCILE_GRACE_SECONDS,
        )

    def _poll_job(self) -> None:
        self._cycle(full=False)

    def _reconcile_job(self) -> None:
        now = time.monotonic()
        if (self._last_reconcile is not None
                and now - self._last_reconcile < RECONCILE_MIN_GAP_SECONDS):
            log.info("reconcile_skipped", reason="a reconciliation ran less than 2 hours ago")
            return
        self._last_reconcile = now
        self._cycle(full=True)

    def _monthly_job(self) -> None:
        """The monthly hour summary, on the first working day of the month (once)."""
        if self._stop.is_set() or self._syncer is None or not self._active:
            return
        now = datetime.now(UTC)
        zone = self._reconcile_at[2]
        try:
            service = self._hours(self._config)
            try:
                posted = monthly_summary(service, now.astimezone(zone).date(), now)
            finally:
                service.store.close()
        except Exception as error:
            _log_failure("monthly_summary_failed", error)
            return
        if posted is not None:
            log.info("monthly_summary_posted", places=posted)

    def _leader_job(self) -> None:
        """Standby: take over as soon as the active replica's lock is free."""
        if self._stop.is_set() or self._leader is None:
            return
        if self._leader.try_acquire():
            self.monitor.set_standby(False)
            if not self._active:
                self._active = True
                log.info("became_active")
                self._cycle(full=False)
        else:
            self.monitor.set_standby(True)
            if self._active:
                self._active = False
                log.warning("lost_active_lock", note="another replica is active now")

    def _cycle(self, *, full: bool) -> None:
        if self._stop.is_set():
            return  # queued behind the cycle that was told to stop
        if self._leader is not None and not self._leader.try_acquire():
            self.monitor.set_standby(True)
            if self._active:
                self._active = False
                log.warning("lost_active_lock", note="another replica is active now")
            return  # a standby runs no cycles
        job = RECONCILE_JOB if full else POLL_JOB
        started = time.monotonic()
        self.monitor.cycle_started()
        with structlog.contextvars.bound_contextvars(job=job):
            try:
                if self._syncer is None:
                    self._syncer = self._build(self._config)
                    self._settle()
            except Exception as error:
                self._cycle_failed(error, started, 0)
                return
            syncer = self._syncer
            before = syncer.tracker.requests_made
            try:
                report = syncer.cycle(datetime.now(UTC), full=full,
                                      should_stop=self._stop.is_set)
            except Exception as error:
                # Whatever went wrong, the daemon goes on: the next cycle retries.
                self._cycle_failed(error, started, syncer.tracker.requests_made - before)
                return
        self._after_reload = False
        self.monitor.cycle_succeeded(report, time.monotonic() - started, report.requests)

    def _cycle_failed(self, error: Exception, started: float, requests: int) -> None:
        self.monitor.cycle_failed(f"{type(error).__name__}: {error}",
                                  time.monotonic() - started, requests)
        _log_failure("cycle_failed", error)
        if self._after_reload:
            # The file read well, but what it points at does not answer: say it of the
            # reload, not only as one more failed cycle.
            self._after_reload = False
            self.monitor.reload_warning(f"reloaded, but the first cycle failed: "
                                        f"{type(error).__name__}: {error}")
            log.warning("config_reloaded_tracker_unreachable", config=str(self._path),
                        error=f"{type(error).__name__}: {error}")

    def _reload_job(self) -> None:
        if self._stop.is_set():
            return
        try:
            config = self._load(self._path)
            settings = self._settings(config)
            reconcile_at = reconcile_time(config, settings)
            syncer = self._build(config)
        except Exception as error:
            # The running configuration stays: a typo in the file must not stop the SLA clock.
            self.monitor.reloaded(ok=False, error=f"{type(error).__name__}: {error}")
            _log_failure("config_reload_failed", error, config=str(self._path),
                         kept="the previous configuration")
            return
        if self._syncer is not None:
            _close(self._syncer)  # same path, same file: the watermark and records carry over
        self._syncer = syncer
        previous, previous_reconcile = self.settings, self._reconcile_at
        self._config, self.settings, self._reconcile_at = config, settings, reconcile_at
        self._settle()  # the old configuration is unreachable by now: freed, not frozen
        if settings.interval_seconds != previous.interval_seconds:
            self._schedule_poll()
        if reconcile_at != previous_reconcile:
            self._schedule_reconcile()
        if (settings.health_host, settings.health_port) != (
                previous.health_host, previous.health_port):
            log.warning("health_address_unchanged",
                        reason="the health server keeps its address until a restart")
        self.monitor.configure(settings.interval_seconds, settings.unhealthy_after_cycles,
                               settings.channel_unhealthy_after_seconds)
        self.monitor.reloaded(ok=True)
        # At once, not at the next interval: changed terms re-evaluate every open issue
        # (a shorter target must not miss its at-risk step), and a tracker the new file
        # points at that cannot be reached is said now.
        self._after_reload = True
        self.run_now(POLL_JOB)
        log.info("config_reloaded", config=str(self._path),
                 interval_seconds=settings.interval_seconds, reconcile_at=settings.reconcile_at,
                 timezone=str(reconcile_at[2]), language=config.settings.notes.language)
