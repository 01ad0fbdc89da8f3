"""Latency of `slabridge run` at the default interval: a new critical issue until its due time.

Run: `.venv/bin/python benchmarks/daemon_latency.py [--samples 24] [--minutes 6]` as root (it
runs deploy/redmine-local/start.sh for the URL and key). It takes about `--minutes` + 2.5
minutes, longer than a 10-minute foreground limit with larger values: run it in the
background (`... > bench.out 2>&1 &`) and read the figures at the end.

What it does, against the real local Redmine on 127.0.0.1 only:

1. a fresh project `lat-<random>` (its issues belong to customer acme, tier Advanced) and a
   config without a `daemon:` section, so `slabridge run` polls at the default 60 s;
2. starts `python -m slabridge --config <tmp> run --health-port 0 --json-logs` and waits for
   its first cycle;
3. creates `--samples` critical (Urgent) issues at seeded random moments spread over
   `--minutes`, so they land at every phase of the poll interval;
4. latency per issue, from just before the create request to:
   - *write*: the daemon's `issue_updated` log line for it (written right after the PUT
     that set `SLA response due` returned; same machine, same clock);
   - *observed*: the first time an outside client, listing the project's issues every
     0.5 s (one request each), sees `SLA response due` set;
5. p50 / p95 / max (nearest rank) of both, against the target p95 <= interval + 3 s;
6. the alternative a user would script: cron running `slabridge sync --once` every minute.
   Measured: start-up alone (`--version`), a one-shot cycle with nothing to do and one with
   one new critical issue (5 runs each, wall time of the process). Modelled, for the same
   creation moments: wait until the next full minute + the measured one-shot time.

The project stays in Redmine afterwards (its identifier is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from local_redmine import progress, start_redmine
from redminelib import Redmine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INTERVAL = 60.0  # DaemonSettings.interval_seconds; the config below leaves it alone
SLACK = 3.0  # the target: p95 <= interval + 3 s
OBSERVE_EVERY = 0.5
ONE_SHOT_RUNS = 5
DUE_FIELD = "SLA response due"

CONFIG = """\
include: [contract-terms]
customers:
  acme:
    name: Acme Webshop GmbH
    contracts: [{{tier: advanced, from: 2020-01-01}}]
classification:
  customers:
    - match: {{project: {project}}}
      customer: acme
tracker:
  kind: redmine
  url: ${{REDMINE_URL}}
  api_key: ${{REDMINE_API_KEY}}
  projects: [{project}]
state:
  path: state.sqlite3
"""


def nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile (no interpolation: a value that was measured)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(values: list[float]) -> str:
    """p50 / p95 / max in seconds."""
    return (f"p50 {nearest_rank(values, 0.5):6.2f} s   p95 {nearest_rank(values, 0.95):6.2f} s"
            f"   max {max(values):6.2f} s")


class DaemonLog:
    """Reads the daemon's JSON log lines: first write per issue, cycle durations."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.written: dict[str, float] = {}
        self.cycles: list[float] = []
        self.failed = 0
        self.other: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                event: dict[str, Any] = json.loads(line)
            except ValueError:
                event = {"event": "raw", "line": line}
            with self._changed:
                name = event.get("event")
                if name == "issue_updated":
                    at = datetime.fromisoformat(event["timestamp"]).timestamp()
                    self.written.setdefault(str(event["issue"]), at)
                elif name == "cycle_done":
                    self.cycles.append(float(event["seconds"]))
                elif name == "cycle_failed":
                    self.failed += 1
                    self.other.append(line.strip())
                elif name not in ("health_listening", "daemon_started", "daemon_stopping",
                                  "daemon_stopped"):
                    self.other.append(line.strip())
                self._changed.notify_all()

    def wait_for_cycles(self, count: int, timeout: float) -> None:
        """Until `count` cycles are done."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.cycles) < count:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    sys.exit(f"the daemon did not finish a cycle: {self.other[-5:]}")
                self._changed.wait(0.5)


class Observer:
    """An outside client listing the project's issues every 0.5 s: when is the field set?"""

    def __init__(self, redmine: Any, project: str) -> None:
        self.redmine = redmine
        self.project = project
        self.seen: dict[str, float] = {}
        self.requests = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(OBSERVE_EVERY):
            self.requests += 1
            try:
                data = self.redmine.engine.request(
                    "get", f"{self.redmine.url}/issues.json",
                    params={"project_id": self.project, "status_id": "*", "limit": 100},
                )
            except Exception:  # Redmine restarted under us (another session): count, go on
                self.errors += 1
                continue
            now = time.time()
            for issue in data["issues"]:
                values = {c["name"]: c.get("value") for c in issue.get("custom_fields", [])}
                if values.get(DUE_FIELD):
                    self.seen.setdefault(str(issue["id"]), now)

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join()


def create_issue(redmine: Any, project: str, subject: str, priority: int, tracker: int) -> int:
    """A new issue; refused connections (another session restarting Redmine) are retried."""
    for _ in range(60):
        try:
            return int(redmine.issue.create(project_id=project, subject=subject,
                                            priority_id=priority, tracker_id=tracker).id)
        except requests.ConnectionError:
            progress("Redmine refused the connection; retrying")
            time.sleep(1)
    sys.exit("Redmine stayed unreachable for a minute")


def timed_run(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process, start to exit (it must succeed)."""
    started = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, env=env,  # noqa: S603
                            timeout=300, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(args[2:])} failed: {result.stderr[-2000:]}")
    return seconds


def main() -> None:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=24, help="issues to create (24)")
    parser.add_argument("--minutes", type=float, default=6.0,
                        help="spread the creations over this many minutes (6)")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed")
    options = parser.parse_args()

    url, key = start_redmine()
    env = {**os.environ, "REDMINE_URL": url, "REDMINE_API_KEY": key}
    redmine = Redmine(url, key=key)
    project = f"lat-{secrets.token_hex(4)}"
    trackers = [t.id for t in redmine.tracker.all()]
    redmine.project.create(name=project, identifier=project, is_public=True,
                           tracker_ids=trackers, enabled_module_names=["issue_tracking"])
    urgent = next(p.id for p in redmine.enumeration.filter(resource="issue_priorities")
                  if p.name == "Urgent")
    progress(f"project {project} on {url}")

    workdir = Path(tempfile.mkdtemp(prefix="slabridge-latency-"))
    config = workdir / "slabridge.yaml"
    config.write_text(CONFIG.format(project=project), encoding="utf-8")
    base = [sys.executable, "-m", "slabridge", "--config", str(config)]

    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [*base, "run", "--health-port", "0", "--json-logs"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    created: dict[str, float] = {}
    try:
        log = DaemonLog(process)
        log.wait_for_cycles(1, timeout=120)
        progress("daemon up, first cycle done; creating issues")
        observer = Observer(redmine, project)
        rng = random.Random(options.seed)
        span = options.minutes * 60
        offsets = sorted(rng.uniform(0, span) for _ in range(options.samples))
        start = time.monotonic()
        for number, offset in enumerate(offsets, 1):
            time.sleep(max(0.0, start + offset - time.monotonic()))
            before = time.time()
            issue = create_issue(redmine, project, f"Outage {number}", urgent, trackers[0])
            created[str(issue)] = before
            progress(f"created #{issue} ({number}/{options.samples})")
        deadline = time.monotonic() + 2 * DEFAULT_INTERVAL + 30
        while set(created) - set(observer.seen) or set(created) - set(log.written):
            if time.monotonic() > deadline:
                sys.exit(f"issues never written: {sorted(set(created) - set(log.written))}")
            time.sleep(0.5)
        observer.stop()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        progress(f"daemon stopped with exit code {code}")
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    progress("one-shot runs (what a cron job would start every minute)")
    version = [timed_run([sys.executable, "-m", "slabridge", "--version"], env)
               for _ in range(ONE_SHOT_RUNS)]
    idle = [timed_run([*base, "sync", "--once"], env) for _ in range(ONE_SHOT_RUNS)]
    with_write = []
    for number in range(ONE_SHOT_RUNS):
        create_issue(redmine, project, f"One-shot {number}", urgent, trackers[0])
        with_write.append(timed_run([*base, "sync", "--once"], env))

    write = [log.written[k] - created[k] for k in created]
    seen = [observer.seen[k] - created[k] for k in created]
    # cron fires at second 0 of every minute; the process then starts, syncs and writes.
    cron = [60 - (created[k] % 60) + with_write[i % len(with_write)]
            for i, k in enumerate(sorted(created))]
    target = DEFAULT_INTERVAL + SLACK
    p95 = nearest_rank(seen, 0.95)
    print(f"slabridge run at the default interval ({DEFAULT_INTERVAL:.0f} s), Redmine {url}, "
          f"project {project}")
    print(f"{len(created)} critical issues created at random moments over "
          f"{options.minutes:g} min (seed {options.seed}); daemon exit code {code}")
    print(f"  write latency    (create -> PUT returned, daemon log):   {summary(write)}")
    print(f"  observed latency (create -> seen by a 0.5 s poller):     {summary(seen)}")
    print(f"  target p95 <= interval + {SLACK:.0f} s = {target:.0f} s: "
          f"{'met' if p95 <= target else 'NOT met'} (observed p95 {p95:.2f} s)")
    print(f"  daemon cycles: {len(log.cycles)}, duration median "
          f"{statistics.median(log.cycles):.2f} s, max {max(log.cycles):.2f} s; "
          f"failed cycles: {log.failed}; observer requests: {observer.requests} "
          f"({observer.errors} failed)")
    if log.other:
        print(f"  other daemon log lines: {len(log.other)}, e.g. {log.other[0][:200]}")
    print(f"one-shot process wall time ({ONE_SHOT_RUNS} runs each, median [min-max]):")
    for label, values in (("python -m slabridge --version (start-up)", version),
                          ("sync --once, nothing to do", idle),
                          ("sync --once, one new critical issue", with_write)):
        print(f"  {label:<42} {statistics.median(values):5.2f} s "
              f"[{min(values):.2f}-{max(values):.2f}]")
    print(f"cron `sync --once` every minute, modelled on the same creation moments "
          f"(wait for the next minute + one-shot with one write): {summary(cron)}")


if __name__ == "__main__":
    main()
