"""Retries against a loopback HTTP server that fails first: reads retry, writes never do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import SlabridgeError, TrackerUnavailableError


class FlakyRedmine(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests of each method, then like Redmine."""

    failures = 2
    seen: ClassVar[dict[str, int]] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: dict[str, object] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def _flaky(self) -> bool:
        count = self.seen.get(self.command, 0) + 1
        self.seen[self.command] = count
        return count <= self.failures

    def do_GET(self) -> None:
        if self._flaky():
            self._reply(503, {})
        elif self.path.startswith("/projects.json"):
            self._reply(200, {"projects": [{"id": 1, "identifier": "p", "name": "P"}],
                              "total_count": 1, "offset": 0, "limit": 25})
        elif self.path.startswith("/trackers.json"):
            self._reply(200, {"trackers": []})
        else:
            self._reply(200, {"issues": [], "total_count": 0, "offset": 0, "limit": 100})

    def do_PUT(self) -> None:
        self._flaky()
        self._reply(503, {})


@pytest.fixture
def server() -> Iterator[str]:
    FlakyRedmine.seen = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyRedmine)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_reads_retry_with_backoff(server: str) -> None:
    """Two 503s then success: the listing succeeds after three attempts."""
    tracker = RedmineTracker(server, "k" * 40, ("p",), {}, retries=3)
    tracker.catalog._project_ids = {"p": 1}
    assert list(tracker.list_issues(None, open_only=False)) == []
    assert FlakyRedmine.seen["GET"] == 3
    assert tracker.requests_made == 1  # the hook sees the final response only


def test_reads_give_up_after_retries(server: str) -> None:
    """With fewer retries than failures the read is reported as unavailable."""
    tracker = RedmineTracker(server, "k" * 40, ("p",), {}, retries=1)
    tracker.catalog._project_ids = {"p": 1}
    with pytest.raises(TrackerUnavailableError):
        list(tracker.list_issues(None, open_only=False))


def test_writes_are_not_retried(server: str) -> None:
    """A failed PUT is sent once: it may have been applied, the next cycle checks."""
    tracker = RedmineTracker(server, "k" * 40, ("p",), {}, retries=3)
    with pytest.raises(TrackerUnavailableError):
        tracker.prepare_update(TicketUpdate("5", {}, note="hello", note_keys=("k",)))()
    assert FlakyRedmine.seen["PUT"] == 1


class LoginPageRedmine(BaseHTTPRequestHandler):
    """A proxy in front of Redmine that answers writes with its login page (200, HTML),
    or, for the issue numbered 204, like Redmine itself: 204 and no body."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/issues/204.json"):
            self.send_response(204)
            self.end_headers()
            return
        page = b"<!DOCTYPE html><html><body><form action='/login'>Sign in</form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


def test_a_write_answered_by_a_login_page_is_no_success() -> None:
    """Only Redmine's 204 counts as written; a 200 page is an error (nothing recorded)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), LoginPageRedmine)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        tracker = RedmineTracker(f"http://127.0.0.1:{httpd.server_address[1]}", "k" * 40,
                                 ("p",), {})
        tracker.prepare_update(TicketUpdate("204", {}, note="hello", note_keys=("k",)))()
        with pytest.raises(SlabridgeError, match="issue #5"):
            tracker.prepare_update(TicketUpdate("5", {}, note="hello", note_keys=("k",)))()
    finally:
        httpd.shutdown()
        httpd.server_close()
