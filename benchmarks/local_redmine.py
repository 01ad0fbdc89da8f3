"""What the Redmine benchmarks share: starting the local Redmine, progress lines."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

LOCAL = Path(__file__).resolve().parents[1] / "deploy" / "redmine-local"
START = LOCAL / "start.sh"


def progress(message: str) -> None:
    """A progress line on stderr (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def start_redmine() -> tuple[str, str]:
    """deploy/redmine-local/start.sh (idempotent): the URL and API key it prints."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(START)], capture_output=True, text=True, check=False, timeout=1800
    )
    if result.returncode != 0:
        sys.exit(f"start.sh failed ({result.returncode}):\n{result.stderr[-2000:]}")
    values = dict(line.split("=", 1) for line in result.stdout.splitlines()
                  if line.startswith("REDMINE_"))
    url = values["REDMINE_URL"]
    if urlsplit(url).hostname != "127.0.0.1":
        sys.exit(f"refusing a Redmine that is not on loopback: {url}")
    return url, values["REDMINE_API_KEY"]
