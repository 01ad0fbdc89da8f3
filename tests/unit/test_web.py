"""The web pages without a browser: routes, access, filters, pages of rows, service hours."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.app.board import BoardRow
from slabridge.app.hours import HoursService
from slabridge.cli.main import run
from slabridge.config.loader import load_config
from slabridge.daemon.health import HealthServer, Monitor, Reply
from slabridge.daemon.scheduler import Daemon
from slabridge.domain.metrics import MetricEvaluation
from slabridge.domain.model import SlaStatus
from slabridge.errors import ConfigError
from slabridge.ports import HoursStore
from slabridge.render.statement_html import render_statement_html
from slabridge.web.app import WebApp, Wiring
from slabridge.web.auth import authorized, is_loopback
from slabridge.web.server import wire
from slabridge.web.views import (
    PAGE_SIZE,
    Filters,
    MetricCell,
    board_page,
    service_intervals,
)
from tests.browser.conftest import VIEWER, Site, make_site
from tests.daemon_support import FakeSyncer, Running, wait_until
from tests.fakes import RESOLUTION_METRIC

VIENNA = ZoneInfo("Europe/Vienna")
NOW = datetime(2026, 11, 25, 10, tzinfo=VIENNA)  # a Wednesday, in service hours
GOOD = "Basic " + base64.b64encode(":".join(VIEWER).encode()).decode()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """250 demo-like open issues as of NOW, viewable by `viewer`."""
    return make_site(tmp_path_factory.mktemp("web"), 250, NOW)


class CountingStores:
    """Opens the site's store and counts how often (the pages open one per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = 0

    def __call__(self) -> HoursStore:
        self.opened += 1
        return SqliteStateStore(self.path)


def app_for(site: Site, host: str = "127.0.0.1") -> tuple[WebApp, CountingStores]:
    wiring = wire(site.config, site.env)
    stores = CountingStores(site.config_path.parent / "state.sqlite3")
    counted = Wiring(wiring.config, wiring.tracker, stores, wiring.users)
    return WebApp(lambda: site.config, lambda _: counted, host, clock=lambda: NOW), stores


def get(app: WebApp, target: str, authorization: str | None = GOOD) -> Reply:
    path, _, query = target.partition("?")
    return app.answer(path, query, authorization)


def test_pages_need_credentials_when_users_are_configured(site: Site) -> None:
    """No header, a wrong password or an unknown user: 401 with a basic-auth challenge."""
    app, _ = app_for(site)
    wrong = "Basic " + base64.b64encode(b"viewer:guess").decode()
    nobody = "Basic " + base64.b64encode(b"nobody:" + VIEWER[1].encode()).decode()
    for authorization in (None, wrong, nobody, "Bearer x", "Basic !!!"):
        reply = get(app, "/", authorization)
        assert reply.status == 401
        assert dict(reply.headers)["WWW-Authenticate"] == 'Basic realm="slabridge", charset="UTF-8"'
    assert get(app, "/").status == 200


def test_without_users_anyone_on_loopback_may_read() -> None:
    """Without users there is nothing to check: the listener is on loopback only."""
    assert authorized({}, None)
    hosts = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5", "example.org")  # noqa: S104
    assert [is_loopback(h) for h in hosts] == [True, True, True, False, False, False]


def test_without_users_the_pages_refuse_other_addresses(tmp_path: Path) -> None:
    """The daemon listening on 0.0.0.0 (for its probes) without users answers 403 with
    the reason on every page; /healthz is not one of them."""
    open_site = make_site(tmp_path, 3, NOW, users=False)
    app, _ = app_for(open_site, host="0.0.0.0")  # noqa: S104 - the refusal is tested
    reply = get(app, "/", None)
    assert reply.status == 403
    assert b"without web.users they answer on a loopback address only" in reply.body


def test_the_cli_refuses_other_addresses_without_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slabridge web --host 0.0.0.0` without users: exit 2, one line saying why."""
    open_site = make_site(tmp_path, 1, NOW, users=False)
    monkeypatch.setenv("REDMINE_API_KEY", "unused")
    code = run(["--config", str(open_site.config_path), "web", "--host", "0.0.0.0"])  # noqa: S104
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "slabridge: error: the web pages are not served on 0.0.0.0: without web.users")


def test_a_literal_password_is_a_config_error(tmp_path: Path) -> None:
    """Passwords come from the environment; one written in the file is refused, with path."""
    path = tmp_path / "slabridge.yaml"
    path.write_text("web:\n  users:\n    alice: hunter2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:3: at web.users.alice: a password in the file: give it as ${{ENV_VAR}} and "
        "set that variable")


def test_metrics_auth_needs_users(tmp_path: Path) -> None:
    """metrics_auth without users has nothing to check credentials against."""
    path = tmp_path / "slabridge.yaml"
    path.write_text("web:\n  metrics_auth: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:2: at web.metrics_auth: metrics_auth needs web.users to check credentials against")


@pytest.fixture
def listener(site: Site, tmp_path: Path) -> Iterator[str]:
    """The daemon's listener (a monitor) with the pages and metrics_auth on."""
    path = tmp_path / "slabridge.yaml"
    path.write_text(site.config_path.read_text() + "  metrics_auth: true\n", encoding="utf-8")
    config = load_config(path)
    wiring = wire(config, site.env)
    app = WebApp(lambda: config, lambda _: wiring, "127.0.0.1", clock=lambda: NOW)
    server = HealthServer(Monitor(60, 3), "127.0.0.1", 0, pages=app)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.address[1]}"
    finally:
        server.stop()


def fetch(url: str, authorization: str | None = None,
          method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - our loopback server
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_healthz_never_needs_credentials_metrics_may(listener: str) -> None:
    """Probes reach /healthz without credentials; with metrics_auth, /metrics needs them."""
    assert fetch(listener + "/healthz")[0] == 503  # no cycle yet: "starting", but answered
    assert fetch(listener + "/metrics")[0] == 401
    status, body = fetch(listener + "/metrics", GOOD)
    assert status == 200 and b"slabridge_cycles_total" in body
    assert fetch(listener + "/", GOOD)[0] == 200


def test_the_pages_are_read_only(listener: str) -> None:
    """Nothing but GET is answered: no request can change anything."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert fetch(listener + "/", GOOD, method)[0] == 501


def test_pages_and_not_found(site: Site) -> None:
    """Each page answers 200 with HTML; unknown paths, customers and months are 404."""
    app, _ = app_for(site)
    for target in ("/", "/?status=breached&class=critical", "/customers/acme",
                   "/customers/globex/statements/2026-10", "/unclassified",
                   "/static/board.js", "/static/style.css"):
        assert get(app, target).status == 200, target
    for target in ("/nothing", "/customers/nobody", "/customers/acme/statements/2026-13",
                   "/customers/acme/statements/2019-01", "/static/../app.py"):
        assert get(app, target).status == 404, target


def test_the_statement_page_is_what_hours_renders(site: Site) -> None:
    """The statement page is byte for byte the document `hours --format html` writes."""
    app, _ = app_for(site)
    store = SqliteStateStore(site.config_path.parent / "state.sqlite3")
    try:
        wiring = wire(site.config, site.env)
        (month,) = HoursService(wiring.tracker, store, site.config).statements(
            "2026-11", "acme", NOW)
    finally:
        store.close()
    reply = get(app, "/customers/acme/statements/2026-11")
    assert reply.body.decode() == render_statement_html(month.name, month.history,
                                                        month.compliance, "EUR")


def test_the_board_shows_a_page_of_rows_and_says_how_many(site: Site) -> None:
    """250 open issues: the first page has PAGE_SIZE rows; the third the rest."""
    app, _ = app_for(site)
    html = get(app, "/").body.decode()
    assert html.count("<tr class=\"status-") == PAGE_SIZE
    assert "of <strong id=\"matching\">" in html
    third = json.loads(get(app, "/board.json?page=3").body)
    assert third["html"].count("<tr class=\"status-") == third["matching"] - 2 * PAGE_SIZE


def test_board_rows_are_computed_once_for_many_requests(site: Site) -> None:
    """Screens refreshing together share one computation of the rows."""
    app, stores = app_for(site)
    for _ in range(5):
        get(app, "/board.json")
    assert stores.opened == 1


def row(key: str, customer: str, status: SlaStatus, incident_class: str = "minor",
        tier: str = "advanced", left: timedelta | None = timedelta(hours=1),
        running: bool = True) -> BoardRow:
    return BoardRow(key, f"issue {key}", customer, tier, incident_class,
                    NOW + timedelta(hours=2), left, status, running)




def test_a_column_per_metric_with_its_status_and_due(tmp_path: Path) -> None:
    """With sla.metrics, the board has a column per metric: its status as word and symbol
    and its due time in the tier's zone; issues without that clock show a dash."""
    metric_site = make_site(tmp_path, 30, NOW, extra=RESOLUTION_METRIC)
    app, _ = app_for(metric_site)
    html = get(app, "/").body.decode()
    assert '<th scope="col">Due</th><th scope="col" class="metric">Resolution</th>' in html
    rows = html.split("<tr class=")[2:]
    cells = [part.split('<td class="metric" data-label="Resolution">', 1)[1].split("</td>")[0]
             for part in rows]
    with_clock = [c for c in cells if 'class="badge metric-' in c]
    assert with_clock and len(with_clock) < len(cells)
    assert all(c == "&ndash;" for c in cells if c not in with_clock)
    assert all(("running" in c or "at risk" in c or "breached" in c) and "CET</time>" in c
               for c in with_clock)


def test_a_metric_cell_is_the_metrics_clock() -> None:
    due = datetime(2026, 11, 27, 9, tzinfo=UTC)
    resolution = MetricEvaluation("resolution", timedelta(days=2), due, SlaStatus.AT_RISK,
                                  NOW - timedelta(days=1), None, timedelta(hours=12),
                                  timedelta(hours=4), ())
    rows = [BoardRow("1", "issue 1", "acme", "advanced", "critical", NOW + timedelta(hours=2),
                     timedelta(hours=1), SlaStatus.RUNNING, True, {"resolution": resolution}),
            row("2", "acme", SlaStatus.RUNNING)]
    page = board_page(rows, Filters(), NOW, str,
                      lambda tier: load_config(None).tier(tier).calendar, ["resolution"])
    assert page.rows[0].metrics == (MetricCell("at_risk", "at risk", "\u26a0",
                                               "2026-11-27 10:00 CET",
                                               "2026-11-27T09:00:00+00:00"),)
    assert page.rows[1].metrics == (None,)


def test_filters_narrow_and_keep_the_order() -> None:
    """Customer, status and class filters combine; the order stays the board's."""
    rows = [row("1", "acme", SlaStatus.BREACHED, "critical"),
            row("2", "globex", SlaStatus.BREACHED, "critical"),
            row("3", "acme", SlaStatus.RUNNING, "critical"),
            row("4", "acme", SlaStatus.BREACHED, "minor")]
    filters = Filters.parse({"customer": ["acme"], "status": ["breached"]})
    page = board_page(rows, filters, NOW, lambda key: f"https://t/{key}",
                      lambda tier: load_config(None).tier(tier).calendar)
    assert [r.key for r in page.rows] == ["1", "4"]
    assert (page.matching, page.total) == (2, 4)
    assert page.rows[0].url == "https://t/1"
    assert filters.query(2) == "customer=acme&status=breached&page=2"


def test_a_page_beyond_the_last_shows_the_last() -> None:
    """An old link to page 9 of what is now one page shows that page, not nothing."""
    page = board_page([row("1", "acme", SlaStatus.RUNNING)], Filters(page=9), NOW,
                      str, lambda tier: load_config(None).tier(tier).calendar)
    assert (page.page, page.pages, [r.key for r in page.rows]) == (1, 1, ["1"])


def ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def test_service_hours_are_sent_as_intervals() -> None:
    """Premium (Mon-Fri 08-18) from Wednesday 17:00 for 48 h: the rest of Wednesday,
    Thursday, and Friday until 17:00."""
    calendar = load_config(None).tier("premium").calendar
    start = datetime(2026, 11, 25, 17, tzinfo=VIENNA)
    assert service_intervals(calendar, start) == [
        (ms(start), ms(start + timedelta(hours=1))),
        (ms(datetime(2026, 11, 26, 8, tzinfo=VIENNA)), ms(datetime(2026, 11, 26, 18,
                                                                     tzinfo=VIENNA))),
        (ms(datetime(2026, 11, 27, 8, tzinfo=VIENNA)), ms(datetime(2026, 11, 27, 17,
                                                                     tzinfo=VIENNA))),
    ]


def test_closures_are_not_service_hours() -> None:
    """Standard observes the Christmas closure: no service hours on 28 December."""
    calendar = load_config(None).tier("standard").calendar
    assert service_intervals(calendar, datetime(2026, 12, 28, 9, tzinfo=VIENNA)) == []


def test_only_running_clocks_get_a_schedule() -> None:
    """Tiers whose shown rows all stand still (met, paused) are not sent service hours."""
    rows = [row("1", "acme", SlaStatus.MET, tier="advanced", running=False),
            row("2", "globex", SlaStatus.RUNNING, tier="premium")]
    page = board_page(rows, Filters(), NOW, str,
                      lambda tier: load_config(None).tier(tier).calendar)
    assert list(page.schedules) == ["premium"]
    assert page.rows[0].left == "1h 00m 00s" and not page.rows[0].ticking


def test_the_board_lists_what_status_lists(site: Site, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows' keys, over all pages, are `slabridge status --json`'s, in its order."""
    app, _ = app_for(site)
    pages, keys = 1, []
    page = 1
    while page <= pages:
        reply = json.loads(get(app, f"/board.json?page={page}").body)
        keys += [part.split('"', 1)[0] for part in reply["html"].split('data-key="')[1:]]
        pages = -(-reply["matching"] // PAGE_SIZE)
        page += 1
    monkeypatch.setenv("REDMINE_API_KEY", "unused")
    monkeypatch.setattr("slabridge.cli.main._now", lambda: NOW)
    assert run(["--config", str(site.config_path), "status", "--json"]) == 0
    assert keys == [r["issue"] for r in json.loads(capsys.readouterr().out)]


def test_the_daemon_serves_the_pages_beside_healthz(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slabridge run`'s health listener answers the board (with credentials) and /healthz
    (without), from the same store the cycles write."""
    monkeypatch.setenv("REDMINE_API_KEY", "unused")
    monkeypatch.setenv("SLABRIDGE_WEB_VIEWER", VIEWER[1])
    daemon = Daemon(None, site.config, overrides={"interval_seconds": 3600, "health_port": 0},
                    build=lambda _: FakeSyncer(), settle=lambda: None)
    running = Running(daemon)
    running.thread.start()
    try:
        wait_until(lambda: daemon.health_address is not None)
        assert daemon.health_address is not None
        base = f"http://127.0.0.1:{daemon.health_address[1]}"
        status, body = fetch(base + "/", GOOD)
        assert status == 200 and b'<tr class="status-' in body
        assert fetch(base + "/")[0] == 401
        assert fetch(base + "/healthz")[0] in (200, 503)
    finally:
        running.stop()
