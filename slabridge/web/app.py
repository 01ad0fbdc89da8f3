"""The web pages as one object that answers GET requests: routes, access and templates.

`WebApp.answer` is called by the HTTP listener (slabridge/daemon/health.py) for every path
but /healthz; it needs no socket, so the tests call it directly. Everything it shows comes
from the state store through the use cases the CLI uses (app/board.py, app/hours.py,
render/statement_html.py); nothing here writes to the store or the tracker.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from slabridge.app.board import BoardRow, board, unclassified
from slabridge.app.hours import CustomerMonth, HoursService
from slabridge.config.loader import Config
from slabridge.daemon.health import Reply
from slabridge.domain.hours import month_of
from slabridge.domain.model import SlaStatus
from slabridge.errors import SlabridgeError, UsageError
from slabridge.ports import HoursStore, Tracker
from slabridge.render.statement_html import (
    format_hours,
    format_share,
    month_label,
    render_chart_svg,
    render_statement_html,
)
from slabridge.web.auth import REALM, authorized, refusal
from slabridge.web.views import (
    REFRESH_SECONDS,
    SCHEDULE_HOURS,
    STATUS_LABELS,
    Filters,
    board_page,
    epoch_ms,
)

log = structlog.get_logger("slabridge.web")

ROWS_MAX_AGE_SECONDS = 10.0
"""Board rows are computed at most this often, whoever asks: every screen refreshes every
REFRESH_SECONDS, and 10,000 open issues take about half a second to evaluate."""

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# Pages load their script and style from here only; nothing may frame them; links to the
# tracker do not tell it which board they came from.
PAGE_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
     "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
     "base-uri 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)
# The statement is the document `hours --format html` writes: its own inline style only.
STATEMENT_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
     "frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)
STATIC = {"board.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
CUSTOMER_PATH = re.compile(r"/customers/([A-Za-z0-9_.-]+)")
STATEMENT_PATH = re.compile(r"/customers/([A-Za-z0-9_.-]+)/statements/(\d{4}-\d{2})")


@dataclass(frozen=True)
class Wiring:
    """What the pages read from, built for one configuration by the composition root."""

    config: Config
    tracker: Tracker
    """Names the store's records and links issues; the pages never call the tracker."""
    open_store: Callable[[], HoursStore]
    """A connection of the request's own (SQLite connections belong to one thread)."""
    users: dict[str, str]


class WebApp:
    """The read-only pages: board, customers, statements, unclassified issues."""

    def __init__(self, config: Callable[[], Config], wire: Callable[[Config], Wiring],
                 host: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._config = config  # asked per request: the daemon's reload swaps the config
        self._wire = wire
        self._wired: Wiring | None = None
        self._host = host
        self._clock = clock
        self._lock = threading.Lock()
        self._rows_lock = threading.Lock()  # one board computation at a time
        self._rows: tuple[Wiring, float, datetime, list[BoardRow]] | None = None
        self._templates = Environment(
            loader=PackageLoader("slabridge.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True,
        )
        self._templates.filters["hours"] = format_hours
        self._templates.globals.update(status_labels={s.value: label for s, (label, _)
                                                      in STATUS_LABELS.items()},
                                       refresh_seconds=REFRESH_SECONDS)

    def _wiring(self) -> Wiring:
        """The wiring of the configuration in force, built once per configuration."""
        config = self._config()
        with self._lock:
            if self._wired is None or self._wired.config is not config:
                self._wired = self._wire(config)
            return self._wired

    # --- the listener's interface (slabridge.daemon.health.Pages) ------------------------

    def answer(self, path: str, query: str, authorization: str | None) -> Reply:
        """The reply to a GET of `path`."""
        try:
            wiring = self._wiring()
            reason = refusal(self._host, wiring.users)
            if reason is not None:
                return Reply(HTTPStatus.FORBIDDEN, TEXT, f"{reason}\n".encode())
            if not authorized(wiring.users, authorization):
                return _unauthorized()
            return self._route(wiring, path, parse_qs(query))
        except UsageError as error:  # an unknown customer, a month without a statement
            return Reply(HTTPStatus.NOT_FOUND, TEXT, f"not found: {error}\n".encode())
        except SlabridgeError as error:  # configuration, an unreadable store
            log.warning("web_page_failed", path=path, error=str(error))
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, TEXT, f"{error}\n".encode())
        except Exception:
            log.exception("web_page_bug", path=path)
            return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, TEXT,
                         b"internal error (a bug): see the slabridge log\n")

    def metrics_denied(self, authorization: str | None) -> Reply | None:
        """With web.metrics_auth, /metrics asks for the pages' credentials."""
        if not self._config().settings.web.metrics_auth:
            return None
        try:
            users = self._wiring().users
        except SlabridgeError as error:
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, TEXT, f"{error}\n".encode())
        return None if authorized(users, authorization) else _unauthorized()

    # --- routes --------------------------------------------------------------------------

    def _route(self, wiring: Wiring, path: str, query: dict[str, list[str]]) -> Reply:
        if path == "/":
            return self._page("board.html", self._board(wiring, Filters.parse(query)))
        if path == "/board.json":
            context = self._board(wiring, Filters.parse(query))
            fragment = self._templates.get_template("rows.html").render(context)
            body = json.dumps({"html": fragment, "matching": context["page"].matching})
            return Reply(HTTPStatus.OK, "application/json", body.encode(), PAGE_HEADERS)
        if path == "/unclassified":
            return self._unclassified(wiring)
        if path.startswith("/static/") and path[8:] in STATIC:
            name = path[8:]
            data = resources.files("slabridge.web").joinpath("static", name).read_bytes()
            return Reply(HTTPStatus.OK, STATIC[name], data, PAGE_HEADERS)
        if found := STATEMENT_PATH.fullmatch(path):
            return self._statement(wiring, found.group(1), found.group(2))
        if found := CUSTOMER_PATH.fullmatch(path):
            return self._customer(wiring, found.group(1), Filters.parse(query).page)
        return Reply(HTTPStatus.NOT_FOUND, TEXT, b"not found: the board is at /\n")

    def _page(self, template: str, context: dict[str, Any]) -> Reply:
        html = self._templates.get_template(template).render(context)
        return Reply(HTTPStatus.OK, HTML, html.encode(), PAGE_HEADERS)

    def board_rows(self, wiring: Wiring) -> tuple[datetime, list[BoardRow]]:
        """All board rows, as `slabridge status` orders them, and the instant they are for;
        computed again when older than ROWS_MAX_AGE_SECONDS (one computation at a time)."""
        with self._rows_lock:
            cached = self._rows
            if (cached is not None and cached[0] is wiring
                    and time.monotonic() - cached[1] < ROWS_MAX_AGE_SECONDS):
                return cached[2], cached[3]
            now = self._clock()
            store = wiring.open_store()
            try:
                rows = board(store, wiring.tracker.name, wiring.config.rules(), now)
            finally:
                store.close()
            self._rows = (wiring, time.monotonic(), now, rows)
            return now, rows

    def expire_rows(self) -> None:
        """Forget the shared rows: the next request computes them again."""
        with self._rows_lock:
            self._rows = None

    def _board(self, wiring: Wiring, filters: Filters,
               fixed_customer: str | None = None) -> dict[str, Any]:
        as_of, rows = self.board_rows(wiring)
        config = wiring.config
        metrics = config.settings.sla.metrics
        page = board_page(rows, filters, as_of, wiring.tracker.issue_url,
                          lambda tier: config.tier(tier).calendar, list(metrics))
        endpoint = "/board.json" + (f"?{filters.query()}" if filters.query() else "")
        return {
            "page": page, "endpoint": endpoint, "fixed_customer": fixed_customer,
            "customers": {key: c.name for key, c in config.customers.items()},
            "statuses": [(s.value, STATUS_LABELS[s][0]) for s in SlaStatus],
            "classes": list(config.settings.classes),
            # The pages are in English, whatever language the notes are in.
            "metric_columns": [
                (m.label if isinstance(m.label, str) else m.label.get("en", "")
                 or name).capitalize() for name, m in metrics.items()],
            "as_of_ms": epoch_ms(as_of), "served_ms": epoch_ms(self._clock()),
            "until_ms": epoch_ms(as_of + timedelta(hours=SCHEDULE_HOURS)),
            "schedules": json.dumps(page.schedules, separators=(",", ":")),
            "as_of": as_of.astimezone(config.tier(config.settings.default_tier).calendar.zone),
        }

    def _unclassified(self, wiring: Wiring) -> Reply:
        store = wiring.open_store()
        try:
            found = unclassified(store, wiring.tracker.name, wiring.config.rules(),
                                 self._clock())
        finally:
            store.close()
        return self._page("unclassified.html", {
            "issues": [(u, wiring.tracker.issue_url(u.key)) for u in found],
            "customers": {key: c.name for key, c in wiring.config.customers.items()},
        })

    def _month(self, wiring: Wiring, customer: str, month: str) -> CustomerMonth | None:
        """The customer's statement of `month` from the stored time entries (the pages
        never ask the tracker for newer ones)."""
        store = wiring.open_store()
        try:
            service = HoursService(wiring.tracker, store, wiring.config)
            found = service.statements(month, customer, self._clock())
        finally:
            store.close()
        return found[0] if found else None

    def _customer(self, wiring: Wiring, key: str, page: int) -> Reply:
        config = wiring.config
        customer = config.customer(key)
        now = self._clock()
        today = now.astimezone(config.tier(config.settings.default_tier).calendar.zone).date()
        contract = customer.contract_at(today)
        current = self._month(wiring, key, month_of(today))
        context = self._board(wiring, Filters(customer=key, page=page), fixed_customer=key)
        context.update(
            customer=customer, key=key, contract=contract, month=current,
            month_name=month_label(month_of(today)),
            chart=Markup(render_chart_svg(current.history)) if current else None,  # noqa: S704 - our own SVG, escaped where it holds text
            compliance=[(name, counts, format_share(counts[1], counts[2]))
                        for name, counts in (current.compliance if current else {}).items()],
            remaining=(current.statement.available - current.statement.used
                       if current else Decimal(0)),
            statement_months=[s.month for s in reversed(current.history)] if current else [],
            month_label=month_label,
        )
        return self._page("customer.html", context)

    def _statement(self, wiring: Wiring, key: str, month: str) -> Reply:
        config = wiring.config
        config.customer(key)
        try:
            date(int(month[:4]), int(month[5:]), 1)
        except ValueError:
            raise UsageError(f"{month!r} is not a month (YYYY-MM)") from None
        found = self._month(wiring, key, month)
        if found is None:
            raise UsageError(f"no statement of {key!r} for {month}: no contract in force")
        html = render_statement_html(found.name, found.history, found.compliance,
                                     config.settings.hours.currency)
        return Reply(HTTPStatus.OK, HTML, html.encode(), STATEMENT_HEADERS)


def _unauthorized() -> Reply:
    return Reply(HTTPStatus.UNAUTHORIZED, TEXT, b"credentials needed (web.users)\n",
                 (("WWW-Authenticate", REALM),))
