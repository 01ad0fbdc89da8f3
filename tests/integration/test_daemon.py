"""`slabridge run` as a real process against the real Redmine: latency, health, signals, failures.

Each test starts the daemon with `python -m slabridge --config <workspace> run --interval 5
--health-port 0`, reads its JSON log lines from stderr (the health port comes from the
`health_listening` line) and kills it by its PID in a finally block whatever happens.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin
from tests.integration.running import INTERVAL, daemon

pytestmark = pytest.mark.redmine

SLACK = 3.0
"""Seconds beyond one interval a new issue may wait for its fields (cycle and request time)."""


def wait_for_field(admin: RedmineAdmin, issue: int, name: str, timeout: float) -> float:
    """Seconds until the issue's custom field is set (fails after timeout)."""
    started = time.monotonic()
    while not admin.field(issue, name):
        if time.monotonic() - started > timeout:
            pytest.fail(f"issue #{issue}: {name!r} not set within {timeout}s")
        time.sleep(0.25)
    return time.monotonic() - started


def wait_for_notes(admin: RedmineAdmin, issue: int, timeout: float) -> list[str]:
    """The issue's notes, once there is at least one."""
    deadline = time.monotonic() + timeout
    while not (notes := admin.notes(issue)):
        if time.monotonic() > deadline:
            pytest.fail(f"issue #{issue}: no note within {timeout}s")
        time.sleep(0.25)
    return notes


def test_new_critical_issue_gets_its_due_time_within_an_interval(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """An issue created while the daemon runs gets `SLA response due` within interval + 3 s."""
    with daemon(workspace) as running:
        running.wait_for("cycle_done")
        issue = admin.make_issue(workspace.projects["acme"], "Shop down", priority="Urgent")
        seconds = wait_for_field(admin, issue, "SLA response due", INTERVAL + SLACK + 5)
        assert seconds <= INTERVAL + SLACK
        assert admin.field(issue, "SLA class") == "critical"
        assert running.process.poll() is None


def test_healthz_and_metrics_after_the_first_cycle(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """/healthz is ok after the first cycle; /metrics counts cycles, writes and issues."""
    admin.make_issue(workspace.projects["acme"], "Checkout broken", priority="Urgent")
    admin.make_issue(workspace.projects["globex"], "Login slow", priority="High")
    with daemon(workspace) as running:
        running.wait_for("cycle_done")
        metrics = running.metrics()
        code, body = running.get("/healthz")
        health = json.loads(body)
        assert (code, health["status"]) == (200, "ok")
        assert health["cycles"] >= 1
        assert 0 <= health["last_success_age_seconds"] < INTERVAL * 3
        assert metrics[("slabridge_cycles_total", ())] >= 1
        assert metrics[("slabridge_cycle_errors_total", ())] == 0
        assert metrics[("slabridge_writes_total", ())] == 2
        assert metrics[("slabridge_notes_total", ())] == 2
        assert metrics[("slabridge_tracker_requests_total", ())] > 0
        assert metrics[("slabridge_cycle_duration_seconds_count", ())] >= 1
        statuses = {labels[0][1]: value for (name, labels), value in metrics.items()
                    if name == "slabridge_issues"}
        assert set(statuses) == {"running", "at_risk", "met", "breached", "paused",
                                 "no_target"}
        if metrics[("slabridge_cycles_total", ())] == 1:  # (the next cycle is 5 s away)
            assert sum(statuses.values()) == 2  # the first, full cycle evaluated both
        assert running.get("/nothing")[0] == 404

        running.signal(signal.SIGTERM)  # idle between cycles: out at once
        assert running.exit_code_within(3) == 0
        assert running.events("daemon_stopped")


def test_sigint_when_idle_exits_0(workspace: Workspace) -> None:
    """Ctrl-C (SIGINT) stops the daemon like SIGTERM, with exit code 0."""
    with daemon(workspace) as running:
        running.wait_for("cycle_done")
        running.signal(signal.SIGINT)
        assert running.exit_code_within(3) == 0
        assert running.wait_for("daemon_stopping")["signal"] == "SIGINT"


def test_sighup_reloads_and_a_broken_config_keeps_the_old_one(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """SIGHUP: German notes from then on; a broken file on SIGHUP changes nothing."""
    text = workspace.config_path.read_text(encoding="utf-8")
    acme = workspace.projects["acme"]
    with daemon(workspace) as running:
        running.wait_for("cycle_done")
        workspace.config_path.write_text(text + "notes:\n  language: de\n", encoding="utf-8")
        running.signal(signal.SIGHUP)
        assert running.wait_for("config_reloaded")["language"] == "de"
        german = admin.make_issue(acme, "Zahlung geht nicht", priority="Urgent")
        (note,) = wait_for_notes(admin, german, INTERVAL + SLACK + 5)
        assert "eingestuft als" in note

        workspace.config_path.write_text(text + "notes:\n  language: de\n  colour: blue\n",
                                         encoding="utf-8")
        running.signal(signal.SIGHUP)
        failed = running.wait_for("config_reload_failed")
        assert "unknown key 'colour'" in failed["error"]
        assert failed["kind"] == "config"
        still = admin.make_issue(acme, "Warenkorb leer", priority="Urgent")
        (note,) = wait_for_notes(admin, still, INTERVAL + SLACK + 5)
        assert "eingestuft als" in note
        assert running.process.poll() is None
        metrics = running.metrics()
        assert metrics[("slabridge_config_reloads_total", (("outcome", "ok"),))] == 1
        assert metrics[("slabridge_config_reloads_total", (("outcome", "error"),))] == 1
        assert running.get("/healthz")[0] == 200


def test_sigterm_mid_cycle_exits_0_and_the_next_run_completes(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """SIGTERM right after the first write: exit 0 quickly; `sync --once` does the rest, once."""
    acme = workspace.projects["acme"]
    issues = [admin.make_issue(acme, f"Outage {n}", priority="Urgent") for n in range(20)]
    with daemon(workspace) as running:
        running.wait_for("issue_updated", timeout=60)
        running.signal(signal.SIGTERM)
        started = time.monotonic()
        assert running.exit_code_within(5) == 0
        assert time.monotonic() - started < 5
        done = running.events("issue_updated")
    assert 1 <= len(done) < len(issues), "the signal must land mid-cycle"
    noted = [issue for issue in issues if admin.notes(issue)]
    assert len(noted) == len(done)

    result = subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), "sync",
         "--once", "--json"],
        capture_output=True, text=True, env=workspace.env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["writes"] == len(issues) - len(done)
    for issue in issues:
        (note,) = admin.notes(issue)
        assert note.endswith("[slabridge classified:acme:critical]")


@pytest.mark.parametrize("breakage", ["closed_port", "bad_key"])
def test_failing_cycles_keep_the_daemon_alive(
    workspace: Workspace, admin: RedmineAdmin, breakage: str
) -> None:
    """Tracker down or key rejected: cycles fail, are counted, /healthz 503, the daemon lives."""
    real_url = workspace.env["REDMINE_URL"]
    text = workspace.config_path.read_text(encoding="utf-8")
    if breakage == "closed_port":
        workspace.env["REDMINE_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
        workspace.config_path.write_text(text.replace("overlap_seconds: 5", "overlap_seconds: 5\n"
                                                      "  retries: 0\n  timeout_seconds: 2"),
                                         encoding="utf-8")
    else:
        workspace.env["REDMINE_API_KEY"] = "0" * 40
    with daemon(workspace) as running:
        first = running.wait_for("cycle_failed")
        running.wait_for("cycle_failed", count=2, timeout=INTERVAL + 10)
        assert first["kind"] == ("unavailable" if breakage == "closed_port" else "auth")
        assert "0" * 40 not in "".join(running.raw)
        assert running.process.poll() is None
        code, body = running.get("/healthz")
        assert (code, json.loads(body)["status"]) == (503, "unhealthy")
        metrics = running.metrics()
        assert metrics[("slabridge_cycle_errors_total", ())] >= 2
        assert metrics[("slabridge_cycles_total", ())] >= 2

        if breakage == "closed_port":
            # Repaired in the file (the URL written out) and reloaded: healthy again.
            workspace.config_path.write_text(text.replace("${REDMINE_URL}", real_url),
                                             encoding="utf-8")
            running.signal(signal.SIGHUP)
            running.wait_for("config_reloaded")
            running.wait_for("cycle_done", timeout=INTERVAL + 10)
            assert running.get("/healthz")[0] == 200
        running.signal(signal.SIGTERM)
        assert running.exit_code_within(5) == 0


def test_sighup_with_a_longer_target_moves_open_due_times_at_once_and_says_so(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """A reload raising Advanced's critical target from 4h to 6h: the open issue's due
    time moves in the cycle the reload runs at once, with a note that agrees with the
    field (it moved only at the issue's old at-risk check, without a word)."""
    text = workspace.config_path.read_text(encoding="utf-8")
    issue = admin.make_issue(workspace.projects["acme"], "Payment down", priority="Urgent")
    with daemon(workspace, "--interval", "300") as running:
        running.wait_for("cycle_done")
        before = admin.field(issue, "SLA response due")
        assert before
        workspace.config_path.write_text(
            text + "tiers:\n  advanced:\n    classes:\n      critical: "
                   "{response: 6h, handling: fastlane}\n", encoding="utf-8")
        running.signal(signal.SIGHUP)
        running.wait_for("config_reloaded")
        running.wait_for("cycle_done", count=2)  # at once, not after the 300 s interval
        after = admin.field(issue, "SLA response due")
        assert after != before
        moved = [n for n in admin.notes(issue) if "the contract terms changed" in n]
        assert len(moved) == 1
        assert "now due by" in moved[0]
        assert running.get("/healthz")[0] == 200
