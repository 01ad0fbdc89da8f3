"""Escalation, Fastlane and emergency tickets against the real Redmine, a real SMTP server
(aiosmtpd) and a real webhook receiver, all on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs

from slabridge.app.sync import Syncer
from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from tests.conftest import vienna
from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import SERVICE, RedmineAdmin

pytestmark = pytest.mark.redmine


@dataclass
class Inbox:
    """Messages the local SMTP server accepted."""

    messages: list[Any] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class Hooks(BaseHTTPRequestHandler):
    """Records webhook POSTs."""

    received: ClassVar[list[tuple[dict[str, str], dict[str, Any]]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
        self.send_response(204)
        self.end_headers()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def hooks() -> Iterator[str]:
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


CONFIG = """\
include: [contract-terms]
customers:
  acme:
    name: Acme
    contracts: [{{tier: advanced, from: 2020-01-01}}]
  globex:
    name: Globex
    contracts: [{{tier: premium, from: 2020-01-01, emergency_tickets: 1}}]
classification:
  customers:
    - {{match: {{project: {acme}}}, customer: acme}}
    - {{match: {{project: {globex}}}, customer: globex}}
tracker:
  kind: redmine
  url: ${{REDMINE_URL}}
  api_key: ${{REDMINE_API_KEY}}
  projects: [{acme}, {globex}, {internal}]
  receipt_field: Incident received
state:
  path: state.sqlite3
escalation:
  channels:
    mail: {{kind: email, to: [ops@example.com], sender: sla@example.com,
            smtp_host: 127.0.0.1, smtp_port: {smtp_port}}}
    chat: {{kind: webhook, url: "{hook}"}}
  ladders:
    standard:
      - {{name: at-risk, when: at_risk, mention: [sam.staff], watchers: [sam.staff],
          notify: [chat]}}
      - {{name: breached, when: breached, mention: [sam.staff], raise_priority: Immediate,
          reassign: sam.staff, notify: [mail, chat]}}
  rules:
    - {{ladder: standard, classes: [critical]}}
"""


@pytest.fixture
def config_path(workspace: Workspace, inbox: tuple[Inbox, int], hooks: str) -> Workspace:
    workspace.config_path.write_text(
        CONFIG.format(**workspace.projects, smtp_port=inbox[1], hook=hooks), encoding="utf-8"
    )
    return workspace


def syncer(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Syncer:
    for name in ("REDMINE_URL", "REDMINE_API_KEY"):
        monkeypatch.setenv(name, workspace.env[name])
    return build_syncer(load_config(workspace.config_path))


def test_ladder_steps_once_each_across_a_restart(
    config_path: Workspace, admin: RedmineAdmin, inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At risk: note with mention, watcher, webhook. Restart. Breach: priority, assignee,
    e-mail and webhook. Nothing twice."""
    received = "2026-11-20T09:00:00+01:00"  # Friday; Advanced critical due 13:00
    issue = admin.make_issue(config_path.projects["acme"], "Payment down", priority="Urgent",
                             Incident_received=received)
    first = syncer(config_path, monkeypatch)
    with capture_logs() as logs:
        report = first.cycle(vienna(2026, 11, 20, 12, 10))
    assert report.notifications == 1
    raw = admin.raw(issue)
    assert any("@sam.staff" in n and "Escalation (at-risk)" in n for n in admin.notes(issue))
    # slabridge runs with the stock Developer role, which may not add watchers: the note
    # and fields are written all the same, and what to grant is said once.
    watchers = admin.redmine.issue.get(issue, include=["watchers"]).watchers
    assert [w.name for w in watchers] == []
    assert [e for e in logs if e["event"] == "watchers_not_added"] == [
        {"event": "watchers_not_added", "log_level": "warning", "issue": str(issue),
         "person": "sam.staff",
         "reason": "forbidden (HTTP 403): give slabridge's role the 'Add watchers' permission"}]
    assert raw["priority"]["name"] == "Urgent"
    assert len(Hooks.received) == 1
    headers, payload = Hooks.received[0]
    assert headers["Idempotency-Key"] == (
        f"{issue}/notified:escalated:acme:critical:standard:at-risk:chat"
    )
    assert payload["issue"] == str(issue)
    assert payload["url"] == f"{admin.url}/issues/{issue}"  # a link the PM can open

    restarted = syncer(config_path, monkeypatch)  # a new process: only the state file remains
    restarted.cycle(vienna(2026, 11, 20, 13, 30))
    restarted.cycle(vienna(2026, 11, 20, 13, 45))
    raw = admin.raw(issue)
    assert raw["priority"]["name"] == "Immediate"
    assert raw["assigned_to"]["name"] == "Sam Staff"
    assert len(Hooks.received) == 2
    messages = inbox[0].messages
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith(f"[SLA breached] {issue} Acme: Payment down")
    assert f"{admin.url}/issues/{issue}" in messages[0].get_payload()
    key = f"{issue}/notified:escalated:acme:critical:standard:breached:mail"
    assert f"X-Slabridge-Key: {key}\r\n".encode() in inbox[0].raw[0]  # one line, not folded
    escalations = [n for n in admin.notes(issue) if "Escalation (" in n]
    assert len(escalations) == 2


def test_watchers_added_where_the_role_allows_it(
    config_path: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 'Add watchers' (here: the Manager role), the at-risk step adds its watcher."""
    project = config_path.projects["acme"]
    membership = next(m for m in admin.redmine.project_membership.filter(project_id=project)
                      if m.user.id == admin.user_ids[SERVICE])
    admin.redmine.project_membership.update(membership.id, role_ids=[admin.roles["Manager"]])
    issue = admin.make_issue(project, "Payment down", priority="Urgent",
                             Incident_received="2026-11-20T09:00:00+01:00")
    with capture_logs() as logs:
        syncer(config_path, monkeypatch).cycle(vienna(2026, 11, 20, 12, 10))
    watchers = admin.redmine.issue.get(issue, include=["watchers"]).watchers
    assert [w.name for w in watchers] == ["Sam Staff"]
    assert not [e for e in logs if e["event"] == "watchers_not_added"]


def test_fastlane_into_the_open_version_due_soonest(
    config_path: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Critical on Advanced goes into the open version due soonest, never a closed one,
    never out of a version a person chose."""
    project = config_path.projects["acme"]
    today = datetime.now(UTC).date()
    closed = admin.redmine.version.create(project_id=project, name="Old sprint",
                                          due_date=today + timedelta(days=3))
    admin.redmine.version.update(closed.id, status="closed")
    later = admin.redmine.version.create(project_id=project, name="Sprint 48",
                                         due_date=today + timedelta(days=20))
    current = admin.redmine.version.create(project_id=project, name="Sprint 47",
                                           due_date=today + timedelta(days=6))
    critical = admin.make_issue(project, "Shop down", priority="Urgent")
    chosen = admin.make_issue(project, "Already planned", priority="Urgent")
    admin.redmine.issue.update(chosen, fixed_version_id=later.id)
    minor = admin.make_issue(project, "Slow page", priority="High")
    syncer(config_path, monkeypatch).cycle(datetime.now(UTC))
    assert admin.raw(critical)["fixed_version"]["id"] == current.id
    assert any("Moved into the current sprint *Sprint 47*" in n for n in admin.notes(critical))
    assert admin.raw(chosen)["fixed_version"]["id"] == later.id
    assert "fixed_version" not in admin.raw(minor)
    assert admin.field(minor, "SLA handling") == "joint_planning"
    assert admin.field(critical, "SLA handling") == "fastlane"


def test_project_without_sprint_reported_once(
    config_path: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No open version: reported in the first cycle only."""
    admin.make_issue(config_path.projects["acme"], "Shop down", priority="Urgent")
    sync = syncer(config_path, monkeypatch)
    first = sync.cycle(datetime.now(UTC))
    admin.make_issue(config_path.projects["acme"], "Checkout down", priority="Urgent")
    second = syncer(config_path, monkeypatch).cycle(datetime.now(UTC))
    message = f"project {config_path.projects['acme']} has no current sprint"
    assert [p for p in first.problems if p.startswith(message)]
    assert not [p for p in second.problems if p.startswith(message)]


def test_emergency_tickets_counted_and_over_quota_flagged(
    config_path: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Globex includes one emergency ticket a month: the second one is flagged."""
    project = config_path.projects["globex"]
    first = admin.make_issue(project, "Down on Saturday", priority="Urgent",
                             Incident_received="2026-11-21T10:00:00+01:00")
    second = admin.make_issue(project, "Down again on Sunday", priority="Urgent",
                              Incident_received="2026-11-22T10:00:00+01:00")
    weekday = admin.make_issue(project, "Down on Monday", priority="Urgent",
                               Incident_received="2026-11-23T10:00:00+01:00")
    report = syncer(config_path, monkeypatch).cycle(vienna(2026, 11, 23, 10, 30))
    assert "Emergency ticket 1 of 1 included this month" in admin.notes(first)[0]
    assert "Emergency ticket 2 this month: *over* the 1" in admin.notes(second)[0]
    assert "Emergency ticket" not in admin.notes(weekday)[0]
    assert [p for p in report.problems if "over its emergency-ticket quota" in p] == [
        f"customer globex is over its emergency-ticket quota in 2026-11: 2 of 1 ({second})"
    ]


class DownHooks(Hooks):
    """The webhook receiver answering 503 while `down` is set."""

    down: ClassVar[bool] = False

    def do_POST(self) -> None:
        if DownHooks.down:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(503)
            self.end_headers()
            return
        super().do_POST()


def test_a_channel_down_blocks_neither_redmine_nor_the_other_channel(
    workspace: Workspace, admin: RedmineAdmin, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SMTP stopped: the breach note reaches Redmine and the webhook is told; SMTP back,
    the mail goes out once. Then the webhook down: the mail and the note are not held up,
    and the webhook is told once it is back. (With SMTP down nothing reached Redmine.)"""
    handler = Inbox()
    smtp_port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), DownHooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    workspace.config_path.write_text(CONFIG.format(
        **workspace.projects, smtp_port=smtp_port, hook=hook).replace(
        "notify: [chat]}", "notify: [mail, chat]}"), encoding="utf-8")
    try:
        issue = admin.make_issue(workspace.projects["acme"], "Payment down", priority="Urgent",
                                 Incident_received="2026-11-20T09:00:00+01:00")  # due 13:00
        sync = syncer(workspace, monkeypatch)
        # SMTP is not running at all: at risk at 12:10.
        first = sync.cycle(vienna(2026, 11, 20, 12, 10))
        assert admin.field(issue, "SLA status") == "at_risk"
        assert any("Escalation (at-risk)" in n for n in admin.notes(issue))
        assert [p["key"] for _, p in Hooks.received] == [
            "notified:escalated:acme:critical:standard:at-risk:chat"]
        assert first.channels == {"mail": [0, 1], "chat": [1, 0]}
        assert first.errors == 0
        smtp.start()
        sync.channels._retry.clear()  # the backoff minute has passed
        sync.cycle(vienna(2026, 11, 20, 12, 12))
        assert [m["Subject"][:14] for m in handler.messages] == ["[SLA at risk] "]
        # Now the webhook is down at the breach.
        DownHooks.down = True
        breach = sync.cycle(vienna(2026, 11, 20, 13, 5))
        assert admin.field(issue, "SLA status") == "breached"
        assert len(handler.messages) == 2
        assert breach.channels == {"mail": [1, 0], "chat": [0, 1]}
        DownHooks.down = False
        sync.channels._retry.clear()
        sync.cycle(vienna(2026, 11, 20, 13, 7))
        sync.cycle(vienna(2026, 11, 20, 13, 9))
        assert [p["key"].rsplit(":", 2)[1] for _, p in Hooks.received] == [
            "at-risk", "breached"]
        assert len(handler.messages) == 2
        assert len([n for n in admin.notes(issue) if "Escalation (" in n]) == 2
    finally:
        DownHooks.down = False
        if smtp.loop.is_running():
            smtp.stop()
        server.shutdown()
        server.server_close()
