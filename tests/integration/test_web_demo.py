"""The pages against the demo Redmine's data: `make demo`, then `slabridge web`, in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser_support import chromium, slabridge_web
from tests.integration.conftest import RedmineServer
from tests.integration.running import demo

pytestmark = [pytest.mark.redmine, pytest.mark.browser]


def test_the_demo_board_in_a_browser(redmine: RedmineServer, tmp_path: Path) -> None:
    """After `make demo`, `slabridge web` shows the issues `slabridge status` lists, in its
    order, and Acme's page; the demo's last lines say how to open the board."""
    folder = tmp_path / "demo"
    result = demo(folder)
    assert result.returncode == 0, result.stderr
    assert "slabridge web" in result.stdout.splitlines()[-2]
    values = dict(line.split("=", 1) for line in (folder / "env").read_text().splitlines())
    env = {**os.environ, **values}
    config = Path(values["SLABRIDGE_CONFIG"])
    with slabridge_web(config, env) as url, chromium() as driver:
        driver.get(url + "/")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#board tbody tr"))
        status = subprocess.run(
            [sys.executable, "-m", "slabridge", "status", "--json"], capture_output=True,
            text=True, env=env, timeout=300, check=True)
        expected = [row["issue"] for row in json.loads(status.stdout)]
        shown = [row.get_attribute("data-key") for row in
                 driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")]
        assert shown == expected
        assert driver.find_element(By.CSS_SELECTOR, "#board td.key a").get_attribute(
            "href") == f"{redmine.url}/issues/{expected[0]}"
        driver.get(url + "/customers/acme")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Acme Webshop GmbH"
