"""`make demo` against the real local Redmine: what the README's quickstart promises."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import RedmineServer
from tests.integration.running import demo

pytestmark = pytest.mark.redmine


def test_demo_runs_twice_and_leaves_a_private_env_file(
    redmine: RedmineServer, tmp_path: Path
) -> None:
    """Terms, one sync, the board and an explanation; a second run reuses what is there;
    the env file works with the CLI and only its owner can read the key in it."""
    folder = tmp_path / "demo"
    first = demo(folder)
    assert first.returncode == 0, first.stderr
    for heading in ("== slabridge sync --once ==", "== slabridge status ==",
                    "== slabridge explain "):
        assert heading in first.stdout
    assert re.search(r"full cycle: \d+ issues listed|incremental cycle: \d+ issues listed",
                     first.stdout)
    env_file = folder / "env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert set(values) == {"REDMINE_URL", "REDMINE_API_KEY", "SLABRIDGE_CONFIG"}
    assert values["REDMINE_URL"] == redmine.url
    assert values["REDMINE_API_KEY"] not in first.stdout + first.stderr
    # slabridge runs as its own non-admin service account, not with the admin key.
    assert values["REDMINE_API_KEY"] == redmine.accounts["slabridge"]
    assert values["REDMINE_API_KEY"] != redmine.api_key

    second = demo(folder)
    assert second.returncode == 0, second.stderr
    assert "demo projects already there: reusing them" in second.stdout

    status = subprocess.run(
        [sys.executable, "-m", "slabridge", "status", "--json"], capture_output=True,
        text=True, env={**os.environ, **values}, timeout=300, check=False,
    )
    assert status.returncode == 0, status.stderr
    assert '"customer": "acme"' in status.stdout
