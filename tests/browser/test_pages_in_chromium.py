"""The pages in a real headless Chromium: what a team sees on its screen."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import VIEWER, Site, make_site
from tests.browser_support import chromium, served_at, slabridge_web

pytestmark = pytest.mark.browser

VIENNA = ZoneInfo("Europe/Vienna")


def keys_on_page(driver: WebDriver) -> list[str]:
    """The issue keys of the board's rows, top to bottom."""
    return [row.get_attribute("data-key") or ""
            for row in driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")]


def status_keys(site: Site) -> list[str]:
    """The issues `slabridge status --json` lists, in its order."""
    result = subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(site.config_path), "status",
         "--json"], capture_output=True, text=True, env=site.env, timeout=120, check=True)
    return [row["issue"] for row in json.loads(result.stdout)]


def test_the_board_lists_what_status_lists(site: Site) -> None:
    """Every issue `slabridge status` lists is on the board, in the same order, each linked
    to the tracker and with its status as a word beside the colour."""
    with slabridge_web(site.config_path, site.env) as url, chromium(VIEWER) as driver:
        driver.get(url + "/")
        WebDriverWait(driver, 20).until(lambda d: keys_on_page(d))
        expected = status_keys(site)
        assert keys_on_page(driver) == expected
        first = driver.find_element(By.CSS_SELECTOR, "#board tbody tr")
        link = first.find_element(By.CSS_SELECTOR, "td.key a")
        assert link.get_attribute("href") == f"http://127.0.0.1:3000/issues/{expected[0]}"
        badge = first.find_element(By.CSS_SELECTOR, ".badge").text
        assert badge.split()[-1] in {"breached", "risk", "running", "paused", "met", "target"}


def test_a_filter_narrows_the_rows(site: Site) -> None:
    """Choosing a status shows only issues in that status, fewer than before, without a
    page load, and the address keeps the filter."""
    with slabridge_web(site.config_path, site.env) as url, chromium(VIEWER) as driver:
        driver.get(url + "/")
        WebDriverWait(driver, 20).until(lambda d: keys_on_page(d))
        before = keys_on_page(driver)
        driver.execute_script("document.body.dataset.marker = 'same page'")
        Select(driver.find_element(By.NAME, "status")).select_by_value("breached")
        WebDriverWait(driver, 20).until(lambda d: "status=breached" in d.current_url)
        WebDriverWait(driver, 20).until(lambda d: all(
            row.get_attribute("data-status") == "breached"
            for row in d.find_elements(By.CSS_SELECTOR, "#board tbody tr")))
        after = keys_on_page(driver)
        assert 0 < len(after) < len(before)
        assert driver.execute_script("return document.body.dataset.marker") == "same page"


def test_customer_and_statement_pages_load(site: Site) -> None:
    """A customer's page shows its name, hours, the 12-month chart and its open issues;
    its statement link opens the statement `hours --format html` renders."""
    with slabridge_web(site.config_path, site.env) as url, chromium(VIEWER) as driver:
        driver.get(url + "/customers/acme")
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Acme Webshop GmbH"
        assert driver.find_elements(By.CSS_SELECTOR, "figure.chart svg g.month")
        assert {row.get_attribute("data-customer") for row in
                driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")} == {"acme"}
        driver.find_element(By.CSS_SELECTOR, "ul.statements a").click()
        WebDriverWait(driver, 20).until(lambda d: "/statements/" in d.current_url)
        heading = driver.find_element(By.TAG_NAME, "h1").text
        assert heading == "Service hours statement: Acme Webshop GmbH"


def test_a_request_without_credentials_gets_401(site: Site) -> None:
    """With users configured, no page answers without credentials (but /healthz does)."""
    with slabridge_web(site.config_path, site.env) as url:
        for path in ("/", "/customers/acme", "/board.json", "/unclassified"):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url + path, timeout=10)  # noqa: S310 - loopback
            assert caught.value.code == 401
            assert caught.value.headers["WWW-Authenticate"].startswith("Basic ")
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:  # noqa: S310
            assert response.status == 200
        with chromium() as driver:  # a browser without credentials sees no board either
            driver.get(url + "/")
            assert not driver.find_elements(By.CSS_SELECTOR, "#board")


def test_without_users_it_refuses_other_addresses(tmp_path: Path) -> None:
    """Without web.users, `slabridge web` will not listen beyond loopback, and says why."""
    open_site = make_site(tmp_path, 1, datetime.now(UTC), users=False)
    result = subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(open_site.config_path), "web",
         "--host", "0.0.0.0", "--port", "0"],  # noqa: S104 - the refusal is what is tested
        capture_output=True, text=True, env=open_site.env, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        "slabridge: error: the web pages are not served on 0.0.0.0: without web.users they "
        "answer on a loopback address only (e.g. 127.0.0.1). Add web.users (each user's "
        "password as ${ENV_VAR}) to serve them on other addresses\n")


def left_texts(driver: WebDriver) -> dict[str, str]:
    """Issue key -> the service time left the page shows, for rows whose clock runs."""
    return {cell.find_element(By.XPATH, "..").get_attribute("data-key") or "": cell.text
            for cell in driver.find_elements(By.CSS_SELECTOR, "#board td.left.ticking")}


def seconds(text: str) -> int:
    """'-1h 02m 03s' as -3723."""
    sign = -1 if text.startswith("-") else 1
    h, m, s = (int(part[:-1]) for part in text.lstrip("-").split())
    return sign * (h * 3600 + m * 60 + s)


def test_the_countdown_moves_in_service_hours(tmp_path: Path) -> None:
    """On a Wednesday at 10:00 the running clocks tick down, second by second."""
    wednesday = datetime(2026, 11, 25, 10, tzinfo=VIENNA)
    site = make_site(tmp_path, 30, wednesday)
    with served_at(site, wednesday) as url, chromium(VIEWER) as driver:
        driver.get(url + "/")
        WebDriverWait(driver, 20).until(lambda d: left_texts(d))
        first = left_texts(driver)
        time.sleep(3)
        later = left_texts(driver)
        assert first.keys() == later.keys()
        moved = [seconds(first[k]) - seconds(later[k]) for k in first]
        assert all(2 <= delta <= 5 for delta in moved), moved
        assert not driver.find_elements(By.CSS_SELECTOR, "#board td.left.idle")


def test_the_countdown_stands_still_outside_service_hours(tmp_path: Path) -> None:
    """On a Saturday the same clocks show the same time left, marked as standing still."""
    saturday = datetime(2026, 11, 28, 10, tzinfo=VIENNA)
    site = make_site(tmp_path, 30, saturday - timedelta(days=3))
    with served_at(site, saturday) as url, chromium(VIEWER) as driver:
        driver.get(url + "/")
        WebDriverWait(driver, 20).until(lambda d: left_texts(d))
        first = left_texts(driver)
        time.sleep(2.5)
        assert left_texts(driver) == first
        idle = driver.find_elements(By.CSS_SELECTOR, "#board td.left.ticking.idle")
        assert len(idle) == len(first)
