"""The Redmine write path (PUT through requests' connection pool, not its session) keeps
the session's TLS verification, CA bundle, proxy, headers and error mapping (its timeout:
test_redmine_environment.py)."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import trustme
import urllib3
from redminelib import exceptions as rex

from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import IssueError, TrackerError, TrackerUnavailableError

KEY = "k" * 40
FIELDS = {"response_due": "SLA response due"}


class RecordingRedmine(BaseHTTPRequestHandler):
    """Answers PUTs under `prefix` like Redmine: 204, or 404/422 for the issues so
    numbered, a redirect for issue 301, and 404 outside the prefix; always with a session
    cookie, as Redmine does. Records each request line, its headers, body and client port;
    also serves as a plain-HTTP forward proxy."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Redmine's puma
    prefix = ""
    seen: ClassVar[list[tuple[str, dict[str, str], bytes, int]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        port = self.client_address[1]
        self.seen.append((self.requestline, dict(self.headers), body, port))
        path = urlsplit(self.path).path
        if not path.startswith(f"{self.prefix}/issues/") or path.endswith("/issues/404.json"):
            self._reply(404, b"")
        elif path.endswith("/issues/422.json"):
            self._reply(422, json.dumps({"errors": ["Subject cannot be blank"]}).encode())
        elif path.endswith("/issues/301.json"):
            self._reply(301, b"", location="https://redmine.example/issues/301.json")
        else:
            self._reply(204, None)

    def do_GET(self) -> None:
        self.seen.append((self.requestline, dict(self.headers), b"", self.client_address[1]))
        if urlsplit(self.path).path.endswith("/users.json"):
            self._reply(200, json.dumps({"users": [], "total_count": 0}).encode())
            return
        if urlsplit(self.path).path.endswith("/issues/6.json"):  # carries no custom field
            self._reply(200, json.dumps({"issue": {"id": 6, "custom_fields": []}}).encode())
            return
        self._reply(200, json.dumps({"issues": [], "total_count": 0}).encode())

    def _reply(self, status: int, body: bytes | None, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Set-Cookie", "_redmine_session=abc; path=/; HttpOnly")
        if location is not None:
            self.send_header("Location", location)
        if body is not None:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


@pytest.fixture
def plain_server() -> Iterator[int]:
    RecordingRedmine.seen = []
    RecordingRedmine.prefix = ""
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
    tracker.catalog.field_ids = {"SLA response due": 7}
    # A read, as every cycle starts: a cookie comes back.
    tracker.transport.get_json("/issues.json", {})
    assert "_redmine_session" in tracker.transport.session.cookies
    read_date = tracker.transport.last_date
    RecordingRedmine.seen.clear()
    tracker.prepare_update(TicketUpdate("5", {"response_due": "2026-12-03T10:00:00Z"},
                                        note="hello", note_keys=("k",)))()
    tracker.prepare_update(note("6"))()
    (line, headers, body, port), (line2, headers2, _, port2) = RecordingRedmine.seen
    assert line == "PUT /issues/5.json HTTP/1.1"
    assert line2 == "PUT /issues/6.json HTTP/1.1"
    assert headers["X-Redmine-API-Key"] == KEY
    assert headers["Content-Type"] == "application/json"
    assert "Cookie" not in headers  # no cookie goes back: the API key is enough
    assert "Cookie" not in headers2
    assert json.loads(body) == {"issue": {
        "custom_fields": [{"id": 7, "value": "2026-12-03T10:00:00Z"}], "notes": "hello"}}
    assert port == port2  # the second write reused the connection
    assert tracker.requests_made == 3  # the read and both writes
    # The server's clock of the read, for the next watermark (see
    # RedmineTracker._note_listing_start); writes leave it as it was.
    assert tracker.transport.last_date is not None and tracker.transport.last_date == read_date
    answered = parsedate_to_datetime(tracker.transport.last_date)
    assert abs((answered - datetime.now(UTC)).total_seconds()) < 60


def test_refusals_of_one_issue_are_issue_errors_from_python_redmines_processing(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    with pytest.raises(IssueError, match=r"issue #404: not found \(HTTP 404\)"):
        tracker.prepare_update(note("404"))()
    with pytest.raises(IssueError,
                       match=r"issue #422: rejected \(HTTP 422\): Subject cannot be blank"):
        tracker.prepare_update(note("422"))()
    tracker.prepare_update(note("5"))()
    assert [seen[0] for seen in RecordingRedmine.seen] == [
        "PUT /issues/404.json HTTP/1.1", "PUT /issues/422.json HTTP/1.1",
        "PUT /issues/5.json HTTP/1.1",
    ]
    # Each error answer was read to its end, so its connection served the next write.
    assert len({seen[3] for seen in RecordingRedmine.seen}) == 1
    assert tracker.requests_made == 3


def test_a_redirected_write_is_an_error_naming_the_address_and_not_sent_on(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    with pytest.raises(TrackerError, match=r"issue #301: .* redirects writes \(HTTP 301\) "
                                           r"to https://redmine.example/issues/301.json"):
        tracker.prepare_update(note("301"))()
    tracker.prepare_update(note("5"))()
    assert [seen[0] for seen in RecordingRedmine.seen] == [
        "PUT /issues/301.json HTTP/1.1", "PUT /issues/5.json HTTP/1.1",
    ]
    assert len({seen[3] for seen in RecordingRedmine.seen}) == 1


def test_a_write_keeps_the_path_redmine_is_served_under(plain_server: int) -> None:
    RecordingRedmine.prefix = "/redmine"
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}/redmine/", KEY, ("p",), FIELDS)
    tracker.prepare_update(note("5"))()
    assert [seen[0] for seen in RecordingRedmine.seen] == ["PUT /redmine/issues/5.json HTTP/1.1"]


def test_a_write_sends_the_credentials_given_in_the_url(plain_server: int) -> None:
    """A Redmine behind a basic-auth proxy: reads and writes both log in."""
    tracker = RedmineTracker(f"http://bridge:s3cret@127.0.0.1:{plain_server}", KEY, ("p",),
                             FIELDS)
    tracker.prepare_update(note("5"))()
    (line, headers, _, _), = RecordingRedmine.seen
    assert line == "PUT /issues/5.json HTTP/1.1"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"bridge:s3cret").decode()
    assert headers["X-Redmine-API-Key"] == KEY


def test_a_write_goes_through_the_proxy_from_the_environment(
    plain_server: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{plain_server}")
    # No such host: only the proxy can deliver the write.
    tracker = RedmineTracker("http://redmine.invalid", KEY, ("p",), FIELDS)
    tracker.prepare_update(note("5"))()
    (line, headers, _, _), = RecordingRedmine.seen
    assert line == "PUT http://redmine.invalid/issues/5.json HTTP/1.1"
    assert headers["X-Redmine-API-Key"] == KEY


def serve_tls(handler: type[BaseHTTPRequestHandler], bundle: Path) -> ThreadingHTTPServer:
    """`handler` as an HTTPS server on loopback, its certificate from a throwaway CA whose
    certificate is written to `bundle`."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    authority.cert_pem.write_to_path(str(bundle))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS Redmine on loopback with a certificate from a throwaway CA."""
    RecordingRedmine.seen = []
    bundle = tmp_path / "ca.pem"
    httpd = serve_tls(RecordingRedmine, bundle)
    yield httpd.server_address[1], bundle
    httpd.shutdown()
    httpd.server_close()


class GarblingRedmine(RecordingRedmine):
    """Reads the whole PUT, then answers with bytes that are not TLS: the client's TLS layer
    fails after the write reached the server."""

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.requestline, dict(self.headers), body, self.client_address[1]))
        os.write(self.connection.fileno(), b"HTTP/1.1 204 No Content\r\n\r\n")
        self.close_connection = True


def test_a_write_that_reached_redmine_is_not_sent_again_after_a_tls_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    RecordingRedmine.seen = []
    bundle = tmp_path / "ca.pem"
    httpd = serve_tls(GarblingRedmine, bundle)
    try:
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        tracker = RedmineTracker(f"https://127.0.0.1:{httpd.server_address[1]}", KEY, ("p",),
                                 FIELDS, retries=3)
        with pytest.raises(TrackerUnavailableError, match=r"issue #5: Redmine unavailable"):
            tracker.prepare_update(note("5"))()
        assert [seen[0] for seen in RecordingRedmine.seen] == ["PUT /issues/5.json HTTP/1.1"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_write_verifies_tls_against_the_ca_bundle_from_the_environment(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, bundle = tls_server
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS).prepare_update(note("5"))()
    assert [seen[0] for seen in RecordingRedmine.seen] == ["PUT /issues/5.json HTTP/1.1"]


def test_a_write_to_a_certificate_nobody_vouches_for_is_refused(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, _ = tls_server
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    tracker = RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS, retries=0)
    with pytest.raises(TrackerUnavailableError, match=r"issue #5: .*CERTIFICATE_VERIFY_FAILED"):
        tracker.prepare_update(note("5"))()
    assert RecordingRedmine.seen == []  # nothing was sent
    # verify_tls: false in the config is the one way to accept it.
    unverified = RedmineTracker(f"https://127.0.0.1:{port}", KEY, ("p",), FIELDS,
                                verify_tls=False)
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        unverified.prepare_update(note("5"))()
    assert len(RecordingRedmine.seen) == 1


def test_a_write_to_a_redmine_that_is_down_leaves_the_issue_for_the_next_cycle() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracker = RedmineTracker(f"http://127.0.0.1:{port}", KEY, ("p",), FIELDS, retries=1)
    with pytest.raises(TrackerUnavailableError, match=r"issue #5: Redmine unavailable"):
        tracker.prepare_update(note("5"))()


def test_a_prepared_write_is_checked_and_encoded_at_once_and_sent_only_when_called(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    tracker.catalog.field_ids = {"SLA response due": 7}
    send = tracker.prepare_update(TicketUpdate("5", {"response_due": "2026-12-03T10:00:00Z"},
                                               note="hello", note_keys=("k",)))
    assert RecordingRedmine.seen == []
    send()
    [(line, _, body, _)] = RecordingRedmine.seen
    assert line == "PUT /issues/5.json HTTP/1.1"
    assert json.loads(body) == {"issue": {
        "custom_fields": [{"id": 7, "value": "2026-12-03T10:00:00Z"}], "notes": "hello"}}
    tracker.catalog.field_ids = {}  # the field is not enabled for the issue's project
    with pytest.raises(IssueError, match="custom field 'SLA response due' is not available"):
        tracker.prepare_update(TicketUpdate("6", {"response_due": "2026-12-03T10:00:00Z"}))
    # The unknown id was looked for on the issue itself (a non-admin key learns ids from
    # issues), and nothing was written.
    assert [line for line, *_ in RecordingRedmine.seen[1:]] == [
        "GET /issues/6.json HTTP/1.1"]


def test_an_unknown_watcher_does_not_keep_the_fields_and_note_from_being_written(
    plain_server: int,
) -> None:
    tracker = RedmineTracker(f"http://127.0.0.1:{plain_server}", KEY, ("p",), FIELDS)
    send = tracker.prepare_update(TicketUpdate("5", {}, note="hello", note_keys=("k",),
                                               watchers=("nobody",)))
    assert RecordingRedmine.seen == []  # the watcher is looked up after the PUT, not before
    with pytest.raises(IssueError, match="no Redmine user with login 'nobody'"):
        send()
    assert [line for line, *_ in RecordingRedmine.seen] == [
        "PUT /issues/5.json HTTP/1.1", "GET /users.json?name=nobody&limit=100 HTTP/1.1"]


def test_refusals_are_said_in_words_not_library_class_names() -> None:
    """What python-redmine raises, as a user reads it: for one issue, and for the rest."""
    tracker = RedmineTracker("http://127.0.0.1:9", KEY, ("p",), FIELDS)
    translated = tracker.error_map.translated
    said = {
        str(translated(exc, issue)): type(translated(exc, issue))
        for exc, issue in ((rex.ResourceNotFoundError(), "5"), (rex.ForbiddenError(), "5"),
                           (rex.ValidationError("Subject cannot be blank"), "5"),
                           (rex.ResourceNotFoundError(), None))
    }
    assert said == {
        "issue #5: not found (HTTP 404): deleted, or not visible to the API user": IssueError,
        "issue #5: forbidden (HTTP 403): the API user lacks the permission": IssueError,
        "issue #5: rejected (HTTP 422): Subject cannot be blank": IssueError,
        "Redmine at http://127.0.0.1:9 refused a request: not found (HTTP 404): a wrong base "
        "URL, project or page, or one the API user cannot see": TrackerError,
    }
