"""A real headless browser for the web pages: Debian's chromium driven by chromium-driver.

Nothing is downloaded: Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver,
which `make test` installs with apt. If either is missing the tests fail, never skip.
`slabridge web` runs as a subprocess on 127.0.0.1 and is stopped by its PID.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from slabridge.daemon.health import HealthServer
from slabridge.web.app import WebApp
from slabridge.web.server import wire

if TYPE_CHECKING:
    from tests.browser.conftest import Site

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The closed network refuses Chromium's own connections (updates, sync, Google's hosts):
# these flags keep it from trying, as the machine notes say.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


@contextmanager
def chromium(authorization: tuple[str, str] | None = None,
             width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile; with `authorization` every request of the
    page carries those basic-auth credentials (as a browser does once they are typed)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make test` installs Debian's chromium and "
                    "chromium-driver (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="slabridge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        if authorization is not None:
            token = base64.b64encode(":".join(authorization).encode()).decode()
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                   {"headers": {"Authorization": f"Basic {token}"}})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def slabridge_web(config: Path, env: Mapping[str, str],
                  *extra: str) -> Iterator[str]:
    """`slabridge web --port 0` on loopback; yields its base URL; stopped by its PID."""
    process = subprocess.Popen(
        [sys.executable, "-m", "slabridge", "--config", str(config), "web", "--port", "0",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(env),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found is None:
            process.kill()
            _, stderr = process.communicate(timeout=10)
            pytest.fail(f"slabridge web did not start: {line!r} {stderr[-2000:]}")
        yield found.group(0)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@contextmanager
def served_at(site: Site, start: datetime) -> Iterator[str]:
    """The pages in this process, on a clock that reads `start` now and runs on."""
    began = datetime.now(UTC)

    def clock() -> datetime:
        return start + (datetime.now(UTC) - began)

    wiring = wire(site.config, site.env)
    app = WebApp(lambda: site.config, lambda _: wiring, "127.0.0.1", clock=clock)
    server = HealthServer(None, "127.0.0.1", 0, pages=app)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.address[1]}"
    finally:
        server.stop()
