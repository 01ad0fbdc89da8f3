"""The daemon's health verdict and metrics, and the HTTP server for them (no Redmine)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from slabridge.app.report import SyncReport
from slabridge.daemon.health import HealthServer, Monitor


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def report(**values: object) -> SyncReport:
    result = SyncReport(mode="incremental", dry_run=False)
    for name, value in values.items():
        setattr(result, name, value)
    return result


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monitor(clock: Clock) -> Monitor:
    return Monitor(60, 3, clock=clock, wall_clock=lambda: 1_700_000_000.0)


def test_starting_until_the_first_cycle(monitor: Monitor, clock: Clock) -> None:
    """Before any cycle has finished, /healthz is 503 "starting" and shows the running cycle."""
    code, body = monitor.health()
    assert (code, body["status"], body["cycles"], body["last_success_age_seconds"]) == (
        503, "starting", 0, None)
    assert body["cycle_running_seconds"] is None
    monitor.cycle_started()
    clock.now += 2.5
    code, body = monitor.health()
    assert (code, body["status"], body["cycle_running_seconds"]) == (503, "starting", 2.5)
    monitor.cycle_succeeded(report(), 2.5, 1)
    assert monitor.health()[1]["cycle_running_seconds"] is None


def test_ok_while_the_last_success_is_recent(monitor: Monitor, clock: Clock) -> None:
    """200 "ok" until the last success is older than unhealthy_after_cycles x interval."""
    monitor.cycle_succeeded(report(), 0.5, 3)
    clock.now += 180
    code, body = monitor.health()
    assert (code, body["status"], body["last_success_age_seconds"], body["cycles"]) == (
        200, "ok", 180.0, 1)
    clock.now += 0.5
    code, body = monitor.health()
    assert (code, body["status"], body["unhealthy_after_seconds"]) == (503, "unhealthy", 180)
    assert body["reasons"] == ["no successful cycle for 180 s (limit 180 s)"]


def test_failures_alone_are_unhealthy(monitor: Monitor, clock: Clock) -> None:
    """Only failed cycles: 503 "unhealthy" with the last error, and the reason says since
    when (it said "for 180 s" six seconds after the start)."""
    clock.now += 6
    monitor.cycle_failed("TrackerUnavailableError: connection refused", 0.1, 1)
    monitor.cycle_failed("TrackerAuthError: rejected", 0.1, 1)
    code, body = monitor.health()
    assert code == 503
    assert body["status"] == "unhealthy"
    assert (body["cycles"], body["failed_cycles"], body["consecutive_failures"]) == (2, 2, 2)
    assert body["last_error"] == "TrackerAuthError: rejected"
    assert body["reasons"] == ["no successful cycle since the start (6 s ago)"]


def test_one_failure_after_a_recent_success_is_still_ok(monitor: Monitor, clock: Clock) -> None:
    """A single blip within the allowance does not fail the probe; a success resets the run."""
    monitor.cycle_succeeded(report(), 0.5, 3)
    clock.now += 60
    monitor.cycle_failed("TrackerUnavailableError: HTTP 503", 0.2, 1)
    code, body = monitor.health()
    assert (code, body["consecutive_failures"]) == (200, 1)
    monitor.cycle_succeeded(report(), 0.5, 3)
    assert monitor.health()[1]["consecutive_failures"] == 0


def test_reconfigure_changes_the_allowance(monitor: Monitor, clock: Clock) -> None:
    """A reload with a shorter interval tightens the threshold at once."""
    monitor.cycle_succeeded(report(), 0.5, 3)
    clock.now += 100
    assert monitor.health()[0] == 200
    monitor.configure(10, 3)
    assert monitor.health()[0] == 503


def test_metrics_from_reports(monitor: Monitor) -> None:
    """Counters add up over cycles; breaches count breach notes written; the issue gauge
    shows every open issue after each cycle; notifications are counted per channel."""
    monitor.cycle_succeeded(report(writes=3, notes=3, errors=1, breaches=2,
                                   channels={"mail": [1, 2], "chat": [1, 0]},
                                   statuses={"running": 1},
                                   open_statuses={"running": 4, "breached": 2}), 1.5, 12)
    monitor.cycle_failed("TrackerUnavailableError: down", 0.25, 2)
    monitor.cycle_succeeded(report(writes=1, statuses={"at_risk": 1},
                                   channels={"mail": [1, 0]},
                                   open_statuses={"running": 3, "at_risk": 1, "breached": 2}),
                            0.5, 2)

    def value(name: str, **labels: str) -> float | None:
        return monitor.registry.get_sample_value(name, labels)

    assert value("slabridge_cycles_total") == 3
    assert value("slabridge_cycle_errors_total") == 1
    assert value("slabridge_writes_total") == 4
    assert value("slabridge_notes_total") == 3
    assert value("slabridge_issue_errors_total") == 1
    assert value("slabridge_breaches_total") == 2
    assert value("slabridge_tracker_requests_total") == 16
    assert value("slabridge_issues", status="running") == 3
    assert value("slabridge_issues", status="breached") == 2
    assert value("slabridge_issues", status="at_risk") == 1
    assert value("slabridge_notifications_sent_total", channel="mail") == 2
    assert value("slabridge_notifications_failed_total", channel="mail") == 2
    assert value("slabridge_notifications_sent_total", channel="chat") == 1
    assert value("slabridge_last_success_timestamp_seconds") == 1_700_000_000.0
    assert value("slabridge_cycle_duration_seconds_count") == 3
    assert value("slabridge_cycle_duration_seconds_sum") == 2.25
    monitor.reloaded(ok=False)
    assert value("slabridge_config_reloads_total", outcome="error") == 1
    assert value("slabridge_config_reloads_total", outcome="ok") == 0


def test_own_registry_not_the_global_one(monitor: Monitor) -> None:
    """Two monitors do not collide, and nothing lands in prometheus_client's global registry."""
    Monitor(60, 3).cycle_failed("x", 0.1, 0)
    monitor.cycle_succeeded(report(), 0.1, 0)
    assert REGISTRY.get_sample_value("slabridge_cycles_total") is None
    assert monitor.registry.get_sample_value("slabridge_cycle_errors_total") == 0


@pytest.fixture
def served(monitor: Monitor) -> Iterator[str]:
    server = HealthServer(monitor, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_http_healthz(served: str, monitor: Monitor) -> None:
    """/healthz answers 503 then 200 with the JSON verdict."""
    code, content_type, body = get(f"{served}/healthz")
    assert (code, content_type, json.loads(body)["status"]) == (
        503, "application/json", "starting")
    monitor.cycle_succeeded(report(), 0.1, 1)
    code, _, body = get(f"{served}/healthz?verbose=1")
    assert (code, json.loads(body)["status"], json.loads(body)["cycles"]) == (200, "ok", 1)


def test_http_metrics(served: str, monitor: Monitor) -> None:
    """/metrics is Prometheus text with the counters and the per-status gauge."""
    monitor.cycle_succeeded(report(writes=2, statuses={"running": 2},
                                   open_statuses={"running": 2}), 0.1, 5)
    code, content_type, body = get(f"{served}/metrics")
    assert code == 200
    assert content_type.startswith("text/plain; version=")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert samples[("slabridge_cycles_total", ())] == 1
    assert samples[("slabridge_writes_total", ())] == 2
    assert samples[("slabridge_tracker_requests_total", ())] == 5
    assert samples[("slabridge_issues", (("status", "running"),))] == 2
    assert samples[("slabridge_issues", (("status", "no_target"),))] == 0


def test_http_unknown_path(served: str) -> None:
    """Anything else is a 404 naming the two paths."""
    code, _, body = get(f"{served}/")
    assert code == 404
    assert b"/healthz" in body


def test_loopback_and_a_free_port(monitor: Monitor) -> None:
    """Port 0 binds a free port on the loopback address asked for."""
    server = HealthServer(monitor, "127.0.0.1", 0)
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        assert port > 0
    finally:
        server.stop()


def test_standby_replica_is_healthy() -> None:
    """A standby (another replica holds the lock) answers 200 "standby", not 503."""
    from slabridge.daemon.health import Monitor

    monitor = Monitor(60, 3)
    monitor.set_standby(True)
    code, body = monitor.health()
    assert (code, body["status"]) == (200, "standby")
    monitor.set_standby(False)
    assert monitor.health()[1]["status"] == "starting"


def test_a_channel_failing_too_long_makes_health_fail(clock: Clock) -> None:
    """A channel failing for longer than allowed: 503 with the channel, its error and how
    long; it was 200 "ok" while only the issue-error counter rose."""
    wall = [1_700_000_000.0]
    monitor = Monitor(60, 3, channel_unhealthy_after_seconds=600, clock=clock,
                      wall_clock=lambda: wall[0])
    failing = {"mail": (wall[0], "NotificationError: SMTP 127.0.0.1:2525 refused")}
    monitor.cycle_succeeded(report(channels_failing=failing), 0.5, 1)
    assert monitor.health()[0] == 200
    wall[0] += 601
    clock.now += 30
    monitor.cycle_succeeded(report(channels_failing=failing), 0.5, 1)
    code, body = monitor.health()
    assert (code, body["status"]) == (503, "unhealthy")
    assert body["reasons"] == [
        "channel mail has failed for 601 s: NotificationError: SMTP 127.0.0.1:2525 refused"]
    monitor.cycle_succeeded(report(), 0.5, 1)  # the channel works again
    assert monitor.health()[0] == 200


def test_tracker_writes_failing_cycle_after_cycle_make_health_fail(
    monitor: Monitor,
) -> None:
    """Cycles that run but whose every write fails: 503 after unhealthy_after_cycles."""
    for _ in range(2):
        monitor.cycle_succeeded(report(write_errors=2), 0.5, 1)
    assert monitor.health()[0] == 200
    monitor.cycle_succeeded(report(write_errors=1), 0.5, 1)
    code, body = monitor.health()
    assert (code, body["reasons"]) == (
        503, ["tracker writes failed in the last 3 cycles and none succeeded"])
    monitor.cycle_succeeded(report(write_errors=1, writes=1), 0.5, 1)
    assert monitor.health()[0] == 200


def test_a_failed_reload_shows_in_health_until_one_succeeds(monitor: Monitor) -> None:
    """A broken config on SIGHUP is in /healthz (it was only in /metrics)."""
    monitor.cycle_succeeded(report(), 0.5, 1)
    monitor.reloaded(ok=False, error="ConfigError: slabridge.yaml:3: at tracker: bad")
    body = monitor.health()[1]
    assert body["config_reload_error"] == "ConfigError: slabridge.yaml:3: at tracker: bad"
    monitor.reloaded(ok=True)
    assert monitor.health()[1]["config_reload_error"] is None


def test_last_error_hides_a_password_in_the_tracker_url(monitor: Monitor) -> None:
    """/healthz shows the last error as the logs do: a password in a URL is masked."""
    monitor.cycle_failed("TrackerUnavailableError: http://bob:s3cret@redmine.example/issues "
                         "unreachable", 0.1, 1)
    body = json.dumps(monitor.health()[1])
    assert "s3cret" not in body
    assert "http://bob:***@redmine.example/issues" in body
