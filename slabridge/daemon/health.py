"""Health and metrics of the daemon: cycle outcomes, /healthz and Prometheus /metrics over HTTP.

`Monitor` turns cycle outcomes into the health verdict and the metrics (its own
CollectorRegistry, so nothing global leaks in); `HealthServer` serves both from a background
thread. The daemon (slabridge/daemon/scheduler.py) feeds the monitor after every cycle.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from slabridge.app.report import SyncReport
from slabridge.domain.model import SlaStatus
from slabridge.logs import scrub_text

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class Monitor:
    """Cycle outcomes as a health verdict and as Prometheus metrics; safe across threads."""

    def __init__(
        self, interval_seconds: float, unhealthy_after_cycles: int, *,
        channel_unhealthy_after_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall_clock = wall_clock
        self._started = clock()
        self._interval = interval_seconds
        self._unhealthy_after = unhealthy_after_cycles
        self._last_success: float | None = None
        self._running_since: float | None = None
        self._cycles = 0
        self._failures = 0
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._standby = False
        self._channel_limit = channel_unhealthy_after_seconds
        self._channels_failing: dict[str, tuple[float, str]] = {}
        self._write_failure_streak = 0
        self._reload_error: str | None = None

        self.registry = CollectorRegistry()
        registry = self.registry
        self.cycles = Counter("slabridge_cycles", "Sync cycles run, failed ones included",
                              registry=registry)
        self.cycle_errors = Counter(
            "slabridge_cycle_errors", "Sync cycles that failed as a whole (tracker unreachable, "
            "credentials rejected, configuration, bugs)", registry=registry)
        self.issue_errors = Counter(
            "slabridge_issue_errors", "Single issues that could not be read or written "
            "(403, 404, 422); the cycle went on", registry=registry)
        self.writes = Counter("slabridge_writes", "Issue updates written (one request each)",
                              registry=registry)
        self.notes = Counter("slabridge_notes", "Notes planned with the updates written",
                             registry=registry)
        self.breaches = Counter(
            "slabridge_breaches", "Issues newly entering breached whose breach note was "
            "written (once per issue, customer and class)", registry=registry)
        self.notifications_sent = Counter(
            "slabridge_notifications_sent", "Notifications delivered, by channel",
            ["channel"], registry=registry)
        self.notifications_failed = Counter(
            "slabridge_notifications_failed", "Notification attempts that failed (each is "
            "tried again later), by channel", ["channel"], registry=registry)
        self.tracker_requests = Counter(
            "slabridge_tracker_requests", "HTTP requests sent to the tracker, failed cycles "
            "included", registry=registry)
        self.issues = Gauge(
            "slabridge_issues", "Classified issues evaluated by the last successful cycle, by "
            "SLA status (an incremental cycle evaluates only changed issues)", ["status"],
            registry=registry)
        self.last_success_timestamp = Gauge(
            "slabridge_last_success_timestamp_seconds",
            "Unix time at which the last successful cycle ended", registry=registry)
        self.cycle_duration = Histogram(
            "slabridge_cycle_duration_seconds", "Wall time of sync cycles, failed ones included",
            buckets=DURATION_BUCKETS, registry=registry)
        self.config_reloads = Counter(
            "slabridge_config_reloads", "Configuration reloads on SIGHUP, by outcome (on error "
            "the previous configuration keeps running)", ["outcome"], registry=registry)
        for status in SlaStatus:
            self.issues.labels(status.value).set(0)
        for outcome in ("ok", "error"):
            self.config_reloads.labels(outcome)

    def configure(self, interval_seconds: float, unhealthy_after_cycles: int,
                  channel_unhealthy_after_seconds: float | None = None) -> None:
        """Apply a reloaded configuration's interval and thresholds."""
        with self._lock:
            self._interval = interval_seconds
            self._unhealthy_after = unhealthy_after_cycles
            if channel_unhealthy_after_seconds is not None:
                self._channel_limit = channel_unhealthy_after_seconds

    def cycle_started(self) -> None:
        """Note that a cycle is under way (shown by /healthz, so a long one explains a 503)."""
        with self._lock:
            self._running_since = self._clock()

    def cycle_succeeded(self, report: SyncReport, seconds: float, requests: int) -> None:
        """Record a cycle that ran to its end (single-issue errors included)."""
        with self._lock:
            self._running_since = None
            self._cycles += 1
            self._consecutive_failures = 0
            self._last_success = self._clock()
        self.cycles.inc()
        self.cycle_duration.observe(seconds)
        self.tracker_requests.inc(requests)
        self.writes.inc(report.writes)
        self.notes.inc(report.notes)
        self.issue_errors.inc(report.errors)
        self.breaches.inc(report.breaches)
        for channel, (sent, failed) in report.channels.items():
            self.notifications_sent.labels(channel).inc(sent)
            self.notifications_failed.labels(channel).inc(failed)
        with self._lock:
            self._channels_failing = dict(report.channels_failing)
            self._write_failure_streak = (self._write_failure_streak + 1
                                          if report.write_errors and not report.writes else 0)
        counts = report.open_statuses
        for status in SlaStatus:
            self.issues.labels(status.value).set(counts.get(status.value, 0))
        self.last_success_timestamp.set(self._wall_clock())

    def cycle_failed(self, error: str, seconds: float, requests: int) -> None:
        """Record a cycle that stopped with an exception."""
        with self._lock:
            self._running_since = None
            self._cycles += 1
            self._failures += 1
            self._consecutive_failures += 1
            self._last_error = scrub_text(error)
        self.cycles.inc()
        self.cycle_errors.inc()
        self.cycle_duration.observe(seconds)
        self.tracker_requests.inc(requests)

    def set_standby(self, standby: bool) -> None:
        """A standby replica (another holds the lock) is healthy while it waits."""
        with self._lock:
            self._standby = standby

    def reloaded(self, ok: bool, error: str | None = None) -> None:
        """Count a configuration reload; a failed one shows in /healthz until one succeeds."""
        self.config_reloads.labels("ok" if ok else "error").inc()
        with self._lock:
            self._reload_error = None if ok else scrub_text(error or "reload failed")

    def reload_warning(self, text: str) -> None:
        """A reload that took, but whose first cycle failed: shown until the next reload."""
        with self._lock:
            self._reload_error = scrub_text(text)

    def health(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body for /healthz."""
        with self._lock:
            limit = self._interval * self._unhealthy_after
            now = self._clock()
            age = None if self._last_success is None else now - self._last_success
            running = None if self._running_since is None else now - self._running_since
            wall = self._wall_clock()
            failing = {name: (wall - since, error)
                       for name, (since, error) in sorted(self._channels_failing.items())}
            channels = {name: {"failing_seconds": round(seconds, 1), "error": error}
                        for name, (seconds, error) in failing.items()}
            reasons = [f"channel {name} has failed for {seconds:.0f} s: {error}"
                       for name, (seconds, error) in failing.items()
                       if seconds > self._channel_limit]
            if self._write_failure_streak >= self._unhealthy_after:
                reasons.append(f"tracker writes failed in the last {self._write_failure_streak}"
                               " cycles and none succeeded")
            if self._standby:
                status, code = "standby", HTTPStatus.OK
            elif age is not None and age <= limit and not reasons:
                status, code = "ok", HTTPStatus.OK
            elif self._cycles == 0:
                status, code = "starting", HTTPStatus.SERVICE_UNAVAILABLE
            else:
                status, code = "unhealthy", HTTPStatus.SERVICE_UNAVAILABLE
                if age is None:
                    reasons.insert(0, "no successful cycle since the start "
                                      f"({now - self._started:.0f} s ago)")
                elif age > limit:
                    reasons.insert(0, f"no successful cycle for {age:.0f} s (limit "
                                      f"{limit:.0f} s)")
            return code, {
                "reasons": reasons,
                "channels_failing": channels,
                "config_reload_error": self._reload_error,
                "status": status,
                "last_success_age_seconds": None if age is None else round(age, 3),
                "cycles": self._cycles,
                "failed_cycles": self._failures,
                "consecutive_failures": self._consecutive_failures,
                "last_error": self._last_error,
                "cycle_running_seconds": None if running is None else round(running, 3),
                "unhealthy_after_seconds": limit,
            }

    def metrics(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type, body and any further headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class Pages(Protocol):
    """More pages on the same listener (slabridge/web): everything but /healthz."""

    def answer(self, path: str, query: str, authorization: str | None) -> Reply:
        """The reply to a GET of `path` (401 without credentials, 404 if unknown)."""
        ...

    def metrics_denied(self, authorization: str | None) -> Reply | None:
        """A 401 if /metrics needs credentials the Authorization header lacks, else None."""
        ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow scraper must not hold up the daemon's exit

    def __init__(self, address: tuple[str, int], monitor: Monitor | None,
                 pages: Pages | None) -> None:
        super().__init__(address, _Handler)
        self.monitor = monitor
        self.pages = pages


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        monitor, pages = self.server.monitor, self.server.pages
        if path == "/healthz":  # never behind credentials: probes call it
            code, body = monitor.health() if monitor else (HTTPStatus.OK, {"status": "ok"})
            self._send(Reply(code, "application/json", json.dumps(body).encode()))
        elif path == "/metrics" and monitor is not None:
            denied = pages.metrics_denied(self.headers.get("Authorization")) if pages else None
            self._send(denied or Reply(HTTPStatus.OK, CONTENT_TYPE_LATEST, monitor.metrics()))
        elif pages is not None:
            self._send(pages.answer(path, query, self.headers.get("Authorization")))
        else:
            self._send(Reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8",
                             b"not found: try /healthz or /metrics\n"))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a scrape every few seconds would drown the daemon's own log."""


class HealthServer:
    """/healthz and /metrics on host:port (port 0: a free one) in a background thread, and
    the web pages if given; without a monitor (`slabridge web`), /healthz says ok."""

    def __init__(self, monitor: Monitor | None, host: str = "127.0.0.1", port: int = 0,
                 pages: Pages | None = None) -> None:
        self._server = _Server((host, port), monitor, pages)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slabridge-health", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
