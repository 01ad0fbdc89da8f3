"""The HTTP environment (proxies, CA bundle) is read once when the Redmine adapter is built."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import TrackerUnavailableError

FIELDS = {"response_due": "SLA response due"}


def tracker(url: str = "https://redmine.example", verify_tls: bool = True) -> RedmineTracker:
    return RedmineTracker(url, "k" * 40, ("p",), FIELDS, verify_tls=verify_tls)


def test_proxy_variables_are_taken_once_and_not_looked_up_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = tracker().transport.session
    assert session.proxies["https"] == "http://proxy.example:3128"
    assert session.trust_env is False  # no environment lookups per request


def test_no_proxy_still_exempts_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "redmine.example")
    assert "https" not in tracker().transport.session.proxies


def test_a_ca_bundle_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    assert tracker().transport.redmine.engine.requests["verify"] == "/etc/ssl/company-ca.pem"
    # ... but never switches verification back on where the config turned it off.
    assert tracker(verify_tls=False).transport.redmine.engine.requests["verify"] is False
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert tracker().transport.redmine.engine.requests["verify"] is True


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    yield listener.getsockname()[1]
    listener.close()


def test_a_redmine_that_never_answers_times_out(silent_port: int) -> None:
    # python-redmine puts the timeout on the session, where requests ignores it.
    silent = RedmineTracker(f"http://127.0.0.1:{silent_port}", "k" * 40, ("p",), FIELDS,
                            timeout=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(TrackerUnavailableError):
        silent.journal("1")
    assert time.monotonic() - started < 5


def test_a_write_that_gets_no_answer_times_out_and_is_not_sent_again(silent_port: int) -> None:
    # Writes bypass the session (RedmineTransport._send_put) but keep its timeout.
    silent = RedmineTracker(f"http://127.0.0.1:{silent_port}", "k" * 40, ("p",), FIELDS,
                            timeout=0.5, retries=3)
    started = time.monotonic()
    with pytest.raises(TrackerUnavailableError, match=r"issue #5: .*Timeout"):
        silent.prepare_update(TicketUpdate("5", {}, note="hello", note_keys=("k",)))()
    assert time.monotonic() - started < 1.5  # one attempt: a sent write is not retried
