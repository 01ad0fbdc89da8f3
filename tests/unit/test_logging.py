"""Log output: JSON lines off a terminal, console lines on one, secrets never rendered."""

from __future__ import annotations

import io
import json
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from slabridge.app.sync import Syncer
from slabridge.bootstrap import build_notifiers, build_tracker
from slabridge.config.loader import Config, load_config
from slabridge.domain.model import (
    Journal,
    Ticket,
    TicketFacts,
)
from slabridge.domain.plan import TicketUpdate
from slabridge.errors import IssueError, TrackerUnavailableError
from slabridge.logs import REDACTED, configure, scrub_text
from tests.fakes import FakeTracker, memory_store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

API_KEY = "e2f1c0ffee5ecret0a7b3c9d1e2f3a4b5c6d7e8f"
WEBHOOK_URL = "https://chat.example/hooks/T000/B000/w3bh00k-t0ken-XYZ"
SMTP_PASSWORD = "smtp-pa55word!"  # noqa: S105 - a made-up value the logs must mask
SECRETS = (API_KEY, WEBHOOK_URL, SMTP_PASSWORD)

CONFIG = """\
customers:
  acme:
    contracts:
      - {tier: advanced, from: 2026-01-01}
classification:
  customers:
    - {match: {project: acme-shop}, customer: acme}
tracker:
  kind: redmine
  url: http://127.0.0.1:9
  api_key: ${SLABRIDGE_TEST_API_KEY}
  projects: [acme-shop]
escalation:
  channels:
    ops-mail:
      kind: email
      to: [ops@agency.example]
      sender: slabridge@agency.example
      username: slabridge
      password: ${SLABRIDGE_TEST_SMTP_PASSWORD}
    chat: {kind: webhook, url: "${SLABRIDGE_TEST_WEBHOOK_URL}"}
"""

ENVIRON = {
    "SLABRIDGE_TEST_API_KEY": API_KEY,
    "SLABRIDGE_TEST_SMTP_PASSWORD": SMTP_PASSWORD,
    "SLABRIDGE_TEST_WEBHOOK_URL": WEBHOOK_URL,
}


class Stream(io.StringIO):
    """A stand-in for stderr that is, or is not, a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        """What configure() asks to choose the format."""
        return self.tty


def use_stderr(monkeypatch: pytest.MonkeyPatch, tty: bool) -> Stream:
    """Replace sys.stderr (configure() binds it when called)."""
    stream = Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def json_lines(stream: Stream) -> list[dict[str, Any]]:
    """Every line of the stream parsed as one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A configuration with a tracker and both kinds of notification channel."""
    path = tmp_path_factory.mktemp("logging") / "slabridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def secrets_registered(config: Config) -> None:
    """The secrets registered the way a run registers them: when adapters are built."""
    build_tracker(config, ENVIRON)
    build_notifiers(config, ENVIRON)


# --- format ------------------------------------------------------------------------------


def test_json_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default (json_output=None) a non-terminal gets one JSON object per line."""
    stream = use_stderr(monkeypatch, tty=False)
    configure(json_output=None)
    log = structlog.get_logger("slabridge.test")
    log.info("cycle_done", mode="full", seen=3, statuses={"running": 2})
    log.warning("issue_failed", issue="42", error="HTTP 422")
    log.debug("not_shown")
    first, second = json_lines(stream)
    assert first["event"] == "cycle_done"
    assert first["level"] == "info"
    assert (first["mode"], first["seen"], first["statuses"]) == ("full", 3, {"running": 2})
    assert datetime.fromisoformat(first["timestamp"]).utcoffset() == timedelta(0)
    assert (second["event"], second["level"], second["issue"]) == ("issue_failed", "warning", "42")


def test_console_lines_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a terminal gets readable key=value lines, not JSON."""
    stream = use_stderr(monkeypatch, tty=True)
    configure(json_output=None)
    structlog.get_logger("slabridge.test").info("cycle_done", mode="full", seen=3)
    (line,) = stream.getvalue().splitlines()
    assert not line.lstrip().startswith("{")
    assert "[info" in line and "cycle_done" in line
    assert "mode=full" in line and "seen=3" in line
    assert "\x1b[" not in line  # no colour codes


def test_console_when_asked_even_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """json_output=False gives console lines wherever stderr goes."""
    stream = use_stderr(monkeypatch, tty=False)
    configure(json_output=False)
    structlog.get_logger("slabridge.test").warning("issue_failed", issue="7")
    (line,) = stream.getvalue().splitlines()
    assert "[warning" in line and "issue_failed" in line and "issue=7" in line


def test_json_when_asked_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """json_output=True (`run --json-logs`) gives JSON even on a terminal."""
    stream = use_stderr(monkeypatch, tty=True)
    configure(json_output=True)
    structlog.get_logger("slabridge.test").info("config_reloaded", config="x.yaml")
    (entry,) = json_lines(stream)
    assert (entry["event"], entry["config"]) == ("config_reloaded", "x.yaml")


def test_level_filters_lower_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure(level=WARNING) drops info and debug events."""
    stream = use_stderr(monkeypatch, tty=False)
    configure(json_output=True, level="warning")
    log = structlog.get_logger("slabridge.test")
    log.info("cycle_done")
    log.warning("issue_failed")
    log.error("cycle_failed")
    assert [e["event"] for e in json_lines(stream)] == ["issue_failed", "cycle_failed"]


# --- secrets -----------------------------------------------------------------------------


def _raise_issue_error() -> None:
    raise IssueError(f"HTTP 422 for {WEBHOOK_URL}?key={API_KEY} (password {SMTP_PASSWORD})")


def _log_secrets_everywhere() -> list[str]:
    """Log each secret in every shape a log call can carry; return the event names."""
    log = structlog.get_logger("slabridge.test")
    log.info("flat", api_key=API_KEY, url=f"{WEBHOOK_URL}?thread=1", password=SMTP_PASSWORD)
    log.info(f"message text {WEBHOOK_URL} and {API_KEY}")
    log.info(
        "nested",
        headers={"X-Redmine-API-Key": API_KEY, "inner": {"list": [SMTP_PASSWORD,
                                                                  {"deep": WEBHOOK_URL}]}},
        items=[API_KEY, (SMTP_PASSWORD, [WEBHOOK_URL])],
    )
    log.bind(token=API_KEY).info("bound")
    with structlog.contextvars.bound_contextvars(channel_url=WEBHOOK_URL):
        log.info("contextvars")
    with pytest.raises(IssueError) as caught:
        _raise_issue_error()
    error = caught.value
    # How service.py and scheduler.py log failures: as text, the traceback preformatted.
    log.warning("issue_failed", issue="42", error=str(error))
    log.error("cycle_failed", kind="bug", error=repr(error),
              traceback="".join(traceback.format_exception(error)))
    return ["flat", "message text", "nested", "bound", "contextvars", "issue_failed",
            "cycle_failed"]


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "console"])
@pytest.mark.usefixtures("secrets_registered")
def test_registered_secrets_never_rendered(
    monkeypatch: pytest.MonkeyPatch, json_output: bool,
) -> None:
    """API key, webhook URL and SMTP password are masked in values, nested data and errors."""
    stream = use_stderr(monkeypatch, tty=not json_output)
    configure(json_output=json_output)
    events = _log_secrets_everywhere()
    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    assert "e2f1c0ffee" not in output  # not even a prefix of the key
    for event in events:
        assert event in output  # every event is still logged
    if json_output:
        entries = {e["event"]: e for e in json_lines(stream)}
        assert entries["flat"]["api_key"] == REDACTED
        assert entries["flat"]["url"] == f"{REDACTED}?thread=1"
        assert entries["nested"]["headers"]["inner"]["list"] == [REDACTED, {"deep": REDACTED}]
        assert entries["nested"]["items"] == [REDACTED, [REDACTED, [REDACTED]]]
        assert entries["bound"]["token"] == REDACTED
        assert entries["contextvars"]["channel_url"] == REDACTED
        assert entries["issue_failed"]["error"] == (
            f"HTTP 422 for {REDACTED}?key={REDACTED} (password {REDACTED})"
        )
        assert "IssueError: HTTP 422 for ***" in entries["cycle_failed"]["traceback"]


def test_a_password_in_the_tracker_url_is_a_secret(tmp_path: Path) -> None:
    """A Redmine behind a basic-auth proxy: the password in the URL is masked wherever the
    URL names the tracker."""
    path = tmp_path / "slabridge.yaml"
    path.write_text(CONFIG.replace("url: http://127.0.0.1:9",
                                   "url: http://bridge:url-pa55word@127.0.0.1:9"),
                    encoding="utf-8")
    tracker = build_tracker(load_config(path), ENVIRON)
    assert "url-pa55word" in tracker.name
    assert scrub_text(f"Redmine at {tracker.name} is down") == (
        f"Redmine at http://bridge:{REDACTED}@127.0.0.1:9 is down"
    )


def _raise_with_key() -> None:
    raise RuntimeError(f"request failed with key {API_KEY}")


def _log_exc_info() -> None:
    try:
        _raise_with_key()
    except RuntimeError:
        structlog.get_logger("slabridge.test").exception("cycle_failed")


def _log_exc_info_object() -> None:
    try:
        _raise_with_key()
    except RuntimeError as error:
        structlog.get_logger("slabridge.test").error("cycle_failed", exc_info=error)


def _log_exception_object() -> None:
    try:
        _raise_with_key()
    except RuntimeError as error:
        structlog.get_logger("slabridge.test").error("cycle_failed", error=error)




@pytest.mark.parametrize(
    ("json_output", "log_it"),
    [
        (False, _log_exc_info),
        (True, _log_exc_info_object),
        (False, _log_exc_info_object),
        (True, _log_exception_object),
        (False, _log_exception_object),
    ],
    ids=["console-exception", "json-exc_info-object", "console-exc_info-object",
         "json-exception-object", "console-exception-object"],
)
@pytest.mark.usefixtures("secrets_registered")
def test_exception_objects_never_render_secrets(
    monkeypatch: pytest.MonkeyPatch, json_output: bool, log_it: Any,
) -> None:
    """An exception logged as an object or with exc_info is masked too."""
    stream = use_stderr(monkeypatch, tty=not json_output)
    configure(json_output=json_output)
    log_it()
    output = stream.getvalue()
    assert "cycle_failed" in output
    assert API_KEY not in output


# --- end to end: a sync cycle whose tracker errors carry the key -------------------------


class KeyQuotingTracker(FakeTracker):
    """Two issues whose journal read and write both fail with the API key in the message."""

    def __init__(self) -> None:
        created = NOW - timedelta(minutes=30)
        facts = TicketFacts(project="acme-shop", tracker="Bug", priority="Normal", status="New")
        super().__init__([
            # Never changed: no journal needed, so the cycle goes straight to the write.
            Ticket("1", facts, "Checkout slow", created, created, "New", False, "alice",
                   pristine=True),
            # Changed since: the cycle reads its journal first.
            Ticket("2", facts, "Images missing", created, NOW - timedelta(minutes=5), "New",
                   False, "bob"),
        ])

    def journal(self, key: str) -> Journal:
        """Fails the way a proxy error page quoting the request URL would."""
        self.requests_made += 1
        raise TrackerUnavailableError(
            f"{self.name}: 502 for {self.name}/issues/{key}.json?key={API_KEY}&include=journals"
        )

    def fetch(self, key: str) -> tuple[Ticket, Journal]:
        """Not used by a cycle: a call is a test failure."""
        raise AssertionError("not used by a cycle")

    def update(self, update: TicketUpdate) -> None:
        """Rejects the write with the key in the message."""
        self.requests_made += 1
        self.updates.append(update)
        raise IssueError(f"issue {update.ticket_key}: 422 from PUT /issues/"
                         f"{update.ticket_key}.json (X-Redmine-API-Key: {API_KEY})")


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "console"])
@pytest.mark.usefixtures("secrets_registered")
def test_sync_cycle_logs_tracker_errors_without_the_key(
    monkeypatch: pytest.MonkeyPatch, config: Config, json_output: bool, tmp_path: Path,
) -> None:
    """Errors carrying the API key are logged, counted and reported, the key masked."""
    stream = use_stderr(monkeypatch, tty=not json_output)
    configure(json_output=json_output, level="INFO")
    tracker = KeyQuotingTracker()
    syncer = Syncer(tracker, memory_store(), config.rules(), timedelta(seconds=120))
    report = syncer.cycle(NOW)
    output = stream.getvalue()

    assert [u.ticket_key for u in tracker.updates] == ["1"]  # the write was attempted
    assert (report.seen, report.errors) == (2, 2)
    assert API_KEY not in output
    assert "e2f1c0ffee" not in output
    assert "issue_failed" in output and "cycle_done" in output
    if json_output:
        entries = json_lines(stream)
        failed = {e["issue"]: e for e in entries if e["event"] == "issue_failed"}
        assert set(failed) == {"1", "2"}
        assert failed["1"]["level"] == "warning"
        assert failed["1"]["error"] == (
            "issue 1: 422 from PUT /issues/1.json (X-Redmine-API-Key: ***)"
        )
        assert f"?key={REDACTED}&include=journals" in failed["2"]["error"]
        (done,) = [e for e in entries if e["event"] == "cycle_done"]
        assert (done["errors"], done["seen"]) == (2, 2)


def test_each_write_is_logged_at_info_and_the_level_is_read_at_every_cycle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """`issue_updated` per write at INFO (the daemon's default); none at WARNING (`sync`'s),
    where the line is not even built; a level changed between cycles applies."""
    from tests.listed_tickets import NOW as ODD_NOW
    from tests.listed_tickets import ticket as odd_ticket

    example = load_config(Path(__file__).parents[2] / "config" / "slabridge.example.yaml")
    tracker = FakeTracker([odd_ticket("1"), odd_ticket("2")])
    syncer = Syncer(tracker, memory_store(), example.rules(),
                    timedelta(seconds=30))
    stream = use_stderr(monkeypatch, tty=False)
    configure(json_output=True, level="WARNING")
    assert syncer.cycle(ODD_NOW).writes == 2
    assert "issue_updated" not in stream.getvalue()
    tracker.replace_issues([odd_ticket("3"), odd_ticket("4", priority="Low")])
    configure(json_output=True, level="INFO")
    assert syncer.cycle(ODD_NOW).writes == 2
    updated = [e for e in json_lines(stream) if e["event"] == "issue_updated"]
    assert [(e["issue"], e["level"]) for e in updated] == [("3", "info"), ("4", "info")]
    assert "sla_class" in updated[0]["fields"]
