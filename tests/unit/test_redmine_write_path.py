"""The Redmine write path (PUT through requests' connection pool, not its session) keeps
the session's TLS verification, CA bundle, proxy, headers and error mapping (its timeout:
test_redmine_environment.py)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import trustme
import urllib3

from slabridge.adapters.redmine import RedmineTracker
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import IssueError, TrackerUnavailableError

KEY = "k" * 40
FIELDS = {"response_due": "SLA response due"}


class RecordingRedmine(BaseHTTPRequestHandler):
    """Answers PUTs like Redmine (204, or 404/422 for the issues so numbered) and records
    each request line, its headers and body; also serves as a plain-HTTP forward proxy."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Redmine's puma
    seen: ClassVar[list[tuple[str, dict[str, str], bytes, int]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        port = self.client_address[1]
        self.seen.append((self.requestline, dict(self.headers), body, port))
        if "/issues/404.json" in self.path:
            self._reply(404, b"")
        elif "/issues/422.json" in self.path:
            self._reply(422, json.dumps({"errors": ["Subject cannot be blank"]}).encode())
        else:
            self._reply(204, None)

    def _reply(self, status: int, body: bytes | None) -> None:
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


@pytest.fixture
def plain_server() -> Iterator[int]:
    RecordingRedmine.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RecordingRedmine)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def note(issue: str) -> TicketUpdate:
    return TicketUpdate(issue, {}, note="hello", note_keys=("k",))


def test_a_write_sends_the_key_and_json_once_on_a_kept_alive_connection(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    tracker._field_ids = {"SLA response due": 7}
    tracker.update(TicketUpdate("5", {"response_due": "2026-12-03T10:00:00Z"},
                                note="hello", note_keys=("k",)))
    tracker.update(note("6"))
    (line, headers, body, port), (line2, _, _, port2) = RecordingRedmine.seen
    assert line == "PUT /issues/5.json HTTP/1.1"
    assert line2 == "PUT /issues/6.json HTTP/1.1"
    assert headers["X-Redmine-API-Key"] == KEY
    assert headers["Content-Type"] == "application/json"
    assert "Cookie" not in headers
    assert json.loads(body) == {"issue": {
        "custom_fields": [{"id": 7, "value": "2026-12-03T10:00:00Z"}], "notes": "hello"}}
    assert port == port2  # the second write reused the connection
    assert tracker.requests_made == 2
    # The server's clock, for the next watermark (see RedmineTracker._note_listing_start).
    assert tracker._last_date is not None
    answered = parsedate_to_datetime(tracker._last_date)
    assert abs((answered - datetime.now(UTC)).total_seconds()) < 60


def test_refusals_of_one_issue_are_issue_errors_from_python_redmines_processing(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    with pytest.raises(IssueError, match=r"issue #404: ResourceNotFoundError"):
        tracker.update(note("404"))
    with pytest.raises(IssueError, match=r"issue #422: ValidationError.*Subject"):
        tracker.update(note("422"))
    tracker.update(note("5"))  # the connection is still good after the error answers
    assert [seen[0] for seen in RecordingRedmine.seen] == [
        "PUT /issues/404.json HTTP/1.1", "PUT /issues/422.json HTTP/1.1",
        "PUT /issues/5.json HTTP/1.1",
    ]


def test_a_write_goes_through_the_proxy_from_the_environment(
    plain_server: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{plain_server}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # No such host: only the proxy can deliver the write.
    tracker = RedmineTracker("http://redmine.invalid", KEY, ("p",), FIELDS)
    tracker.update(note("5"))
    (line, headers, _, _), = RecordingRedmine.seen
    assert line == "PUT http://redmine.invalid/issues/5.json HTTP/1.1"
    assert headers["X-Redmine-API-Key"] == KEY


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS Redmine on loopback with a certificate from a throwaway CA."""
    RecordingRedmine.seen = []
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RecordingRedmine)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], bundle
    httpd.shutdown()
    httpd.server_close()


def test_a_write_verifies_tls_against_the_ca_bundle_from_the_environment(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, bundle = tls_server
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS).update(note("5"))
    assert [seen[0] for seen in RecordingRedmine.seen] == ["PUT /issues/5.json HTTP/1.1"]


def test_a_write_to_a_certificate_nobody_vouches_for_is_refused(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, _ = tls_server
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    tracker = RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS, retries=0)
    with pytest.raises(TrackerUnavailableError, match=r"issue #5: .*CERTIFICATE_VERIFY_FAILED"):
        tracker.update(note("5"))
    assert RecordingRedmine.seen == []  # nothing was sent
    # verify_tls: false in the config is the one way to accept it.
    unverified = RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS,
                                verify_tls=False)
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        unverified.update(note("5"))
    assert len(RecordingRedmine.seen) == 1


def test_a_write_to_a_redmine_that_is_down_leaves_the_issue_for_the_next_cycle() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracker = RedmineTracker(f"http://127.0.0.1:{port}", KEY, ("p",), FIELDS, retries=1)
    with pytest.raises(TrackerUnavailableError, match=r"issue #5: Redmine unavailable"):
        tracker.update(note("5"))
