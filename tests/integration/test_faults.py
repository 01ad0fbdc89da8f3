"""slabridge against a Redmine that fails: 5xx, 429, timeouts, resets, writes applied unseen.

Every request goes through `FaultProxy` (tests/integration/fault_proxy.py), a loopback
proxy that fails 20 % of them, reproducibly (seeded): HTTP 500/502/503, 429 with
Retry-After, a stall longer than slabridge's timeout (here `tracker.timeout_seconds: 2`),
a connection reset, and, for PUTs, a write that Redmine applies but whose answer is dropped.
Whatever the proxy does, slabridge must converge: every classified issue ends with exactly
one note per note key and with the SLA fields a clean evaluation (straight to Redmine, no
proxy, no state) agrees with; the daemon must stay up and healthy. Two scripted scenarios pin
the cases that matter most for writes: a PUT applied whose answer is lost, and a PUT refused
on an issue's first write. What is checked against Redmine is read directly (the `admin`
fixture), never through the proxy. Set FAULT_SEED to replay or explore other fault sequences.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from slabridge.app.report import SyncReport
from slabridge.app.sync import Syncer
from slabridge.bootstrap import build_syncer
from slabridge.config.loader import Config, load_config
from slabridge.domain.annotations import note_keys_in
from slabridge.errors import TrackerUnavailableError
from tests.integration.conftest import RedmineServer, Workspace
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.redmine_helpers import RedmineAdmin
from tests.integration.running import daemon

pytestmark = pytest.mark.redmine

SEED = int(os.environ.get("FAULT_SEED", "20261123"))
"""The proxy's seed: the same seed replays the same faults (FAULT_SEED=... to explore)."""
FAULT_RATE = 0.2
CLIENT_TIMEOUT = 2
"""tracker.timeout_seconds in these tests; the proxy stalls a "timeout" for longer."""
STALL_SECONDS = 3.0
MAX_CYCLES = 15
MAX_ISSUES = 45
"""Issues arrive in batches until every kind of fault has happened, up to this many."""
OVERLAP_SECONDS = 5
"""tracker.overlap_seconds in the workspace config."""
DAEMON_FAULT_SECONDS = 40
"""How long the daemon test keeps creating issues after the first cycle (one per 5 s)."""
SLA_FIELDS = ("SLA response due", "SLA response due date", "SLA class", "SLA status")
CLASS_OF = {"Immediate": "critical", "Urgent": "critical", "High": "minor",
            "Normal": "minor", "Low": "trivial"}
TIER_OF = {"acme": "advanced", "globex": "premium"}


@dataclass(frozen=True)
class Planned:
    """An issue the test created and what slabridge should make of it."""

    number: int
    role: str
    """Project role: acme, globex or internal (unclassified)."""
    priority: str
    status: str | None
    """The SLA status expected; None where slabridge must not write (unclassified, closed)."""
    received: str | None = None
    """The `Incident received` field, if set."""

    @property
    def note_key(self) -> str:
        """The key of the classification note."""
        return f"classified:{self.role}:{CLASS_OF[self.priority]}"


@pytest.fixture
def proxy(redmine: RedmineServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the test Redmine, always stopped afterwards."""
    with FaultProxy(redmine.url, rate=FAULT_RATE, seed=SEED,
                    stall_seconds=STALL_SECONDS) as running:
        yield running


def through_proxy(workspace: Workspace, proxy: FaultProxy) -> None:
    """Point the workspace at the proxy, with a short client timeout."""
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace("  overlap_seconds: 5\n",
                     f"  overlap_seconds: 5\n  timeout_seconds: {CLIENT_TIMEOUT}\n"),
        encoding="utf-8",
    )
    workspace.env["REDMINE_URL"] = proxy.url


def syncer_for(workspace: Workspace, url: str, monkeypatch: pytest.MonkeyPatch) -> Syncer:
    """A Syncer built from the workspace config, talking to `url`."""
    monkeypatch.setenv("REDMINE_URL", url)
    monkeypatch.setenv("REDMINE_API_KEY", workspace.env["REDMINE_API_KEY"])
    return build_syncer(load_config(workspace.config_path))


def receipt_at(config: Config, tier: str, incident_class: str, now: datetime,
               used: float) -> datetime:
    """A receipt time at which `used` of the target is spent by `now` (bisection)."""
    terms = config.tier(tier)
    target = terms.response_target(incident_class)
    assert target is not None
    low, high = now - timedelta(days=60), now
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if terms.calendar.between(middle, now) >= target * used:
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


def note_keys(notes: list[str]) -> list[str]:
    """Every marker key in the notes, note by note, repeats across notes kept."""
    return [key for note in notes for key in sorted(note_keys_in(note))]


class Issues:
    """Creates issues in the workspace and remembers what slabridge should make of each."""

    def __init__(self, admin: RedmineAdmin, workspace: Workspace) -> None:
        self.admin = admin
        self.workspace = workspace
        self.planned: list[Planned] = []

    def add(self, role: str, priority: str, status: str | None,
            received: datetime | None = None) -> int:
        """A new issue; `status` is the SLA status expected (None: must stay untouched)."""
        text = received.isoformat() if received else None
        custom = {"Incident_received": text} if text else {}
        number = self.admin.make_issue(self.workspace.projects[role],
                                       f"{role} {priority} {status}", priority=priority,
                                       **custom)
        self.planned.append(Planned(number, role, priority, status, text))
        return number

    def every_kind(self, config: Config) -> None:
        """29 issues: every class on Advanced and Premium, breached, at risk, met, others."""
        now = datetime.now(UTC)
        for role in ("acme", "globex"):
            tier = TIER_OF[role]
            for priority in ("Immediate", "Urgent", "Urgent", "High", "Normal", "Low", "Low"):
                self.add(role, priority, "no_target" if (tier, priority) == ("advanced", "Low")
                         else "running")
            for priority in ("Urgent", "High"):
                self.add(role, priority, "breached", now - timedelta(days=30))
                self.add(role, priority, "at_risk",
                         receipt_at(config, tier, CLASS_OF[priority], now, used=0.87))
                self.admin.set_status(self.add(role, priority, "met"), "In Progress")
        self.admin.set_status(self.add("acme", "Urgent", None), "Closed")
        self.add("internal", "Urgent", None)
        self.add("internal", "Low", None)

    def arrivals(self) -> None:
        """A few more issues, as if customers kept writing in."""
        for role, priority in (("acme", "Urgent"), ("globex", "High"), ("globex", "Low"),
                               ("acme", "Normal"), ("globex", "Immediate"), ("acme", "Low")):
            self.add(role, priority, "no_target" if (role, priority) == ("acme", "Low")
                     else "running")


def check_in_redmine(admin: RedmineAdmin, config: Config, planned: list[Planned]) -> list[str]:
    """What is wrong in Redmine itself: duplicate or missing notes, wrong SLA fields."""
    problems = []
    for item in planned:
        raw = admin.raw(item.number)
        notes = [j["notes"] for j in raw.get("journals", []) if j.get("notes")]
        fields = {f["name"]: str(f.get("value") or "") for f in raw["custom_fields"]}
        keys = note_keys(notes)
        if item.status is None:
            if notes or any(fields[name] for name in SLA_FIELDS):
                problems.append(f"#{item.number} must not be written: notes {keys}, {fields}")
            continue
        repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
        if repeated:
            problems.append(f"#{item.number}: note key(s) written twice: {repeated} in {keys}")
        classified = [key for key in keys if key.startswith("classified:")]
        if classified != [item.note_key]:
            problems.append(f"#{item.number}: classification notes {classified}, "
                            f"want [{item.note_key!r}]")
        incident_class = CLASS_OF[item.priority]
        received = datetime.fromisoformat(item.received or raw["created_on"])
        due = config.response_due(TIER_OF[item.role], incident_class, received)
        want = {
            "SLA class": incident_class,
            "SLA status": item.status,
            "SLA response due": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if due
            else "",
            "SLA response due date": due.date().isoformat() if due else "",
        }
        wrong = {name: (fields[name], value) for name, value in want.items()
                 if fields[name] != value}
        if wrong:
            problems.append(f"#{item.number}: fields (have, want): {wrong}")
    return problems


def test_cycles_under_faults_converge_with_every_note_once(
    workspace: Workspace, admin: RedmineAdmin, redmine: RedmineServer, proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 % faults of every kind: cycles converge; one note per key; fields as a clean run."""
    through_proxy(workspace, proxy)
    config = load_config(workspace.config_path)
    issues = Issues(admin, workspace)
    making = time.monotonic()
    issues.every_kind(config)
    made = time.monotonic() - making
    sync = syncer_for(workspace, proxy.url, monkeypatch)
    started = time.monotonic()
    history: list[str] = []
    for _ in range(MAX_CYCLES):
        try:
            report = sync.cycle(datetime.now(UTC))
        except TrackerUnavailableError as error:  # listing failed after its retries
            history.append(f"failed: {error}")
            continue
        history.append(f"{report.mode}: {report.writes} writes, {report.errors} errors, "
                       f"{report.requests} requests, {report.seconds:.1f}s")
        if report.errors == 0 and report.writes == 0:
            if set(proxy.counts) == set(Fault) or len(issues.planned) > MAX_ISSUES:
                break
            issues.arrivals()  # more traffic until every kind of fault has happened
            history.append("6 new issues")
    else:
        pytest.fail(f"seed {SEED}: no quiet cycle in {MAX_CYCLES}: {history}")
    seconds = time.monotonic() - started
    counts = proxy.summary()
    slow = sum(1 for event in proxy.events if event.fault is None
               and event.seconds > CLIENT_TIMEOUT)
    print(f"\nseed {SEED}: {len(issues.planned)} issues ({made:.1f}s to make); "
          f"{seconds:.1f}s through the proxy: {history}\ninjected: {counts}; "
          f"forwarded requests Redmine took longer than the client timeout for: {slow}")

    problems = check_in_redmine(admin, config, issues.planned)
    clean: SyncReport = syncer_for(workspace, redmine.url, monkeypatch).cycle(datetime.now(UTC))
    if clean.writes or clean.errors:
        problems.append(f"a clean full cycle without the proxy wrote {clean.writes} "
                        f"(errors {clean.errors}): {clean.as_dict()['planned']}")
    faulted = [f"{event.method} {event.path.split('?')[0]}: {event.fault}"
               for event in proxy.events if event.fault]
    assert problems == [], "\n".join([*problems, f"seed {SEED}, cycles: {history}",
                                      f"faults: {faulted}"])
    assert clean.mode == "full"
    assert {"running", "no_target", "at_risk", "breached", "met"} <= set(clean.statuses)
    assert set(proxy.counts) == set(Fault), counts
    dropped = proxy.faulted(Fault.APPLIED_THEN_RESET)
    assert all(event.method == "PUT" and event.status == 204 for event in dropped), dropped
    assert proxy.internal_errors == []


def test_a_write_applied_but_unanswered_is_not_repeated(
    workspace: Workspace, admin: RedmineAdmin, proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redmine applies a PUT but the answer is lost: the next cycles add no second note."""
    through_proxy(workspace, proxy)
    proxy.set_rate(0)
    issue = admin.make_issue(workspace.projects["globex"], "Checkout down", priority="Urgent")
    proxy.plan.script("PUT", f"/issues/{issue}.json", Fault.APPLIED_THEN_RESET)
    sync = syncer_for(workspace, proxy.url, monkeypatch)
    first = sync.cycle(datetime.now(UTC))
    later = [sync.cycle(datetime.now(UTC)) for _ in range(2)]
    assert (first.writes, first.errors) == (0, 1)
    assert [(r.writes, r.errors) for r in later] == [(0, 0), (0, 0)]
    assert note_keys(admin.notes(issue)) == ["classified:globex:critical"]
    assert admin.field(issue, "SLA class") == "critical"


def test_a_refused_first_write_is_retried_by_a_later_cycle(
    workspace: Workspace, admin: RedmineAdmin, proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 503 on an issue's first PUT: a later (incremental) cycle writes it; nothing lost."""
    through_proxy(workspace, proxy)
    proxy.set_rate(0)
    older = admin.make_issue(workspace.projects["acme"], "Payment fails", priority="Urgent")
    time.sleep(OVERLAP_SECONDS + 2)  # the issue changed before the next one by more
    newer = admin.make_issue(workspace.projects["acme"], "Search slow", priority="High")
    proxy.plan.script("PUT", f"/issues/{older}.json", Fault.HTTP_503)
    sync = syncer_for(workspace, proxy.url, monkeypatch)
    first = sync.cycle(datetime.now(UTC))
    assert (first.writes, first.errors) == (1, 1)
    later = [sync.cycle(datetime.now(UTC)) for _ in range(3)]
    assert note_keys(admin.notes(newer)) == ["classified:acme:minor"]
    assert note_keys(admin.notes(older)) == ["classified:acme:critical"], (
        f"#{older} lost: its first PUT got a 503, then {len(later)} cycles wrote "
        f"{[r.writes for r in later]} with errors {[r.errors for r in later]}; "
        f"SLA class is {admin.field(older, 'SLA class')!r}"
    )


def test_daemon_survives_faults_and_annotates_every_issue_once(
    workspace: Workspace, admin: RedmineAdmin, proxy: FaultProxy,
) -> None:
    """`slabridge run` through 20 % faults: stays up, healthy, counts cycles, one note each."""
    through_proxy(workspace, proxy)
    roles_and_priorities = [("acme", "Urgent"), ("globex", "High"), ("acme", "Low"),
                            ("globex", "Immediate"), ("acme", "Normal"), ("globex", "Low")]
    issues = {admin.make_issue(workspace.projects[role], f"before start {role}", priority):
              f"classified:{role}:{CLASS_OF[priority]}"
              for role, priority in roles_and_priorities[:3]}
    with daemon(workspace) as running:
        started = time.monotonic()
        running.wait_for("cycle_done", timeout=60)
        turn = 0
        creating = time.monotonic()
        while time.monotonic() - creating < DAEMON_FAULT_SECONDS:
            role, priority = roles_and_priorities[turn % len(roles_and_priorities)]
            issues[admin.make_issue(workspace.projects[role], f"while running {turn}",
                                    priority)] = f"classified:{role}:{CLASS_OF[priority]}"
            turn += 1
            time.sleep(5)
        assert running.process.poll() is None, "".join(running.raw[-40:])

        deadline = time.monotonic() + 60
        while missing := [number for number in issues if not admin.notes(number)]:
            if time.monotonic() > deadline:
                faults = [event for event in proxy.events if event.fault and any(
                    event.path.startswith(f"/issues/{number}.json") for number in missing)]
                pytest.fail(f"issues never annotated: {missing}; their faults: {faults}; "
                            f"log:\n" + "".join(running.raw[-60:]))
            time.sleep(1)

        deadline = time.monotonic() + 30
        while (health := running.get("/healthz"))[0] != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz stayed {health}")
            time.sleep(1)
        assert json.loads(health[1])["status"] == "ok"
        finished = len(running.events("cycle_done")) + len(running.events("cycle_failed"))
        metrics = running.metrics()
        cycles = metrics[("slabridge_cycles_total", ())]
        elapsed = time.monotonic() - started
        assert cycles >= max(finished, 3), (finished, metrics)
        running.signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert running.exit_code_within(20) == 0
        stop_seconds = time.monotonic() - stopping
        bugs = [line for line in running.lines if line.get("kind") == "bug"]
        assert bugs == []
        assert "Traceback" not in "".join(running.raw)
    counts = proxy.summary()
    print(f"\ndaemon: {elapsed:.0f}s, {cycles:.0f} cycles "
          f"({metrics[('slabridge_cycle_errors_total', ())]:.0f} failed, "
          f"{metrics[('slabridge_issue_errors_total', ())]:.0f} issue errors), "
          f"{len(issues)} issues, stopped in {stop_seconds:.1f}s; injected: {counts}")
    assert sum(counts[kind.value] for kind in Fault) > 0
    for number, key in issues.items():
        keys = note_keys(admin.notes(number))
        assert keys == [key], (number, keys)
