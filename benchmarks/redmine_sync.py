"""Sync cycles against the real local Redmine: requests, wall time, local time, memory.

Run: `.venv/bin/python benchmarks/redmine_sync.py [--sizes 2000 10000]` (as root, like
deploy/redmine-local: it runs start.sh to get the URL and key, and seed_bulk.sh to seed).
Loopback only (http://127.0.0.1). With 10,000 issues the first cycle writes 10,000 updates
(about 6 PUTs/s here), so the default run takes about 47 minutes.

For each N, in a fresh Redmine project (`bench-<N>-<random>`, seeded with
`deploy/redmine-local/seed_bulk.sh`: N pristine issues, tracker Bug, status New, priority
Normal, so all classify as minor/Advanced and get one update each) and in a fresh worker
process (so that its peak RSS belongs to that N alone), it measures:

1. the first, full cycle: HTTP requests by kind (setup, issue list pages, journal reads,
   PUTs; counted by wrapping the requests session and the
   adapter's PUTs, which bypass it) and time;
2. the following cycles until two in a row write nothing and make the same requests: the
   cycle right after the first, and the first fully steady one;
3. local processing per issue: cycle time minus time inside HTTP requests, per issue
   evaluated, split into decide(), state store and the rest; and decide() alone over all
   stored records;
4. peak memory: RSS high-water mark (getrusage) of the worker, and the tracemalloc peak of
   one extra full re-sync cycle (all N listed, nothing to write);
5. for the smallest N (or --naive-size): one cycle of the naive python-redmine script a
   user would write (list every issue, then GET each with its journals), against
   slabridge's steady cycle; larger N are extrapolated from its per-issue rate.

The projects are left in Redmine afterwards (their identifiers are printed).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import wraps
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar
from urllib.parse import urlsplit

import requests
from local_redmine import LOCAL, progress, start_redmine
from redminelib import Redmine

ROOT = Path(__file__).resolve().parents[1]
SEED = LOCAL / "seed_bulk.sh"
PAGE = 100  # Redmine's maximum page size
SERVER_LOG = Path("/var/log/redmine/default/production.log")  # see deploy/redmine-local

# Targets from the brief; "met" is printed next to each figure.
STEADY_MAX_REQUESTS = 2
STEADY_MAX_SECONDS = 1.0
LOCAL_MAX_US_PER_ISSUE = 100.0
PEAK_MAX_MB = 200.0

KINDS = ("setup", "list", "journal", "write", "other", "failed")
"""Request kinds: setup (users/current, projects, custom fields, statuses, trackers), list
(GET /issues.json), journal
(GET /issues/<id>.json), write (PUT /issues/<id>.json), other (anything else), failed (no
response at all, e.g. connection refused; urllib3's retries happen inside one call)."""

P = ParamSpec("P")
R = TypeVar("R")


# --- measuring instruments ---------------------------------------------------------------


def request_kind(method: str, url: str) -> str:
    """Which of KINDS a request to Redmine is, from its method and full URL."""
    parts = urlsplit(url)
    path = parts.path
    if path.endswith("/issues.json") and method == "GET":
        return "list"
    if "/issues/" in path and path.endswith(".json"):
        return {"GET": "journal", "PUT": "write"}.get(method, "other")
    if method == "GET":
        return "setup"
    return "other"


class HttpCall(NamedTuple):
    """One request: its kind and the seconds inside session.request (or the adapter's PUT).

    A named tuple: made after the clock stopped, so its making counts as local time, and
    a tuple is the cheapest record to make on an interpreter gone cold.
    """

    kind: str
    seconds: float
    cpu_seconds: float = 0.0
    """This thread's CPU time inside the request: the HTTP client libraries' work."""


class HttpMeter:
    """Times and classifies every request of one requests.Session (wraps session.request)
    and, with `writes_of`, the Redmine adapter's PUTs, which bypass the session."""

    def __init__(self, session: requests.Session, writes_of: Any = None) -> None:
        self.calls: list[HttpCall] = []
        setattr(session, "request", self._timed(  # noqa: B010 - mypy refuses assigning a method
            session.request,
            lambda response: request_kind(str(response.request.method),
                                          str(response.request.url))))
        if writes_of is not None:
            setattr(writes_of, "_send_put",  # noqa: B010
                    self._timed(writes_of._send_put, lambda _: "write"))

    def _timed(self, call: Callable[..., R], kind_of: Callable[[R], str]) -> Callable[..., R]:
        """`call`, recording each use as an HttpCall of the kind `kind_of` its answer."""

        @wraps(call)
        def timed(*args: Any, **kwargs: Any) -> R:
            started, cpu_started = time.perf_counter(), time.thread_time()
            kind = "failed"
            try:
                answer = call(*args, **kwargs)
                kind = kind_of(answer)
                return answer
            finally:
                # The CPU clock first: reading it is a system call (about 10 us after a
                # wait), the meter's own cost, so it goes in the HTTP time, not in slabridge's.
                cpu_seconds = time.thread_time() - cpu_started
                self.calls.append(HttpCall(kind, time.perf_counter() - started, cpu_seconds))

        return timed

    def mark(self) -> int:
        """A position to measure from."""
        return len(self.calls)

    def cpu_since(self, mark: int) -> float:
        """CPU seconds inside HTTP requests since `mark`."""
        return sum(call.cpu_seconds for call in self.calls[mark:])

    def since(self, mark: int) -> tuple[dict[str, int], dict[str, float]]:
        """Requests and seconds inside HTTP, by kind, since `mark`."""
        counts: Counter[str] = Counter()
        seconds = dict.fromkeys(KINDS, 0.0)
        for call in self.calls[mark:]:
            counts[call.kind] += 1
            seconds[call.kind] += call.seconds
        return {k: counts.get(k, 0) for k in KINDS}, seconds


class Stopwatch:
    """Accumulated seconds and calls per name, for functions wrapped with `wrap`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, function: Callable[P, R]) -> Callable[P, R]:
        """`function`, timed under `name`."""

        @wraps(function)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        """Copies of the totals, to subtract later."""
        return dict(self.seconds), dict(self.calls)


class ServerLog:
    """Requests Redmine logged ("Started" lines), to see whether other clients shared it.

    puma runs one thread: another client's requests delay ours. Best effort: None if the
    log cannot be read or was truncated.
    """

    def __init__(self, path: Path = SERVER_LOG) -> None:
        self.path = path

    def offset(self) -> int | None:
        """The log's current end."""
        try:
            return self.path.stat().st_size
        except OSError:
            return None

    def started_since(self, offset: int | None) -> int | None:
        """Requests the server started after `offset`."""
        if offset is None:
            return None
        try:
            with self.path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                if log.tell() < offset:
                    return None
                log.seek(offset)
                return log.read().count(b"] Started ")
        except OSError:
            return None


def foreign(server_requests: int | None, ours: int) -> int | None:
    """Requests of other clients: what the server logged minus ours."""
    return None if server_requests is None else max(server_requests - ours, 0)


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- results (plain dataclasses: they travel back from the worker process by pickle) ------


@dataclass
class CycleFigures:
    """One slabridge cycle."""

    number: int
    mode: str
    seen: int
    evaluated: int
    classified: int
    writes: int
    notes: int
    errors: int
    requests: int
    """SyncReport.requests (the adapter's own count)."""
    by_kind: dict[str, int]
    seconds: float
    http_by_kind: dict[str, float]
    decide_seconds: float
    decide_calls: int
    store_seconds: dict[str, float]
    store_calls: dict[str, int]
    peak_rss_mb: float
    foreign_requests: int | None
    """Requests of other clients that the server handled during the cycle."""
    cpu_seconds: float = 0.0
    """CPU time of this process during the cycle: slabridge and its HTTP client libraries
    (requests, urllib3, python-redmine), without the waits for the server."""
    http_cpu_seconds: float = 0.0
    """The part of cpu_seconds spent inside HTTP requests (requests, urllib3)."""

    @property
    def own_cpu_us_per_issue(self) -> float:
        """CPU microseconds outside HTTP requests per issue evaluated: slabridge's work,
        like local_us_per_issue but without the time the process did not run."""
        return 1e6 * max(self.cpu_seconds - self.http_cpu_seconds, 0.0) / max(self.evaluated, 1)

    @property
    def cpu_us_per_issue(self) -> float:
        """CPU microseconds per issue seen."""
        return 1e6 * self.cpu_seconds / max(self.seen, 1)

    @property
    def http_seconds(self) -> float:
        """Time inside HTTP requests."""
        return sum(self.http_by_kind.values())

    @property
    def local_seconds(self) -> float:
        """Time not spent inside HTTP requests."""
        return max(self.seconds - self.http_seconds, 0.0)

    @property
    def local_us_per_issue(self) -> float:
        """Local time per issue evaluated, in microseconds."""
        return 1e6 * self.local_seconds / max(self.evaluated, 1)

    @property
    def non_setup_requests(self) -> int:
        """Requests other than the one-time reference data."""
        return sum(v for k, v in self.by_kind.items() if k != "setup")

    @property
    def reads(self) -> int:
        """Issue list pages (both kinds) and journal reads."""
        return self.by_kind["list"] + self.by_kind["journal"]


@dataclass
class NaiveFigures:
    """One cycle of the naive python-redmine script."""

    issues: int
    journals_seen: int
    requests: int
    by_kind: dict[str, int]
    seconds: float
    http_seconds: float
    foreign_requests: int | None


@dataclass
class Window:
    """What an incremental cycle re-lists: issues updated since watermark - overlap."""

    watermark: str
    overlap_seconds: float
    issues_in_window: int


@dataclass
class SizeResult:
    """Everything measured for one N."""

    size: int
    project: str
    seed_seconds: float
    cycles: list[CycleFigures]
    steady: int | None
    """Number of the first fully steady cycle, if one was reached."""
    decide_us_per_issue: float
    decide_records: int
    decide_idle_us: float
    """decide() right after a 100 ms sleep, median (the CPU goes cold between requests)."""
    encode_us_per_record: float
    """state_sqlite.record_to_json alone (what every store.put does first)."""
    decode_us_per_record: float
    """state_sqlite.record_from_json alone (what open_records does per row)."""
    window: Window | None
    full_resync: CycleFigures | None
    tracemalloc_peak_mb: float
    baseline_rss_mb: float
    peak_rss_mb: float
    naive: NaiveFigures | None = None
    problems: list[str] = field(default_factory=list)

    def cycle(self, number: int) -> CycleFigures | None:
        """Cycle `number` (1-based), if it ran."""
        return self.cycles[number - 1] if 0 < number <= len(self.cycles) else None


# --- Redmine -------------------------------------------------------------------------------


def seed(size: int, attempts: int = 3) -> tuple[str, float]:
    """A new project `bench-<size>-<random>` with `size` bulk-inserted issues: its identifier
    and the wall seconds the successful seeding took.

    Another client writing to Redmine's SQLite can make seed_bulk.sh fail with "database is
    locked"; then a new project is tried after a pause (a failed one may stay, empty).
    """
    for attempt in range(1, attempts + 1):
        project = f"bench-{size}-{secrets.token_hex(4)}"
        progress(f"N={size}: seeding project {project}")
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603 - our own script, generated identifier
            [str(SEED), project, str(size)], capture_output=True, text=True, check=False,
            timeout=1800,
        )
        if result.returncode == 0 and f"CREATED={size}" in result.stdout:
            return project, time.perf_counter() - started
        first_line = (result.stderr.strip().splitlines() or ["(no stderr)"])[0]
        progress(f"N={size}: seed_bulk.sh failed (attempt {attempt}): {first_line[:300]}")
        if attempt < attempts:
            time.sleep(15)
    raise RuntimeError(f"seed_bulk.sh failed {attempts} times for N={size}: "
                       f"{result.stdout[-500:]}\n{result.stderr[:1500]}")


CONFIG = """\
include: [contract-terms]
customers:
  bench: {{name: Bench customer, contracts: [{{tier: advanced, from: 2020-01-01}}]}}
classification:
  customers:
    - {{match: {{project: {project}}}, customer: bench}}
tracker:
  kind: redmine
  url: ${{REDMINE_URL}}
  api_key: ${{REDMINE_API_KEY}}
  projects: [{project}]
state:
  path: state.sqlite3
"""


# --- the worker: one N -------------------------------------------------------------------


def measure_size(size: int, url: str, key: str, max_cycles: int, naive: bool,
                 pause: float) -> SizeResult:
    """Seed a fresh project with `size` issues and measure slabridge (and the naive script)."""
    # Imported here: the worker is a fresh interpreter, and its RSS should include them.
    from slabridge.app import sync as service
    from slabridge.bootstrap import build_syncer, settle_long_lived_objects
    from slabridge.config.loader import load_config
    from slabridge.domain.plan import decide
    from slabridge.logs import configure

    configure(json_output=True, level="WARNING")  # no line per write; warnings still show
    os.environ["REDMINE_URL"], os.environ["REDMINE_API_KEY"] = url, key
    project, seed_seconds = seed(size)
    progress(f"N={size}: seeded in {seed_seconds:.1f} s")

    with tempfile.TemporaryDirectory(prefix="slabridge-bench-") as tmp:
        config_path = Path(tmp) / "slabridge.yaml"
        config_path.write_text(CONFIG.format(project=project), encoding="utf-8")
        syncer = build_syncer(load_config(config_path))
        settle_long_lived_objects()  # as `slabridge sync` and the daemon do before a cycle
        tracker: Any = syncer.tracker  # the concrete RedmineTracker: its session is measured
        meter = HttpMeter(tracker.transport.session, writes_of=tracker.transport)
        watch = Stopwatch()
        # Timed where Syncer._plan looks it up (the module global), not changed in slabridge/.
        setattr(service, "decide", watch.wrap("decide", decide))  # noqa: B010
        store: Any = syncer.store
        for method in ("open_records", "get", "get_many", "put", "put_many", "watermark",
                       "set_watermark"):
            setattr(store, method, watch.wrap(f"store.{method}", getattr(store, method)))
        baseline = peak_rss_mb()
        problems: list[str] = []
        server = ServerLog()

        def run_cycle(number: int, *, full: bool = False) -> CycleFigures:
            mark, (seconds_before, calls_before) = meter.mark(), watch.snapshot()
            made_before = tracker.requests_made
            log_offset = server.offset()
            started, cpu_started = time.perf_counter(), time.process_time()
            report = syncer.cycle(datetime.now(UTC), full=full)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            problems.extend(f"cycle {number}: {p}" for p in report.problems[:5])
            by_kind, http_by_kind = meter.since(mark)
            http = sum(http_by_kind.values())
            seconds = {k: v - seconds_before.get(k, 0.0) for k, v in watch.seconds.items()}
            calls = {k: v - calls_before.get(k, 0) for k, v in watch.calls.items()}
            answered = sum(by_kind.values()) - by_kind["failed"]
            if answered != tracker.requests_made - made_before:
                problems.append(f"cycle {number}: {answered} answered requests measured, the "
                                f"adapter counted {tracker.requests_made - made_before}")
            figures = CycleFigures(
                number, report.mode, report.seen, report.evaluated, report.classified,
                report.writes, report.notes, report.errors, report.requests, by_kind, elapsed,
                http_by_kind, seconds.get("decide", 0.0), calls.get("decide", 0),
                {k.removeprefix("store."): v for k, v in seconds.items()
                 if k.startswith("store.")},
                {k.removeprefix("store."): v for k, v in calls.items() if k.startswith("store.")},
                peak_rss_mb(), foreign(server.started_since(log_offset), report.requests), cpu,
                meter.cpu_since(mark),
            )
            progress(f"N={size}: cycle {number} ({report.mode}): seen {report.seen}, "
                     f"writes {report.writes}, requests {report.requests} {by_kind}, "
                     f"{elapsed:.2f} s (HTTP {http:.2f} s), errors {report.errors}, "
                     f"other clients' requests {figures.foreign_requests}")
            return figures

        progress(f"N={size}: first cycle (one PUT per issue: minutes for large N)")
        cycles = [run_cycle(1)]
        steady: int | None = None
        while len(cycles) < max_cycles:
            if len(cycles) == 2 and pause:
                # As the daemon does between cycles (every 60 s): once the overlap window
                # has passed, an incremental listing holds only what changed since.
                progress(f"N={size}: pausing {pause:.0f} s (overlap "
                         f"{syncer.overlap.total_seconds():.0f} s) before the steady cycles")
                time.sleep(pause)
            cycles.append(run_cycle(len(cycles) + 1))
            previous, last = cycles[-2], cycles[-1]
            # Fully steady: the next cycle does exactly the same (requests, issues, local work).
            if (previous.number >= 2 and previous.writes == last.writes == 0
                    and previous.by_kind == last.by_kind and previous.seen == last.seen
                    and previous.decide_calls == last.decide_calls
                    and previous.store_calls == last.store_calls):
                steady = previous.number
                break

        # decide() alone over every stored record, best of three.
        records = syncer.store.open_records(syncer.tracker.name)
        rules = replace(syncer.rules, ignored_authors=syncer.tracker.own_authors())
        now = datetime.now(UTC)
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            for record in records:
                decide(record.ticket, record.journal, record, rules, now)
            best = min(best, time.perf_counter() - started)
        decide_records = len(records)
        decide_us = 1e6 * best / max(decide_records, 1)
        encode_us, decode_us = codec_us(records)
        idle: list[float] = []
        for record in records[:30]:
            time.sleep(0.1)
            started = time.perf_counter()
            decide(record.ticket, record.journal, record, rules, now)
            idle.append(time.perf_counter() - started)
        decide_idle_us = 1e6 * sorted(idle)[len(idle) // 2] if idle else 0.0
        window = overlap_window(syncer.store, syncer.tracker.name, syncer.overlap, records)
        del records

        # One extra full re-sync (lists all N, nothing to write) under tracemalloc.
        tracemalloc.start()
        full = run_cycle(len(cycles) + 1, full=True)
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

        result = SizeResult(
            size, project, seed_seconds, cycles, steady, decide_us, decide_records,
            decide_idle_us, encode_us,
            decode_us, window, full, traced_peak, baseline, peak_rss_mb(), problems=problems,
        )
        if hasattr(store, "close"):
            store.close()
    if naive:
        result.naive = naive_cycle(url, key, project)
    return result


def codec_us(records: Sequence[Any]) -> tuple[float, float]:
    """Microseconds per record to encode (record_to_json) and decode (record_from_json)."""
    from slabridge.adapters.state.sqlite import record_from_json, record_to_json

    encode = decode = math.inf
    texts: list[str] = []
    for _ in range(3):
        started = time.perf_counter()
        texts = [record_to_json(r) for r in records]
        encode = min(encode, time.perf_counter() - started)
        started = time.perf_counter()
        for text in texts:
            record_from_json(text)
        decode = min(decode, time.perf_counter() - started)
    count = max(len(records), 1)
    return 1e6 * encode / count, 1e6 * decode / count


def overlap_window(store: Any, tracker: str, overlap: timedelta,
                   records: Sequence[Any]) -> Window | None:
    """How many stored issues an incremental cycle lists again: updated >= watermark - overlap."""
    watermark: datetime | None = store.watermark(tracker)
    if watermark is None:
        return None
    since = watermark - overlap
    inside = sum(1 for r in records if r.ticket.updated >= since)
    return Window(watermark.isoformat(), overlap.total_seconds(), inside)


def naive_cycle(url: str, key: str, project: str) -> NaiveFigures:
    """What a user would script with python-redmine: list all issues, GET each with journals."""
    progress(f"naive script on {project}: listing, then one GET per issue")
    redmine = Redmine(url, key=key)
    meter = HttpMeter(redmine.engine.session)
    server = ServerLog()
    log_offset = server.offset()
    started = time.perf_counter()
    issues = list(redmine.issue.filter(project_id=project, status_id="*"))
    journals = 0
    for issue in issues:
        detailed = redmine.issue.get(issue.id, include=["journals"])
        journals += len(list(detailed.journals))
    elapsed = time.perf_counter() - started
    by_kind, http_by_kind = meter.since(0)
    http = sum(http_by_kind.values())
    progress(f"naive script: {len(issues)} issues, {sum(by_kind.values())} requests, "
             f"{elapsed:.1f} s")
    requests_made = sum(by_kind.values())
    return NaiveFigures(len(issues), journals, requests_made, by_kind, elapsed, http,
                        foreign(server.started_since(log_offset), requests_made))


# --- printing ------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; the first column left-aligned, the others right."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append(indent + line.rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    """How a target check reads."""
    return "met" if ok else "NOT met"


def cycle_rows(result: SizeResult) -> list[list[object]]:
    """One table row per cycle, with the extra full re-sync last."""
    rows: list[list[object]] = []
    extra = [result.full_resync] if result.full_resync else []
    for c in [*result.cycles, *extra]:
        label = str(c.number)
        if c.number == result.steady:
            label += " steady"
        if c is result.full_resync:
            label += " full*"
        k = c.by_kind
        rows.append([
            label, c.mode, c.seen, c.evaluated, c.writes, c.requests, k["setup"], k["list"],
            k["journal"], k["write"], k["failed"], c.errors, f"{c.seconds:.2f}",
            f"{c.http_seconds:.2f}", f"{c.local_seconds:.2f}",
            f"{c.local_us_per_issue:.0f}" if c.evaluated else "-",
            f"{c.cpu_us_per_issue:.0f}", f"{c.peak_rss_mb:.0f}",
            "?" if c.foreign_requests is None else c.foreign_requests,
        ])
    return rows


def breakdown(c: CycleFigures) -> str:
    """Where a cycle's local time went, per issue evaluated (in total if none was)."""
    per = c.evaluated or 1
    store = sum(c.store_seconds.values())
    other = c.local_seconds - c.decide_seconds - store
    parts = [f"decide {1e6 * c.decide_seconds / per:.0f} ({c.decide_calls} calls)"]
    for name in ("open_records", "get", "get_many", "put", "put_many"):
        if c.store_calls.get(name):
            parts.append(f"store.{name} {1e6 * c.store_seconds[name] / per:.0f} "
                         f"({c.store_calls[name]} calls)")
    parts.append(f"other {1e6 * other / per:.0f}")
    http = [f"{kind} {1e3 * c.http_by_kind[kind] / c.by_kind[kind]:.0f}"
            for kind in KINDS if c.by_kind[kind]]
    if not c.evaluated:
        parts.insert(0, "no issue evaluated, so totals in us:")
    return "; ".join(parts) + "\n      HTTP ms per request: " + ", ".join(http)


HEADER = ["cycle", "mode", "seen", "eval", "writes", "req", "setup", "list", "journal",
          "write", "fail", "err", "wall", "http", "local", "us/issue", "cpu us/seen",
          "rss MB", "others"]


def print_preamble(url: str) -> None:
    """What the figures mean."""
    print(f"slabridge Redmine sync benchmark: {url}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print("Seeded issues: pristine (created_on = updated_on), tracker Bug, status New, priority "
          "Normal -> minor, Advanced tier (3d response); each N in its own fresh project and "
          "worker process.")
    print("Request kinds: setup = reference data read once; list = GET /issues.json pages; "
          "journal = GET /issues/<id>.json; "
          "write = PUT /issues/<id>.json.")
    print("Times in seconds; local = cycle time minus time inside HTTP requests; "
          "us/issue = local microseconds per issue evaluated; fail = requests without any "
          "response; err = issues that failed; "
          "others = requests of other clients that the (single-threaded) server handled "
          "meanwhile, from its production.log.", flush=True)


def print_size(r: SizeResult) -> None:
    """One N's cycles and local-time breakdown (printed as soon as that N is done)."""
    print()
    print(f"N={r.size}: project {r.project}, seeded in {r.seed_seconds:.1f} s")
    print(table(HEADER, cycle_rows(r)))
    print("  * extra full re-sync (full=True, open issues) under tracemalloc: its times "
          "are inflated by tracing")
    print("  local time per issue evaluated, in us (decide and store calls are timed "
          "wrappers; other = the rest of local time):")
    for c in [*r.cycles, *([r.full_resync] if r.full_resync else [])]:
        print(f"    cycle {c.number}: {breakdown(c)}")
    print(f"    decide() after 100 ms idle, as between two PUTs: {r.decide_idle_us:.0f} us "
          f"per call (in a tight loop: {r.decide_us_per_issue:.0f})")
    if r.steady is None:
        print("  no fully steady cycle reached within --max-cycles")
    if r.window:
        w = r.window
        print(f"  incremental cycles list issues updated since watermark - overlap = "
              f"{w.watermark} - {w.overlap_seconds:.0f} s: {w.issues_in_window} of the "
              f"{r.decide_records} stored issues are in that window")
    print(f"  state records: record_to_json {r.encode_us_per_record:.0f} us, "
          f"record_from_json {r.decode_us_per_record:.0f} us per record")
    for problem in r.problems:
        print(f"  problem: {problem}")
    sys.stdout.flush()


def print_summary(results: Sequence[SizeResult], started: float) -> None:
    """Targets, the naive comparison and the notes, once every N is done."""
    print()
    print("Targets")
    rows: list[list[object]] = []
    for r in results:
        n = r.size
        first = r.cycle(1)
        second = r.cycle(2)
        steady = r.cycle(r.steady) if r.steady else None
        pages = math.ceil(n / PAGE)
        if first:
            rows.append([f"N={n} cycle 1: list/journal reads", first.reads,
                         f"<= ceil(N/100) = {pages}", verdict(first.reads <= pages)])
            rows.append([f"N={n} cycle 1: requests without setup", first.non_setup_requests,
                         f"<= {pages} + {first.writes} writes",
                         verdict(first.non_setup_requests <= pages + first.writes)])
            rows.append([f"N={n} cycle 1: local us/issue", f"{first.local_us_per_issue:.0f}",
                         f"< {LOCAL_MAX_US_PER_ISSUE:.0f}",
                         verdict(first.local_us_per_issue < LOCAL_MAX_US_PER_ISSUE)])
            rows.append([f"N={n} cycle 1: CPU us/issue outside HTTP requests",
                         f"{first.own_cpu_us_per_issue:.0f}", "-", "-"])
            rows.append([f"N={n} cycle 1: CPU us/issue (incl. HTTP client)",
                         f"{first.cpu_us_per_issue:.0f}", "-", "-"])
        if second:
            rows.append([f"N={n} cycle 2 (right after): requests", second.requests,
                         f"(steady: <= {STEADY_MAX_REQUESTS})", "-"])
            rows.append([f"N={n} cycle 2 (right after): wall s", f"{second.seconds:.2f}",
                         f"(steady: < {STEADY_MAX_SECONDS:.0f})", "-"])
            if second.evaluated:
                rows.append([f"N={n} cycle 2 (right after): local us/issue",
                             f"{second.local_us_per_issue:.0f}",
                             f"< {LOCAL_MAX_US_PER_ISSUE:.0f}",
                             verdict(second.local_us_per_issue < LOCAL_MAX_US_PER_ISSUE)])
        if steady:
            label = f"N={n} steady (cycle {steady.number})"
            rows.append([f"{label}: requests", steady.requests, f"<= {STEADY_MAX_REQUESTS}",
                         verdict(steady.requests <= STEADY_MAX_REQUESTS)])
            rows.append([f"{label}: wall s", f"{steady.seconds:.2f}",
                         f"< {STEADY_MAX_SECONDS:.0f}",
                         verdict(steady.seconds < STEADY_MAX_SECONDS)])
            if steady.evaluated:
                rows.append([f"{label}: local us/issue", f"{steady.local_us_per_issue:.0f}",
                             f"< {LOCAL_MAX_US_PER_ISSUE:.0f}",
                             verdict(steady.local_us_per_issue < LOCAL_MAX_US_PER_ISSUE)])
            else:
                rows.append([f"{label}: local ms (no issue evaluated)",
                             f"{1e3 * steady.local_seconds:.1f}", "-", "-"])
        else:
            rows.append([f"N={n} steady state", "not reached", f"<= {STEADY_MAX_REQUESTS} req",
                         "NOT met"])
        rows.append([f"N={n} decide() alone, us/issue ({r.decide_records} records)",
                     f"{r.decide_us_per_issue:.1f}", f"< {LOCAL_MAX_US_PER_ISSUE:.0f}",
                     verdict(r.decide_us_per_issue < LOCAL_MAX_US_PER_ISSUE)])
        # ru_maxrss is a high-water mark: after the last sync cycle it is the peak of all
        # of them; the instrumented extras after them (decide() over all records loaded at
        # once, the re-sync under tracemalloc, which keeps a trace per allocation) are not
        # what a slabridge process does.
        sync_peak = max(c.peak_rss_mb for c in r.cycles)
        rows.append([f"N={n} peak RSS MB over the sync cycles (worker; "
                     f"{r.baseline_rss_mb:.0f} after imports)",
                     f"{sync_peak:.0f}", f"< {PEAK_MAX_MB:.0f}",
                     verdict(sync_peak < PEAK_MAX_MB)])
        rows.append([f"N={n} peak RSS MB incl. the instrumented extras",
                     f"{r.peak_rss_mb:.0f}", "-", "-"])
        rows.append([f"N={n} tracemalloc peak MB (full re-sync)",
                     f"{r.tracemalloc_peak_mb:.0f}", f"< {PEAK_MAX_MB:.0f}",
                     verdict(r.tracemalloc_peak_mb < PEAK_MAX_MB)])
    print(table(["check", "measured", "target", "result"], rows))

    naive = next((r for r in results if r.naive), None)
    if naive and naive.naive:
        v = naive.naive
        print()
        print(f"Naive python-redmine script (every cycle: issue.filter(project_id, status_id='*'),"
              f" then issue.get(id, include=['journals']) for each) vs slabridge, "
              f"N={naive.size}")
        per_issue = v.seconds / max(v.issues, 1)
        rows = [["naive script, one cycle", v.requests, v.by_kind["list"],
                 v.by_kind["journal"], f"{v.seconds:.1f}", f"{v.http_seconds:.1f}",
                 "?" if v.foreign_requests is None else v.foreign_requests]]
        for label, number in (("slabridge cycle 2 (right after the first)", 2),
                              ("slabridge steady cycle", naive.steady or 0)):
            figures = naive.cycle(number)
            if figures:
                rows.append([f"{label} ({figures.number})", figures.requests,
                             figures.by_kind["list"],
                             figures.by_kind["journal"], f"{figures.seconds:.2f}",
                             f"{figures.http_seconds:.2f}",
                             "?" if figures.foreign_requests is None
                             else figures.foreign_requests])
        print(table(["", "requests", "list pages", "issue GETs", "wall s", "http s", "others"],
                    rows))
        print(f"  naive: {1e3 * per_issue:.1f} ms per issue; {v.journals_seen} journal entries "
              "read")
        ours = naive.cycle(naive.steady) if naive.steady else None
        if ours:
            print(f"  slabridge steady vs naive: {v.requests / max(ours.requests, 1):.0f}x "
                  f"fewer requests, {v.seconds / max(ours.seconds, 1e-9):.0f}x less wall time")
        for r in results:
            if r.size != naive.size:
                estimate = per_issue * r.size
                steady_n = r.cycle(r.steady) if r.steady else None
                versus = (f" (slabridge steady: {steady_n.requests} requests, "
                          f"{steady_n.seconds:.2f} s)" if steady_n else "")
                print(f"  N={r.size}, EXTRAPOLATED (not measured) from the N={naive.size} run: "
                      f"naive ~{math.ceil(r.size / PAGE) + r.size} requests, "
                      f"~{estimate:.0f} s per cycle{versus}")
    shared = [f"N={r.size} cycle {c.number}: {c.foreign_requests}" for r in results
              for c in [*r.cycles, *([r.full_resync] if r.full_resync else [])]
              if c.foreign_requests]
    if shared:
        print()
        print("NOTE: other clients used the same single-threaded Redmine during these cycles "
              "(their requests delay ours, so HTTP and wall times are upper bounds): "
              + ", ".join(shared))
    print()
    print(f"Total benchmark wall time: {time.perf_counter() - started:.0f} s "
          "(seeding, all cycles, naive script)")


def main() -> None:
    """Measure each size in its own worker process, then print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000],
                        help="issue counts, each in its own fresh project (default 2000 10000)")
    parser.add_argument("--max-cycles", type=int, default=6,
                        help="stop after this many cycles if none is steady (default 6)")
    parser.add_argument("--pause", type=float, default=35.0,
                        help="seconds to wait after cycle 2, past the 30 s overlap, as the "
                             "daemon's 60 s interval does (default 35; 0: cycles back to back)")
    parser.add_argument("--naive-size", type=int, default=None,
                        help="N on which to run the naive script (default: the smallest; "
                             "0: skip it)")
    args = parser.parse_args()
    if any(n < 1 for n in args.sizes) or args.max_cycles < 3:
        parser.error("sizes must be positive and --max-cycles at least 3")
    naive_size = min(args.sizes) if args.naive_size is None else args.naive_size

    started = time.perf_counter()
    url, key = start_redmine()
    progress(f"Redmine at {url}")
    print_preamble(url)
    results = []
    for size in args.sizes:
        # A fresh interpreter per N: its peak RSS is that N's alone.
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            try:
                results.append(pool.submit(measure_size, size, url, key, args.max_cycles,
                                           size == naive_size, args.pause).result())
                print_size(results[-1])
            except Exception as error:  # report the other sizes anyway
                print(f"N={size}: FAILED: {type(error).__name__}: {error}", flush=True)
    print_summary(results, started)


if __name__ == "__main__":
    main()
