"""Unattended soak of `slabridge run` against the real local Redmine, under injected outages.

Run (as root, like the other Redmine benchmarks; it runs deploy/redmine-local/start.sh):

    .venv/bin/python benchmarks/unattended_soak.py --minutes 30 > soak.out

`--minutes 3` is a smoke run of the same schedule, compressed. Progress goes to stderr; the
operator's report (Markdown tables) to stdout. Loopback only; every loop is bounded.

What it does:

1. With the admin key (setup only): two fresh private projects `soak-<random>-acme` and
   `soak-<random>-globex` (slabridge and sam.staff Developer, carla.acme / gus.globex
   Reporter) and an open version in each (Fastlane target).
2. A config with a 24/7 calendar (`allday`: mon-sun 00:00-24:00, no holidays) for the
   Advanced tier, short targets (critical = minutes/3, minor = 2*minutes/3: 10m and 20m for
   a 30-minute run) so at-risk and breach come from the clock within the run, and an
   escalation ladder: `at-risk` (mention sam.staff, webhook) and `breached` (mention,
   e-mail + webhook). E-mail goes to a local aiosmtpd server, the webhook to a local
   receiver; `/healthz` on a free loopback port; interval 15 s (10 s for short runs).
3. `slabridge run --json-logs` as a subprocess with the service account's key, talking to
   Redmine through a loopback fault proxy (tests/integration/fault_proxy.py) with an
   outage switch: every request answered 503, or every connection reset.
4. Customers report 12 issues over the run (critical: Urgent, minor: High), some answered
   by sam.staff (a public note) before their breach; faults per the schedule printed at the
   start: webhook 500, SMTP down, both down (receiver and SMTP stopped), two Redmine
   outages (503 / reset), three `kill -9` with restarts, a SIGHUP with a longer minor target
   and a SIGHUP with a broken config (restored afterwards, without a signal).
5. Samples /healthz every 10 s (5 s in short runs), scrapes /metrics at the end of each
   phase, then reads Redmine with the admin key and prints: per issue notes and markers
   (duplicate markers flagged), notifications per step and channel (duplicates and
   missing ones flagged), the /healthz timeline, the phases, the metrics, log events.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.integration.fault_proxy import Fault, FaultPlan, FaultProxy  # noqa: E402
from tests.integration.redmine_helpers import (  # noqa: E402
    SERVICE,
    STAFF,
    RedmineAdmin,
    agency_customers,
)

START = ROOT / "deploy" / "redmine-local" / "start.sh"
MARKER = re.compile(r"\[slabridge ((?:[A-Za-z0-9_.:@/-]+ ?)+)\]")
BASE_MINUTES = 30.0
"""The schedule below is written for a 30-minute run and scaled to --minutes."""

# (minute, project role, class, minute of staff's answer or None)
ISSUES: list[tuple[float, str, str, float | None]] = [
    (0.2, "acme", "minor", None),      # at risk 15.2, breach 20.2; the reload moves its due
    (0.5, "acme", "critical", None),   # at risk 8.0 (webhook 500), breach 10.5 (SMTP down)
    (1.0, "globex", "critical", 3.0),  # answered early: met
    (1.5, "globex", "minor", 10.0),    # answered early: met
    (2.5, "acme", "critical", None),   # at risk 10.0, breach 12.5 (Redmine 503)
    (4.0, "globex", "critical", 12.8),  # at risk 11.5, answered during the Redmine outage
    (5.5, "acme", "critical", None),   # at risk 13.0, breach 15.5 (both channels down)
    (6.0, "globex", "minor", None),    # at risk 21.0, reload at 22.5 -> running, at risk 28.5
    (8.0, "acme", "critical", None),   # at risk 15.5 (both down), breach 18.0
    (11.5, "globex", "critical", None),  # reported during the Redmine outage; breach 21.5
    (14.0, "acme", "minor", 19.0),     # answered: met
    (17.0, "globex", "critical", None),  # at risk 24.5, breach 27.0
]

# (start minute, end minute, kind, label); instantaneous events have start == end
PHASES: list[tuple[float, float, str, str]] = [
    (6.5, 9.0, "webhook_500", "webhook answers 500"),
    (9.0, 11.0, "smtp_down", "SMTP server stopped"),
    (11.0, 13.0, "redmine_503", "Redmine outage: every request 503 (proxy)"),
    (14.0, 14.5, "kill", "kill -9 #1, restart after the pause"),
    (15.0, 18.5, "both_down", "SMTP stopped and webhook receiver stopped"),
    (19.5, 21.0, "redmine_reset", "Redmine outage: every connection reset (proxy)"),
    (21.3, 21.3, "kill", "kill -9 #2, restart at once"),
    (22.5, 22.5, "reload_ok", "SIGHUP: minor target 20m -> 30m"),
    (24.0, 24.5, "reload_broken", "SIGHUP with a broken config (file restored at end)"),
    (25.5, 25.7, "kill", "kill -9 #3, restart after the pause"),
]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hhmmss(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M:%S")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the outside world: SMTP inbox, webhook receiver, fault proxy ---------------------------


@dataclass
class Inbox:
    """Messages the local SMTP server accepted."""

    messages: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, X-Slabridge-Key, subject)"""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append((time.time(), str(message.get("X-Slabridge-Key", "")),
                                  str(message.get("Subject", ""))))
        return "250 OK"


class Smtp:
    """An aiosmtpd server on a fixed port that can be stopped and started again."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class HookState:
    """What the webhook receiver got, and whether it answers 500."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: list[tuple[float, str, str, dict[str, Any]]] = []
        """(time, Idempotency-Key, X-Slabridge-Key, payload) answered 204"""
        self.refused: list[tuple[float, str]] = []
        """(time, Idempotency-Key) answered 500"""
        self.failing = False


def hook_handler(state: HookState) -> type[BaseHTTPRequestHandler]:
    class Hooks(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                if state.failing:
                    state.refused.append((time.time(), key))
                    code = 500
                else:
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        payload = {"unparsable": body[:200].decode(errors="replace")}
                    state.delivered.append((time.time(), key,
                                            self.headers.get("X-Slabridge-Key", ""), payload))
                    code = 204
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Hooks


class Webhook:
    """A webhook receiver on a fixed port that can answer 500, or be stopped and restarted."""

    def __init__(self) -> None:
        self.state = HookState()
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        if self.server is None:
            ThreadingHTTPServer.allow_reuse_address = True
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port),
                                              hook_handler(self.state))
            self.server.daemon_threads = True
            self.thread = threading.Thread(target=self.server.serve_forever,
                                           kwargs={"poll_interval": 0.2}, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            if self.thread is not None:
                self.thread.join(timeout=5)
            self.server = None


class OutagePlan(FaultPlan):
    """The fault proxy's plan with an outage switch: while `outage` is set, every request
    gets that fault (503 or a reset); otherwise everything is forwarded."""

    def __init__(self) -> None:
        super().__init__(rate=0.0, seed=1)
        self.outage: Fault | None = None

    def choose(self, method: str, path: str = "") -> Fault | None:
        return self.outage


# --- the daemon --------------------------------------------------------------------------


class Daemon:
    """`slabridge run` as a subprocess; its JSON log lines appended to one file."""

    def __init__(self, config: Path, env: dict[str, str], log_path: Path, health: str) -> None:
        self.config = config
        self.env = env
        self.log_path = log_path
        self.health = health
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(json.dumps({"event": "soak_daemon_start", "n": self.starts,
                                  "at": time.time()}).encode() + b"\n")
            self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-m", "slabridge", "--config", str(self.config), "run",
                 "--json-logs"],
                stdout=subprocess.DEVNULL, stderr=log, env=self.env, cwd=self.config.parent,
            )
        progress(f"daemon started (pid {self.process.pid}, start #{self.starts})")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(timeout=10)
            progress(f"daemon killed with SIGKILL (pid {self.pid})")

    def hup(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGHUP)

    def stop(self) -> int | None:
        """SIGTERM by PID, then SIGKILL if it does not end within 30 s."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                return self.process.wait(timeout=10)
        return self.process.returncode

    def lines(self) -> list[dict[str, Any]]:
        result = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(raw)
                if isinstance(parsed, dict):
                    result.append(parsed)
        return result

    def raw_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def wait_for(self, event: str, after: int, timeout: float) -> dict[str, Any] | None:
        """The first log line with this event among lines after the first `after` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines()[after:] if line.get("event") == event]
            if found:
                return found[0]
            time.sleep(0.5)
        return None

    def metrics(self) -> dict[str, float] | None:
        try:
            body = requests.get(self.health + "/metrics", timeout=5).text
        except requests.RequestException:
            return None
        return {
            sample.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                           + "}" if sample.labels else ""): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples
        }


class HealthSampler(threading.Thread):
    """GET /healthz every `every` seconds until stopped."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.samples: list[tuple[float, int | None, str, list[str], str]] = []
        """(time, HTTP status, status, reasons, last_error / reload error / failure)"""
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            moment = time.time()
            try:
                response = requests.get(self.url + "/healthz", timeout=5)
                body = response.json()
                extra = body.get("config_reload_error") or ""
                if body.get("status") != "ok" and body.get("last_error"):
                    extra = (extra + " " if extra else "") + f"last_error: {body['last_error']}"
                self.samples.append((moment, response.status_code, str(body.get("status")),
                                     list(body.get("reasons") or []), extra))
            except (requests.RequestException, ValueError) as error:
                self.samples.append((moment, None, "no answer", [], type(error).__name__))
            self.stopping.wait(self.every)


# --- the run -----------------------------------------------------------------------------


def start_redmine() -> dict[str, str]:
    result = subprocess.run(  # noqa: S603 - our own script
        ["/bin/bash", str(START)], capture_output=True, text=True, check=False, timeout=1800)
    if result.returncode != 0:
        sys.exit(f"start.sh failed ({result.returncode}):\n{result.stderr[-2000:]}")
    values = dict(line.split("=", 1) for line in result.stdout.splitlines()
                  if line.startswith("REDMINE_"))
    if not values["REDMINE_URL"].startswith("http://127.0.0.1:"):
        sys.exit(f"refusing a Redmine that is not on loopback: {values['REDMINE_URL']}")
    return values


def fmt_minutes(minutes: float) -> str:
    return f"{minutes:g}m" if minutes >= 1 else f"{minutes * 60:g}s"


def target(minutes: float) -> str:
    """A duration in slabridge's syntax (minutes, possibly fractional)."""
    return f"{round(minutes, 2):g}m"


def write_config(path: Path, *, projects: dict[str, str], smtp_port: int, hook: str,
                 health_port: int, interval: int, critical: float, minor: float,
                 channel_limit: int, broken: bool = False) -> None:
    text = f"""\
include: [contract-terms]
calendars:
  allday:
    description: every day, all day (soak test)
    timezone: Europe/Vienna
    windows:
      mon-sun: ["00:00-24:00"]
    holidays: {{country: null}}
tiers:
  advanced:
    calendar: allday
    classes:
      critical: {{response: {target(critical)}, handling: fastlane}}
      minor: {{response: {target(minor)}, handling: joint_planning}}
{agency_customers(projects, globex_tier="advanced")}\
tracker:
  kind: redmine
  url: ${{REDMINE_URL}}
  api_key: ${{REDMINE_API_KEY}}
  projects: [{projects['acme']}, {projects['globex']}]
  overlap_seconds: 5
  timeout_seconds: 10
state:
  path: {path.parent / 'state.sqlite3'}
escalation:
  channels:
    mail: {{kind: email, to: [ops@example.com], sender: sla@example.com,
            smtp_host: 127.0.0.1, smtp_port: {smtp_port}, timeout_seconds: 5}}
    chat: {{kind: webhook, url: "{hook}", timeout_seconds: 5}}
  ladders:
    standard:
      - {{name: at-risk, when: at_risk, mention: [sam.staff], notify: [chat]}}
      - {{name: breached, when: breached, mention: [sam.staff], notify: [mail, chat]}}
  rules:
    - {{ladder: standard}}
daemon:
  interval_seconds: {interval}
  health_host: 127.0.0.1
  health_port: {health_port}
  unhealthy_after_cycles: 3
  channel_unhealthy_after_seconds: {channel_limit}
"""
    if broken:
        text += "notes:\n  colour: blue\n"
    path.write_text(text, encoding="utf-8")


def marker_kind(key: str) -> str:
    """A marker key without customer and class: classified, sprint, at_risk, esc:at-risk..."""
    parts = key.split(":")
    if parts[0] == "escalated":
        return f"esc:{parts[-1]}"
    if parts[0] in ("classified", "sprint", "due-moved") or len(parts) < 3:
        return parts[0]
    return parts[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="length of the scheduled part (>= 3; 30 for the real soak)")
    parser.add_argument("--settle", type=float, default=None,
                        help="minutes to wait after the schedule for retries (default "
                        "minutes/10, at least 1)")
    args = parser.parse_args()
    if args.minutes < 3:
        parser.error("--minutes must be at least 3")
    scale: float = args.minutes / BASE_MINUTES
    short = args.minutes < 10
    interval = 10 if short else 15
    sample_every = 5.0 if short else 10.0
    settle = args.settle if args.settle is not None else max(1.0, args.minutes / 10)
    critical_min, minor_min = args.minutes / 3, 2 * args.minutes / 3
    minor_reload = minor_min * 1.5
    channel_limit = 20 if short else 120

    values = start_redmine()
    url, admin_key = values["REDMINE_URL"], values["REDMINE_API_KEY"]
    accounts = json.loads(values["REDMINE_ACCOUNTS"])
    admin = RedmineAdmin(url, admin_key, accounts)
    suffix = secrets.token_hex(3)
    projects = {role: f"soak-{suffix}-{role}" for role in ("acme", "globex")}
    customers = {"acme": "carla.acme", "globex": "gus.globex"}
    for role, identifier in projects.items():
        admin.make_project(identifier, customer=customers[role])
        admin.redmine.version.create(project_id=identifier, name="Sprint soak",
                                     due_date=datetime.now(UTC).date() + timedelta(days=7))
    progress(f"projects {projects['acme']}, {projects['globex']}")

    work = Path(tempfile.mkdtemp(prefix="slabridge-soak-"))
    config = work / "slabridge.yaml"
    log_path = work / "daemon.log"
    inbox = Inbox()
    smtp = Smtp(inbox)
    hooks = Webhook()
    plan = OutagePlan()
    proxy = FaultProxy(url, rate=0.0, seed=1, stall_seconds=3.0)
    proxy.plan = plan
    health_port = free_port()
    health = f"http://127.0.0.1:{health_port}"
    config_args: dict[str, Any] = {
        "projects": projects, "smtp_port": smtp.port, "hook": hooks.url,
        "health_port": health_port, "interval": interval, "critical": critical_min,
        "minor": minor_min, "channel_limit": channel_limit}
    write_config(config, **config_args)
    env = {**os.environ, "REDMINE_URL": proxy.url, "REDMINE_API_KEY": accounts[SERVICE]}
    env.pop("SLABRIDGE_CONFIG", None)
    daemon = Daemon(config, env, log_path, health)
    sampler = HealthSampler(health, sample_every)

    phases_done: list[dict[str, Any]] = []
    scrapes: list[tuple[str, float, dict[str, float] | None]] = []
    created: list[dict[str, Any]] = []
    kill_metrics: list[dict[str, float] | None] = []

    # The schedule, printed before anything happens.
    print(f"# slabridge unattended soak ({args.minutes:g} minutes + {settle:g} settle)\n")
    print(f"Started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC. Redmine {url} behind the fault "
          f"proxy; projects `{projects['acme']}` (carla.acme) and `{projects['globex']}` "
          f"(gus.globex); 24/7 calendar; targets critical {target(critical_min)}, minor "
          f"{target(minor_min)} (at risk from 75 %); interval {interval} s; "
          f"unhealthy_after_cycles 3; channel_unhealthy_after_seconds {channel_limit}; "
          f"/healthz sampled every {sample_every:g} s; work dir `{work}`.\n")
    print("## Schedule\n")
    rows = [[f"+{s * scale:.1f}", f"+{e * scale:.1f}", kind, label] for s, e, kind, label in PHASES]
    rows += [[f"+{m * scale:.1f}", "", "issue", f"{role} {cls}"
              + (f", answered by sam.staff at +{a * scale:.1f}" if a is not None else "")]
             for m, role, cls, a in ISSUES]
    rows.sort(key=lambda r: float(r[0][1:]))
    print(table(["start (min)", "end (min)", "kind", "what"], rows))
    print(flush=True)

    # Actions on the clock: (minute, description, callable)
    actions: list[tuple[float, str, Callable[[], None]]] = []
    t0 = time.time()

    def at(minute: float) -> float:
        return t0 + minute * scale * 60

    def make_issue(role: str, cls: str) -> Callable[[], None]:
        def create() -> None:
            n = len(created) + 1
            priority = "Urgent" if cls == "critical" else "High"
            issue = admin.make_issue(projects[role], f"Soak {n}: {cls} problem at {role}",
                                     priority=priority)
            created.append({"id": issue, "role": role, "class": cls, "created": time.time(),
                            "answered": None})
            progress(f"issue #{issue} ({role}, {cls}) reported")
        return create

    def answer(index: int) -> Callable[[], None]:
        def reply() -> None:
            if index < len(created):
                issue = created[index]["id"]
                admin.answer(issue, "We are on it (soak: staff answer).", by=STAFF)
                created[index]["answered"] = time.time()
                progress(f"issue #{issue} answered by {STAFF}")
        return reply

    for index, (minute, role, cls, answered) in enumerate(ISSUES):
        actions.append((minute, f"issue {index + 1}", make_issue(role, cls)))
        if answered is not None:
            actions.append((answered, f"answer issue {index + 1}", answer(index)))

    def begin_phase(kind: str, label: str) -> dict[str, Any]:
        phase = {"kind": kind, "label": label, "start": time.time(), "end": None, "note": ""}
        phases_done.append(phase)
        progress(f"phase begins: {label}")
        return phase

    def end_phase(phase: dict[str, Any], note: str = "") -> None:
        phase["end"] = time.time()
        phase["note"] = (phase["note"] + " " + note).strip()
        scrapes.append((phase["label"], phase["end"], daemon.metrics()))
        progress(f"phase ends: {phase['label']} {note}")

    open_phases: dict[int, dict[str, Any]] = {}

    def phase_actions(index: int, start: float, end: float, kind: str, label: str) -> None:
        def begin() -> None:
            phase = begin_phase(kind, label)
            open_phases[index] = phase
            if kind == "webhook_500":
                hooks.state.failing = True
            elif kind == "smtp_down":
                smtp.stop()
            elif kind == "both_down":
                smtp.stop()
                hooks.stop()
            elif kind == "redmine_503":
                plan.outage = Fault.HTTP_503
            elif kind == "redmine_reset":
                plan.outage = Fault.RESET
            elif kind == "kill":
                kill_metrics.append(daemon.metrics())
                daemon.kill9()
                if start == end:
                    daemon.start()
                    end_phase(phase, "restarted at once")
            elif kind == "reload_ok":
                seen = len(daemon.lines())
                write_config(config, **{**config_args, "minor": minor_reload})
                config_args["minor"] = minor_reload
                daemon.hup()
                line = daemon.wait_for("config_reloaded", seen, 60)
                end_phase(phase, "config_reloaded logged" if line else
                          "NO config_reloaded within 60 s")
            elif kind == "reload_broken":
                seen = len(daemon.lines())
                write_config(config, **config_args, broken=True)
                daemon.hup()
                line = daemon.wait_for("config_reload_failed", seen, 60)
                phase["note"] = ("config_reload_failed logged: " + str(line.get("error"))[:120]
                                 if line else "NO config_reload_failed within 60 s")
                phase["note"] += "; daemon alive" if daemon.alive() else "; DAEMON DIED"

        def finish() -> None:
            phase = open_phases.get(index)
            if phase is None or phase["end"] is not None:
                return
            if kind == "webhook_500":
                hooks.state.failing = False
            elif kind == "smtp_down":
                smtp.start()
            elif kind == "both_down":
                smtp.start()
                hooks.start()
            elif kind in ("redmine_503", "redmine_reset"):
                plan.outage = None
            elif kind == "kill":
                daemon.start()
            elif kind == "reload_broken":
                write_config(config, **config_args)  # restored, no signal
            end_phase(phase)

        actions.append((start, f"begin {label}", begin))
        if end != start or kind not in ("kill", "reload_ok"):
            actions.append((end, f"end {label}", finish))

    for index, (start, end, kind, label) in enumerate(PHASES):
        phase_actions(index, start, end, kind, label)
    actions.sort(key=lambda a: a[0])

    exit_code: int | None = None
    try:
        smtp.start()
        hooks.start()
        proxy.start()
        daemon.start()
        sampler.start()
        first = daemon.wait_for("cycle_done", 0, 120)
        progress("first cycle done" if first else "no first cycle within 120 s (going on)")
        baseline = begin_phase("baseline", "baseline (first cycle, no faults)")
        end_phase(baseline)
        t0 = time.time()  # the schedule counts from the first cycle
        for minute, description, action in actions:
            wait = at(minute) - time.time()
            if wait > 0:
                time.sleep(wait)
            try:
                action()
            except Exception as error:
                progress(f"action {description!r} failed: {error!r}")
                phases_done.append({"kind": "error", "label": f"{description} failed",
                                    "start": time.time(), "end": time.time(),
                                    "note": repr(error)[:200]})
            if not daemon.alive() and daemon.starts and "kill" not in description:
                progress(f"daemon is not running (exit {daemon.process.returncode})")  # type: ignore[union-attr]
        wait = at(BASE_MINUTES) - time.time()
        if wait > 0:
            time.sleep(wait)
        tail = begin_phase("settle", f"settle: no faults for {settle:g} more minutes")
        time.sleep(settle * 60)
        end_phase(tail)
        final_metrics = daemon.metrics()
        health_final = None
        with contextlib.suppress(requests.RequestException, ValueError):
            health_final = requests.get(health + "/healthz", timeout=5).json()
        alive_at_end = daemon.alive()
    finally:
        sampler.stopping.set()
        exit_code = daemon.stop()
        sampler.join(timeout=15)
        hooks.stop()
        smtp.stop()
        proxy.stop()
    progress(f"daemon stopped (exit {exit_code}); reading Redmine")

    raw = {"created": created, "mail": inbox.messages, "hooks": hooks.state.delivered,
           "refused": hooks.state.refused, "health": sampler.samples, "phases": phases_done,
           "scrapes": scrapes, "kill_metrics": kill_metrics, "final_metrics": final_metrics}
    (work / "raw.json").write_text(json.dumps(raw, default=str), encoding="utf-8")
    report(admin=admin, created=created, inbox=inbox, hooks=hooks, sampler=sampler,
           phases=phases_done, scrapes=scrapes, final_metrics=final_metrics,
           kill_metrics=kill_metrics, daemon=daemon, exit_code=exit_code,
           alive_at_end=alive_at_end, health_final=health_final, proxy=proxy)
    return 0


def report(*, admin: RedmineAdmin, created: list[dict[str, Any]], inbox: Inbox,
           hooks: Webhook, sampler: HealthSampler, phases: list[dict[str, Any]],
           scrapes: list[tuple[str, float, dict[str, float] | None]],
           final_metrics: dict[str, float] | None, kill_metrics: list[dict[str, float] | None],
           daemon: Daemon, exit_code: int | None, alive_at_end: bool,
           health_final: dict[str, Any] | None, proxy: FaultProxy) -> None:
    problems: list[str] = []
    service_id = admin.user_ids[SERVICE]

    # (a) per issue
    print("\n## (a) Issues\n")
    rows = []
    reached: dict[str, set[str]] = defaultdict(set)  # step -> issue ids with its note
    for item in created:
        raw = admin.raw(item["id"])
        notes = [j for j in raw.get("journals", [])
                 if j.get("notes") and j.get("user", {}).get("id") == service_id]
        keys: list[str] = []
        for journal in notes:
            for found in MARKER.findall(journal["notes"]):
                keys.extend(found.split())
        counted = Counter(keys)
        twice = sorted(k for k, c in counted.items() if c > 1)
        if twice:
            problems.append(f"issue #{item['id']}: marker(s) written more than once: {twice}")
        kinds = [marker_kind(k) for k in keys]
        for key in keys:
            if key.startswith("escalated:"):
                reached[key.split(":")[-1]].add(str(item["id"]))
        fields = {c["name"]: c.get("value") or "" for c in raw.get("custom_fields", [])}
        status = fields.get("SLA status", "")
        status_id = str(admin.fields["SLA status"])
        history = [str(d.get("new_value") or "") for j in raw.get("journals", [])
                   for d in j.get("details", [])
                   if d.get("property") == "cf" and str(d.get("name")) == status_id]
        journals = [j for j in raw.get("journals", [])
                    if j.get("user", {}).get("id") == service_id]
        rows.append([
            f"#{item['id']}", item["role"], item["class"], hhmmss(item["created"]),
            hhmmss(item["answered"]) if item["answered"] else "-",
            f"{len(journals)}/{len(notes)}", ", ".join(kinds), " > ".join(history),
            status, fields.get("SLA response due", ""), ", ".join(twice) or "none",
        ])
    print(table(["issue", "customer", "class", "reported", "staff answer",
                 "slabridge journals/notes", "note kinds (markers, in order)",
                 "SLA status history (journals)", "final SLA status", "SLA response due",
                 "marker twice"], rows))

    # (b) notifications
    print("\n## (b) Notifications per step and channel\n")
    delivered: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for _, key, _ in inbox.messages:
        step, channel = key.split(":")[-2:] if key.count(":") >= 2 else ("?", "mail")
        delivered[(step, channel)][key] += 1
    for _, key, _, _ in hooks.state.delivered:
        step, channel = key.split(":")[-2:] if key.count(":") >= 2 else ("?", "chat")
        delivered[(step, channel)][key] += 1
    refused = Counter(key for _, key in hooks.state.refused)
    rows = []
    ladder = {"at-risk": ["chat"], "breached": ["mail", "chat"]}
    for step, channels in ladder.items():
        for channel in channels:
            got = delivered.get((step, channel), Counter())
            expected = {f"{issue}/notified:" for issue in reached.get(step, set())}
            issues_got = {key.split("/")[0] for key in got}
            missing = sorted(reached.get(step, set()) - issues_got, key=int)
            unexpected = sorted(issues_got - reached.get(step, set()))
            duplicates = {k: c for k, c in got.items() if c > 1}
            refused_here = sum(c for k, c in refused.items()
                               if k.endswith(f":{step}:{channel}"))
            if duplicates:
                problems.append(f"duplicate {step}/{channel} notifications: {duplicates}")
            if missing:
                problems.append(f"{step}/{channel}: no notification for issue(s) "
                                f"{', '.join('#' + m for m in missing)} (escalation note written)")
            if unexpected:
                problems.append(f"{step}/{channel}: notification for issue(s) {unexpected} without "
                                "an escalation note")
            del expected
            rows.append([step, channel, len(reached.get(step, set())), len(got),
                         sum(got.values()), sum(c - 1 for c in got.values()),
                         ", ".join("#" + m for m in missing) or "-",
                         refused_here if channel == "chat" else "n/a"])
    others = {k: v for k, v in delivered.items() if k[0] not in ladder}
    for (step, channel), got in others.items():
        rows.append([step, channel, "?", len(got), sum(got.values()),
                     sum(c - 1 for c in got.values()), "-", "-"])
    print(table(["step", "channel", "issues with the step's note", "distinct keys received",
                 "deliveries", "duplicates", "missing", "webhook attempts answered 500"], rows))
    print("\nDelivery times (UTC) per key:\n")
    rows = []
    for (_, channel), got in sorted(delivered.items()):
        for key in sorted(got, key=lambda k: int(k.split("/")[0]) if k[0].isdigit() else 0):
            times = [t for t, k, _ in inbox.messages if k == key] if channel == "mail" else \
                [t for t, k, _, _ in hooks.state.delivered if k == key]
            rows.append([key, ", ".join(hhmmss(t) for t in times)])
    print(table(["key", "received at"], rows))

    # (c) health timeline
    print("\n## (c) /healthz timeline (status changes)\n")
    rows = []
    previous: tuple[Any, ...] | None = None
    for moment, code, state, why, extra in sampler.samples:
        shape = (code, state, tuple(re.sub(r"\d+", "N", r) for r in why),
                 re.sub(r"\d+", "N", extra)[:80])
        if shape != previous:
            rows.append([hhmmss(moment), code if code is not None else "-", state,
                         "; ".join(why) or "-", extra[:160] or "-"])
            previous = shape
    print(table(["from (UTC)", "HTTP", "status", "reasons", "detail"], rows))
    print(f"\n{len(sampler.samples)} samples; "
          f"{sum(1 for s in sampler.samples if s[1] == 200)} answered 200, "
          f"{sum(1 for s in sampler.samples if s[1] == 503)} answered 503, "
          f"{sum(1 for s in sampler.samples if s[1] is None)} not answered.")

    # (d) phases
    print("\n## (d) Phases\n")
    scrape_of = {label: (moment, m) for label, moment, m in scrapes}
    rows = []
    for phase in phases:
        label = phase["label"]
        metrics = scrape_of.get(label, (None, None))[1]

        def value(name: str, m: dict[str, float] | None = metrics) -> str:
            return "-" if m is None else f"{m.get(name, 0):g}"
        rows.append([
            label, hhmmss(phase["start"]), hhmmss(phase["end"]) if phase["end"] else "-",
            phase.get("note") or "-", value("slabridge_cycles_total"),
            value("slabridge_cycle_errors_total"), value("slabridge_writes_total"),
            value("slabridge_notifications_sent_total{channel=mail}") + "/"
            + value("slabridge_notifications_failed_total{channel=mail}"),
            value("slabridge_notifications_sent_total{channel=chat}") + "/"
            + value("slabridge_notifications_failed_total{channel=chat}"),
        ])
    print(table(["phase", "start", "end", "note", "cycles", "cycle errors", "writes",
                 "mail sent/failed", "chat sent/failed"], rows))
    print("\n(metrics scraped at each phase's end; counters restart with each daemon process)")

    # (e) metrics
    print("\n## (e) Metrics at the end (last daemon process)\n")
    names = [
        "slabridge_notifications_sent_total{channel=mail}",
        "slabridge_notifications_failed_total{channel=mail}",
        "slabridge_notifications_sent_total{channel=chat}",
        "slabridge_notifications_failed_total{channel=chat}",
        "slabridge_breaches_total", "slabridge_writes_total", "slabridge_notes_total",
        "slabridge_cycles_total", "slabridge_cycle_errors_total", "slabridge_issue_errors_total",
        "slabridge_tracker_requests_total",
        "slabridge_config_reloads_total{outcome=ok}",
        "slabridge_config_reloads_total{outcome=error}",
    ]
    names += sorted(k for k in (final_metrics or {}) if k.startswith("slabridge_issues{"))
    lifetimes = [*kill_metrics, final_metrics]
    rows = []
    for name in names:
        last = "-" if final_metrics is None else f"{final_metrics.get(name, 0):g}"
        if name.startswith("slabridge_issues"):
            total = "n/a (gauge)"
        else:
            total = f"{sum((m or {}).get(name, 0) for m in lifetimes):g}"
        rows.append([name, last, total])
    print(table(["metric", "last process", "sum over all processes (last scrape before each "
                 "kill -9 + final)"], rows))
    if final_metrics is not None:
        missing_names = [n for n in names[:4] if n not in final_metrics]
        if missing_names:
            print(f"\nNot exported: {', '.join(missing_names)}")

    # log events
    print("\n## Daemon log events\n")
    lines = daemon.lines()
    events = Counter(str(line.get("event")) for line in lines)
    print(table(["event", "count"], [[k, v] for k, v in sorted(events.items())]))
    not_json = [text for text in daemon.raw_lines() if not text.startswith("{")]
    if not_json:
        print(f"\n{len(not_json)} log lines that are not JSON (first 5):\n")
        for text in not_json[:5]:
            print(f"    {text[:200]}")
    print(f"\nFault proxy: {proxy.summary()}; internal errors: {len(proxy.internal_errors)}")
    print(f"Daemon alive at the end of the schedule: {alive_at_end}; exit code after SIGTERM: "
          f"{exit_code}; final /healthz: {json.dumps(health_final)[:300] if health_final else '-'}")
    print(f"Log: `{daemon.log_path}`")

    print("\n## Checks\n")
    if not alive_at_end:
        problems.append("the daemon was not running at the end of the schedule")
    if exit_code not in (0, None):
        problems.append(f"daemon exit code after SIGTERM: {exit_code}")
    errors = [line for line in lines if (line.get("level") in ("error", "critical")
              or line.get("log_level") in ("error", "critical"))
              and line.get("event") != "config_reload_failed"]  # expected: the broken file
    if errors:
        problems.append(f"{len(errors)} error-level log lines, e.g. "
                        f"{json.dumps(errors[0])[:300]}")
    if problems:
        for problem in problems:
            print(f"- PROBLEM: {problem}")
    else:
        print("- no duplicate markers, no duplicate or missing notifications, daemon alive")


if __name__ == "__main__":
    sys.exit(main())
