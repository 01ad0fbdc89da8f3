"""A real Redmine for integration tests, started by the project's own script.

The session fixture runs deploy/redmine-local/start.sh (which installs Debian's Redmine on a
fresh machine). If that fails, every test here fails loudly; nothing is skipped. A server
this session started is stopped at the end, by the PID start.sh printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.redmine_helpers import (
    ACME_CUSTOMER,
    GLOBEX_CUSTOMER,
    SERVICE,
    STAFF,
    RedmineAdmin,
    agency_customers,
)

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "deploy" / "redmine-local" / "start.sh"
PORT = os.environ.get("REDMINE_PORT", "3000")


@dataclass(frozen=True)
class RedmineServer:
    """Where the test Redmine listens and how to reach it."""

    url: str
    api_key: str
    """the admin's key: only for setting things up"""
    pid: int
    accounts: dict[str, str]
    """login -> API key of the agency's accounts (deploy/redmine-local/setup.rb)"""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/login", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


PIDFILE = Path("/var/cache/redmine/default/tmp/puma.pid")


def _puma_alive() -> bool:
    # The pid file, not an HTTP probe: a busy server can be slow to answer, and a server
    # this session did not start must never be stopped by it.
    try:
        os.kill(int(PIDFILE.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="session")
def redmine() -> Iterator[RedmineServer]:
    """The local Redmine, started (and installed if need be) by deploy/redmine-local/start.sh."""
    url = f"http://127.0.0.1:{PORT}"
    was_running = _puma_alive() or _answers(url)
    result = subprocess.run(
        ["bash", str(START)], capture_output=True, text=True, timeout=1800,
        env={**os.environ, "REDMINE_PORT": PORT}, check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"deploy/redmine-local/start.sh failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    values = dict(
        line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("REDMINE_")
    )
    server = RedmineServer(values["REDMINE_URL"], values["REDMINE_API_KEY"],
                           int(values["REDMINE_PID"]), json.loads(values["REDMINE_ACCOUNTS"]))
    yield server
    if not was_running:
        os.kill(server.pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(server.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)


@pytest.fixture(scope="session")
def admin(redmine: RedmineServer) -> RedmineAdmin:
    """Arranges test data with the admin key and acts as the agency's people."""
    return RedmineAdmin(redmine.url, redmine.api_key, redmine.accounts)


@dataclass
class Workspace:
    """Fresh projects, a config file and a state file for one test.

    slabridge runs as its service account (`env["REDMINE_API_KEY"]` is its key); Acme's
    projects are reported in by carla.acme, Globex's by gus.globex.
    """

    config_path: Path
    env: dict[str, str]
    projects: dict[str, str]
    """role (acme, globex, internal) -> project identifier"""


def config_text(projects: Mapping[str, str]) -> str:
    """The workspace's configuration: the agency's customers on their projects, Redmine."""
    return "include: [contract-terms]\n" + agency_customers(projects) + f"""\
tracker:
  kind: redmine
  url: ${{REDMINE_URL}}
  api_key: ${{REDMINE_API_KEY}}
  projects: [{projects["acme"]}, {projects["globex"]}, {projects["internal"]}]
  receipt_field: Incident received
  overlap_seconds: 5
state:
  path: state.sqlite3
"""


@pytest.fixture
def workspace(redmine: RedmineServer, admin: RedmineAdmin, tmp_path: Path) -> Workspace:
    """Three new projects (Acme on Advanced, Globex on Premium, an internal one) and config."""
    suffix = uuid.uuid4().hex[:8]
    projects = {role: f"{role}-{suffix}" for role in ("acme", "globex", "internal")}
    admin.make_project(projects["acme"], customer=ACME_CUSTOMER)
    admin.make_project(projects["globex"], customer=GLOBEX_CUSTOMER)
    admin.make_project(projects["internal"], members={SERVICE: "Developer", STAFF: "Developer"})
    config_path = tmp_path / "slabridge.yaml"
    config_path.write_text(config_text(projects), encoding="utf-8")
    env = {**os.environ, "REDMINE_URL": redmine.url, "REDMINE_API_KEY": admin.service_key}
    return Workspace(config_path, env, projects)
