"""The board's server time at 10,000 open issues, next to `slabridge status` on the same store.

Run: `.venv/bin/python benchmarks/web_board.py [--issues 10000] [--repeat 5]`.

A SQLite state store is filled with demo-like open issues (slabridge/web/sample.py: the
demo's customers, classes and statuses), then, each measured `--repeat` times (median,
min and max printed):

- board, rows computed: GET / when no screen asked within ROWS_MAX_AGE_SECONDS: read
  every open record, assess each as `status` does, sort, render the first page of rows;
- board, rows shared: GET / again within that time (other screens, the 30 s refresh);
- board.json, filtered: the script's refresh with a status filter, rows shared;
- `slabridge status`, in process: the terminal board over the same store, printed to
  /dev/null (the comparison a user would pick: the same rows, all of them, as text);
- `slabridge status`, as typed: the command in a new interpreter, start-up included.

No HTTP: the app's `answer` is called directly, so socket time is not in the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.cli.main import run
from slabridge.config.loader import load_config
from slabridge.web.app import WebApp
from slabridge.web.sample import CONFIG, fill
from slabridge.web.server import wire

ROOT = Path(__file__).resolve().parents[1]


def measure(label: str, action: Callable[[], object], repeat: int) -> float:
    """Run `action` `repeat` times; print and return the median in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    print(f"  {label:<44} median {median:8.1f} ms  (min {min(times):.1f}, "
          f"max {max(times):.1f}, n={repeat})")
    return median


def main() -> None:
    """Fill a store, then time the pages and the terminal board."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("REDMINE_API_KEY", "unused: nothing calls the tracker")
    folder = Path(tempfile.mkdtemp(prefix="slabridge-web-bench-"))
    config_path = folder / "slabridge.yaml"
    example = json.dumps(str(ROOT / "config" / "slabridge.example.yaml"))
    config_path.write_text(CONFIG.format(example=example), encoding="utf-8")
    config = load_config(config_path)
    now = datetime.now(UTC)
    started = time.perf_counter()
    store = SqliteStateStore(folder / "state.sqlite3")
    fill(store, config, now, args.issues)
    store.close()
    print(f"{args.issues:,} open issues stored in {time.perf_counter() - started:.1f} s "
          f"({folder})")

    wiring = wire(config)

    app = WebApp(lambda: config, lambda _: wiring, "127.0.0.1")
    page = app.answer("/", "", None)
    assert page.status == 200, page.body[:300]
    rows = page.body.count(b'<tr class="status-')
    print(f"board page: {len(page.body) / 1024:.0f} KiB of HTML, {rows} rows shown")
    print("server time per request:")

    def computed() -> None:
        app.expire_rows()
        app.answer("/", "", None)

    cold = measure("board, rows computed (GET /)", computed, args.repeat)
    measure("board, rows shared (GET / again)", lambda: app.answer("/", "", None),
            args.repeat)
    measure("board.json?status=breached, rows shared",
            lambda: app.answer("/board.json", "status=breached", None), args.repeat)

    def status_in_process() -> None:
        with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
            run(["--config", str(config_path), "status"])

    status = measure("slabridge status, in process", status_in_process, args.repeat)
    measure("slabridge status, as typed (new process)", lambda: subprocess.run(  # noqa: S603
        [sys.executable, "-m", "slabridge", "--config", str(config_path), "status"],
        stdout=subprocess.DEVNULL, check=True), args.repeat)
    print(f"board with rows computed / status in process: {cold / status:.2f}")


if __name__ == "__main__":
    main()
