"""A first sync cycle with the tracker faked: slabridge's own work per issue, no HTTP at all.

Run: `.venv/bin/python benchmarks/first_cycle_local.py [--sizes 2000 10000] [--repeat 5]`,
or with `--idle-ms 150 --sizes 300` to let each write wait as long as a PUT to the local
Redmine does (asleep, no server, no HTTP): the same work per issue, on an interpreter that
idled between issues.

Each issue is parsed from the JSON Redmine sends for a pristine issue, 100 to a page as
Redmine lists them (parsed with orjson as the adapter does, then the adapter's own
`ticket_from`), then classified, evaluated, given its fields and note, its write prepared
by the adapter (ids, encoded body), and stored, as in `benchmarks/redmine_sync.py`'s first
cycle; sending the writes does nothing. What is
left is what slabridge itself costs per issue, warm, next to the Redmine benchmark's
"local" time, which also holds the interpreter's cold start after every slow PUT. With
`--idle-ms`, local time is the cycle's wall time minus the time measured asleep, and the
CPU time of the cycle is shown too.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.app.sync import Syncer
from slabridge.bootstrap import settle_long_lived_objects
from slabridge.config.loader import load_config
from slabridge.domain.model import Journal, Ticket
from slabridge.domain.plan import TicketUpdate
from slabridge.logs import configure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find tests/
from tests.fakes import FakeTracker

CONFIG = """\
include: [contract-terms]
customers:
  bench: {name: Bench customer, contracts: [{tier: advanced, from: 2020-01-01}]}
classification:
  customers:
    - {match: {project: bench}, customer: bench}
"""
FIELDS = {"response_due": "SLA response due", "response_due_date": "SLA response due date",
          "sla_class": "SLA class", "sla_status": "SLA status",
          "sla_handling": "SLA handling"}
CUSTOM = ["SLA response due", "SLA response due date", "SLA class", "SLA status", "Customer",
          "Incident received", "SLA handling"]
NOW = datetime(2026, 11, 23, 16, tzinfo=UTC)


def redmine_json(number: int) -> dict[str, Any]:
    """A pristine seeded issue as GET /issues.json lists it."""
    made = (NOW - timedelta(minutes=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": number, "project": {"id": 1, "name": "bench"},
        "tracker": {"id": 1, "name": "Bug"},
        "status": {"id": 1, "name": "New", "is_closed": False},
        "priority": {"id": 2, "name": "Normal"}, "author": {"id": 1, "name": "Redmine Admin"},
        "subject": f"Benchmark issue {number}", "description": "seeded",
        "start_date": "2026-11-23", "due_date": None, "done_ratio": 0, "is_private": False,
        "estimated_hours": None,
        "custom_fields": [{"id": i, "name": n, "value": ""} for i, n in enumerate(CUSTOM, 1)],
        "created_on": made, "updated_on": made, "closed_on": None,
    }


class FakeRedmine(FakeTracker):
    """Lists `size` pristine issues through the real adapter's parsing; writes nothing.

    The rest of the Tracker port is the unit tests' fake (tests/fakes.py).
    """

    def __init__(self, size: int, idle_seconds: float = 0.0) -> None:
        super().__init__()
        self.size = size
        self.idle_seconds = idle_seconds
        self.asleep = 0.0
        # Redmine's response bodies, rendered before the clock starts: the adapter gets
        # bytes and parses each page with orjson (RedmineTransport.get_json; timed below).
        self.pages = [
            json.dumps({"issues": [redmine_json(n) for n in range(first, min(first + 100,
                                                                          size + 1))],
                        "total_count": size, "offset": first - 1, "limit": 100}).encode()
            for first in range(1, size + 1, 100)
        ]
        self.adapter = RedmineTracker("https://redmine.invalid", "k" * 40, ("bench",), FIELDS)
        # What prepare() would have read from Redmine.
        self.adapter.catalog.project_names = {1: "bench"}
        self.adapter.catalog._default_status = {"Bug": "New"}
        self.adapter.catalog.field_ids = {name: number for number, name in enumerate(CUSTOM, 1)}
        self.name = self.adapter.name
        self.writes = 0

    def list_issues(self, updated_since: datetime | None, open_only: bool) -> Iterator[Ticket]:
        for page in self.pages:
            for raw in orjson.loads(page)["issues"]:
                yield self.adapter.translator.ticket_from(raw)

    def journal(self, key: str) -> Journal:
        raise AssertionError("pristine issues need no journal")

    def prepare_update(self, update: TicketUpdate) -> Callable[[], None]:
        """The adapter's own preparation (ids, encoded body); the write itself is faked."""
        self.adapter.prepare_update(update)
        return partial(self.send, update)

    def send(self, update: TicketUpdate) -> None:
        """The faked write: counted, and asleep for --idle-ms."""
        self.writes += 1
        if self.idle_seconds:
            started = time.perf_counter()
            time.sleep(self.idle_seconds)  # as long as Redmine takes to answer a PUT
            self.asleep += time.perf_counter() - started


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--repeat", type=int, default=5,
                        help="first cycles per size, each with a fresh state store (default 5)")
    parser.add_argument("--idle-ms", type=float, default=0.0,
                        help="let each write sleep this long, as a PUT waits for Redmine "
                             "(default 0; 150 is the local Redmine's PUT, then use small sizes)")
    args = parser.parse_args()
    if args.repeat < 1 or any(size < 1 for size in args.sizes) or args.idle_ms < 0:
        parser.error("sizes and --repeat must be positive, --idle-ms not negative")
    configure(json_output=True, level="WARNING")  # as the Redmine benchmark: no line per write
    with tempfile.TemporaryDirectory(prefix="slabridge-first-") as tmp:
        config_path = Path(tmp) / "slabridge.yaml"
        config_path.write_text(CONFIG, encoding="utf-8")
        config = load_config(config_path)
        print("First cycle with the tracker faked (no HTTP): listing parsed by the Redmine "
              "adapter, decide, note, state store; warm")
        print(f"Each N {args.repeat} times, a fresh state store each time: this machine's speed "
              "drifts by up to 1.7x from one second to the next (a fixed loop measured "
              "57-96 us), so best and median are both shown.")
        if args.idle_ms:
            print(f"Each write sleeps {args.idle_ms:g} ms; local = wall time minus the time "
                  "asleep; CPU = this thread's CPU time over the cycle.")
        for size in args.sizes:
            per_issue: list[float] = []
            cpu_per_issue: list[float] = []
            writes = 0
            for run in range(args.repeat):
                tracker = FakeRedmine(size, args.idle_ms / 1000)
                store = SqliteStateStore(Path(tmp) / f"state-{size}-{run}.sqlite3")
                syncer = Syncer(tracker, store, config.rules(), timedelta(seconds=30))
                settle_long_lived_objects()  # as `slabridge sync` and the daemon do
                started, cpu_started = time.perf_counter(), time.thread_time()
                report = syncer.cycle(NOW)
                cpu_per_issue.append(1e6 * (time.thread_time() - cpu_started) / size)
                per_issue.append(1e6 * (time.perf_counter() - started - tracker.asleep) / size)
                store.close()
                writes = report.writes
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  N={size}: {writes} writes planned and recorded per cycle: "
                  f"best {min(per_issue):.0f}, median {statistics.median(per_issue):.0f}, "
                  f"worst {max(per_issue):.0f} us per issue; "
                  f"peak RSS of the process so far (all runs) {rss:.0f} MB")
            if args.idle_ms:
                print(f"    CPU: best {min(cpu_per_issue):.0f}, "
                      f"median {statistics.median(cpu_per_issue):.0f}, "
                      f"worst {max(cpu_per_issue):.0f} us per issue")


if __name__ == "__main__":
    main()
