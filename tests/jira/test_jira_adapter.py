"""The Jira bridge against recorded payloads; every request validated against the spec."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from slabridge.adapters.jira.adf import adf_closing_paragraph, adf_text, to_adf
from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.app.sync import Syncer
from slabridge.bootstrap import build_syncer, build_tracker
from slabridge.config.loader import load_config
from slabridge.domain.annotations import note_keys_in, written_by_slabridge
from slabridge.domain.plan import Notification
from slabridge.errors import TrackerAuthError, TrackerError
from tests.jira.conftest import (
    CLOUD,
    DC,
    DC_AUTH,
    FIELDS,
    NOW,
    body,
    calls,
    load,
    stub_property_writes,
    stub_reference,
    stub_search_pages,
    write_config,
)

pytestmark = pytest.mark.usefixtures("jira_env")


def syncer_for(path: Path) -> Syncer:
    return build_syncer(load_config(path))


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


def test_first_cycle_cloud_pages_classifies_and_writes(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """Three search pages, four issues classified (one by JSM organization), property + ADF."""
    stub_reference(jira)
    stub_search_pages(jira)
    stub_property_writes(jira)
    jira.get(f"{CLOUD}/rest/api/3/search", status=410, json={"errorMessages": ["gone"]})

    report = syncer_for(write_config(tmp_path)).cycle(NOW)

    assert (report.seen, report.classified, report.writes, report.errors) == (4, 4, 4, 0)
    assert len(calls(jira, "GET", r"/rest/api/3/field$")) == 1
    searches = calls(jira, "GET", r"/rest/api/3/search/jql")
    assert len(searches) == 3
    assert query(searches[0])["jql"] == [
        'project in ("ACME", "GLX", "SHARED") ORDER BY updated DESC'
    ]
    assert query(searches[1])["nextPageToken"] == ["token-2"]
    assert not calls(jira, "GET", r"/rest/api/3/search\?")  # never the removed endpoint
    properties = {c.request.url.split("/issue/")[1].split("/")[0]: body(c)
                  for c in calls(jira, "PUT", r"/properties/slabridge\.sla")}
    assert properties["ACME-1"]["sla_class"] == "critical"
    assert properties["ACME-1"]["response_due"] == "2026-11-23T12:00:00Z"
    assert properties["SHARED-4"]["sla_class"] == "critical"  # customer from Organizations
    assert properties["GLX-3"]["sla_class"] == "trivial"
    comments = {c.request.url.split("/issue/")[1].split("/")[0]: body(c)["body"]
                for c in calls(jira, "POST", r"/comment$")}
    assert comments["ACME-1"]["type"] == "doc"
    assert note_keys_in(adf_text(comments["ACME-1"])) == {
        "classified:acme:critical", "sprint:acme:critical"}
    # read back, whichever account posted it, it is slabridge's note and not a response
    assert written_by_slabridge(adf_closing_paragraph(comments["ACME-1"]))
    assert comments["ACME-1"]["content"][0]["content"][0] == {
        "type": "text", "text": "SLA:", "marks": [{"type": "strong"}],
    }
    # Fastlane: critical on Advanced goes into the board's active sprint, and says so.
    moved = sorted(key for c in calls(jira, "POST", r"/sprint/37/issue")
                   for key in body(c)["issues"])
    assert moved == ["ACME-1", "SHARED-4"]
    assert "Moved into the current sprint Sprint 47" in adf_text(comments["ACME-1"])
    assert properties["ACME-1"]["sla_handling"] == "fastlane"
    assert properties["GLX-3"]["sla_handling"] == "joint_planning"


def test_incremental_jql_in_the_users_time_zone(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """The watermark minus overlap, written in the API user's zone (New York), to the minute."""
    stub_reference(jira)
    stub_search_pages(jira)
    stub_property_writes(jira)
    sync = syncer_for(write_config(tmp_path))
    sync.cycle(NOW)
    jira.remove(responses.GET, re.compile(re.escape(f"{CLOUD}/rest/api/3/search/jql")
                                          + r"(\?.*)?$"))
    jira.get(f"{CLOUD}/rest/api/3/search/jql", json=load("search_empty"))
    second = sync.cycle(NOW)
    assert second.writes == 0
    jql = query(calls(jira, "GET", r"/search/jql")[-1])["jql"][0]
    # Newest issue updated 09:00+01:00 = 08:00Z; minus 30 s = 07:59:30Z = 02:59 in New York
    # (to the minute, rounded down).
    assert jql == (
        'project in ("ACME", "GLX", "SHARED") AND updated >= "2026/11/23 02:59" '
        "ORDER BY updated DESC"
    )


def test_retry_after_honoured_by_the_librarys_own_retry(
    jira: responses.RequestsMock, tmp_path: Path, no_retry_sleep: list[float]
) -> None:
    """A 429 with Retry-After is retried once by the jira library, after the asked delay."""
    slept = no_retry_sleep
    stub_reference(jira)
    jira.get(f"{CLOUD}/rest/api/3/search/jql", status=429, headers={"Retry-After": "3"},
             json={"errorMessages": ["rate limited"]})
    jira.get(f"{CLOUD}/rest/api/3/search/jql", json=load("search_empty"))
    report = syncer_for(write_config(tmp_path)).cycle(NOW)
    assert report.errors == 0
    (delay,) = slept
    assert 3 <= delay <= 6  # the library waits 2 x Retry-After with jitter (x 0.5 to 1)
    assert len(calls(jira, "GET", r"/search/jql")) == 2  # one retry layer, not two


def test_bad_credentials_stop_the_run(jira: responses.RequestsMock, tmp_path: Path) -> None:
    """401 is a TrackerAuthError with one clear line."""
    jira.get(f"{CLOUD}/rest/api/2/serverInfo", status=401, json={"errorMessages": ["no"]})
    with pytest.raises(TrackerAuthError, match=r"rejected the credentials \(HTTP 401\)"):
        syncer_for(write_config(tmp_path)).cycle(NOW)


def test_404_mid_cycle_skips_one_issue(jira: responses.RequestsMock, tmp_path: Path) -> None:
    """An issue deleted before its comment: reported, the others written."""
    stub_reference(jira)
    stub_search_pages(jira)
    jira.put(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/properties/slabridge\.sla"),
             json={})
    jira.post(f"{CLOUD}/rest/api/3/issue/ACME-2/comment", status=404,
              json={"errorMessages": ["Issue does not exist"]})
    jira.post(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/comment"), status=201, json={})
    report = syncer_for(write_config(tmp_path)).cycle(NOW)
    assert report.errors == 1
    assert report.problems[0].startswith("issue ACME-2: HTTP 404")
    assert report.writes == 3


def test_custom_fields_missing_are_named(jira: responses.RequestsMock, tmp_path: Path) -> None:
    """Configured field names that /field does not know stop the run, naming them."""
    stub_reference(jira)
    extra = "  fields:\n    response_due: Due by\n    response_due_date: SLA response due date\n" \
            "    sla_class: SLA class\n    sla_status: SLA state"
    with pytest.raises(TrackerError, match="Jira has no field named 'Due by', 'SLA state'"):
        syncer_for(write_config(tmp_path, extra=extra)).cycle(NOW)


def test_custom_field_mode_one_put_with_comment(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """With fields configured: one PUT per issue carrying fields (typed) and the comment."""
    stub_reference(jira)
    stub_search_pages(jira)
    jira.put(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+$"), status=204)
    report = syncer_for(write_config(tmp_path, extra=FIELDS)).cycle(NOW)
    assert report.writes == 4
    (put,) = calls(jira, "PUT", r"/issue/ACME-1$")
    sent = body(put)
    assert sent["fields"]["customfield_10040"] == "2026-11-23T12:00:00.000+0000"
    assert sent["fields"]["customfield_10041"] == "2026-11-23"
    assert sent["fields"]["customfield_10042"] == "critical"
    assert "classified:acme:critical" in note_keys_in(
        adf_text(sent["update"]["comment"][0]["add"]["body"]))
    assert not calls(jira, "POST", r"/comment")


def test_data_center_v2_bearer_and_wiki_markup(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """Data Center: personal access token as bearer, API v2, comments in wiki markup."""
    stub_reference(jira, base=DC, version="2", server="serverInfo_dc")
    issues = [i for page in ("search_page1", "search_page2", "search_page3")
              for i in load(page)["issues"]]
    # Data Center has no /search/jql: the library pages /search with startAt.
    jira.get(f"{DC}/rest/api/2/search",
             json={"startAt": 0, "maxResults": 100, "total": len(issues), "issues": issues})
    jira.put(re.compile(rf"{DC}/rest/api/2/issue/[A-Z]+-\d+/properties/slabridge\.sla"), json={})
    jira.post(re.compile(rf"{DC}/rest/api/2/issue/[A-Z]+-\d+/comment"), status=201, json={})
    syncer_for(write_config(tmp_path, url=DC, auth=DC_AUTH)).cycle(NOW)
    comment = calls(jira, "POST", r"/rest/api/2/issue/ACME-1/comment")[0]
    assert comment.request.headers["Authorization"] == "Bearer dc-pat-abcdef"
    text = body(comment)["body"]
    assert isinstance(text, str)
    assert text.startswith("*SLA:* classified as *Critical incident")
    assert calls(jira, "GET", r"/rest/api/2/search\?")


def test_changelog_acceptance_and_own_comments(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """A changed issue's changelog shows acceptance; our earlier comment is recognised."""
    stub_reference(jira)
    changed = load("issue_changelog")
    changed["fields"]["comment"] = {"comments": [{
        "id": "900", "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
        "created": "2026-11-23T09:05:00.000+0100",
        "body": to_adf("*SLA:* classified\n\n[slabridge classified:acme:critical]"),
    }]}
    jira.get(f"{CLOUD}/rest/api/3/search/jql", json={"issues": [changed], "isLast": True})
    jira.get(f"{CLOUD}/rest/api/3/issue/ACME-1", json=changed)
    jira.put(f"{CLOUD}/rest/api/3/issue/ACME-1/properties/slabridge.sla", json={})
    jira.post(f"{CLOUD}/rest/api/3/issue/ACME-1/comment", status=201, json={})
    report = syncer_for(write_config(tmp_path)).cycle(NOW)
    assert report.statuses == {"met": 1}
    (comment,) = calls(jira, "POST", r"/comment")
    assert "acme:critical:met" in note_keys_in(adf_text(body(comment)["body"]))
    changelog = calls(jira, "GET", r"/issue/ACME-1\?")[0]
    assert query(changelog)["expand"] == ["changelog"]


def test_active_sprint_and_moves_in_batches_of_50(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """The board's active sprint; 120 issues move in three requests."""
    stub_reference(jira)
    jira.get(f"{CLOUD}/rest/agile/1.0/board/5/sprint", json=load("sprint_active"))
    jira.post(f"{CLOUD}/rest/agile/1.0/sprint/37/issue", status=204)
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    sprint = tracker.sprints.active_sprint()
    assert sprint is not None and (sprint.id, sprint.name) == ("37", "Sprint 47")
    keys = [f"ACME-{n}" for n in range(120)]
    assert tracker.sprints.move_to_sprint(sprint.id, keys) == 3
    sizes = [len(body(c)["issues"]) for c in calls(jira, "POST", r"/sprint/37/issue")]
    assert sizes == [50, 50, 20]
    assert query(calls(jira, "GET", r"/board/5/sprint")[0])["state"] == ["active"]


def test_worklogs_read_incrementally(jira: responses.RequestsMock, tmp_path: Path) -> None:
    """/worklog/updated pages, then /worklog/list for the ids."""
    stub_reference(jira)

    def updated(request: Any) -> tuple[int, dict[str, str], str]:
        page = "worklog_updated_page2" if request.params.get("since") == "1763890000000" \
            else "worklog_updated_page1"
        return 200, {"Content-Type": "application/json"}, json.dumps(load(page))

    jira.add_callback(responses.GET, re.compile(rf"{CLOUD}/rest/api/3/worklog/updated.*"),
                      callback=updated)
    jira.post(f"{CLOUD}/rest/api/3/worklog/list", json=load("worklog_list"))
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    entries, next_since = tracker.worklogs.updated_since(
        datetime.fromtimestamp(1763800000, UTC)
    )
    assert [(e.id, e.ticket_key, e.seconds) for e in entries] == [
        ("103", "10001", 3600), ("104", "10002", 1800), ("105", "10001", 5400),
    ]
    assert body(calls(jira, "POST", r"/worklog/list")[0]) == {"ids": [103, 104, 105]}
    assert next_since == datetime.fromtimestamp(1763895000, UTC)
    assert entries[0].comment == "fixed checkout"


def test_old_search_endpoint_410_is_a_clear_error(tmp_path: Path) -> None:
    """Code that still calls the removed /search gets a clear error, not a silent empty list.

    Deliberately not validated: the spec validator itself rejects /search on Cloud, which
    is why the adapter never sends it (see the first test).
    """
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        stub_reference(mock)
        mock.get(f"{CLOUD}/rest/api/3/search", status=410,
                 json={"errorMessages": ["The requested API has been removed."]})
        tracker = build_tracker(load_config(write_config(tmp_path)))
        assert isinstance(tracker, JiraTracker)
        tracker.prepare()
        with pytest.raises(TrackerError, match=r"Jira removed this endpoint \(HTTP 410\)"):
            tracker.connection.get("search", {"jql": "project = ACME"})


def test_adf_round_trip() -> None:
    """Bold spans become strong marks; text comes back out with the marker intact."""
    document = to_adf("*SLA met:* accepted.\n\n[slabridge acme:minor:met]")
    assert document["content"][0]["content"][0]["marks"] == [{"type": "strong"}]
    assert adf_text(document) == "SLA met: accepted. [slabridge acme:minor:met]"


def test_cli_sync_status_and_explain_on_jira(
    jira: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sync`, `status` and `explain` work unchanged with kind: jira."""
    from slabridge.cli.main import run

    stub_reference(jira)
    stub_search_pages(jira)
    stub_property_writes(jira)
    path = str(write_config(tmp_path))
    assert run(["--config", path, "sync", "--once"]) == 0
    assert capsys.readouterr().out.startswith(
        "full cycle: 4 issues listed, 4 decided (4 classified")
    assert run(["--config", path, "status", "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert {row["issue"] for row in board} == {"ACME-1", "ACME-2", "GLX-3", "SHARED-4"}
    jira.get(f"{CLOUD}/rest/api/3/issue/ACME-1", json=load("issue_changelog"))
    assert run(["--config", path, "explain", "ACME-1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["customer"], data["tier"], data["sla_status"]) == ("acme", "advanced", "met")
    assert data["acceptance"] == "status changed to In Progress"


ESCALATION = """
escalation:
  channels:
    chat: {kind: webhook, url: "https://hooks.example.com/sla"}
  ladders:
    standard:
      - {name: breached, when: breached, mention: [5b10ac8d82e05b22cc7d4ef5],
         watchers: [5b10ac8d82e05b22cc7d4ef5], raise_priority: Highest,
         reassign: 5b10ac8d82e05b22cc7d4ef5, notify: [chat]}
  rules:
    - {ladder: standard, classes: [critical]}
"""


def test_escalation_on_jira_mentions_watchers_assignee_priority(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """A breach on Jira: ADF mention, watcher, assignee and priority, webhook once."""
    stub_reference(jira)
    one = load("search_page1")["issues"][0]
    jira.get(f"{CLOUD}/rest/api/3/search/jql", json={"issues": [one], "isLast": True})
    stub_property_writes(jira)
    jira.put(f"{CLOUD}/rest/api/3/issue/ACME-1", status=204)
    jira.put(f"{CLOUD}/rest/api/3/issue/ACME-1/assignee", status=204)
    jira.post(f"{CLOUD}/rest/api/3/issue/ACME-1/watchers", status=204)
    sync = syncer_for(write_config(tmp_path, extra=ESCALATION))
    sent: list[Notification] = []

    class Recording:
        """A working fake channel (webhooks are exercised for real in the Redmine tests)."""

        def send(self, notification: Notification) -> None:
            sent.append(notification)

    sync.notifiers["chat"] = Recording()
    report = sync.cycle(datetime(2026, 11, 23, 13, 30, tzinfo=UTC))
    assert report.notifications == 1
    assert [n.key for n in sent] == ["notified:escalated:acme:critical:standard:breached:chat"]
    (comment,) = calls(jira, "POST", r"/issue/ACME-1/comment")
    document = body(comment)["body"]
    mentions = [node for paragraph in document["content"] for node in paragraph["content"]
                if node["type"] == "mention"]
    assert mentions == [{"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5"}}]
    assert body(calls(jira, "PUT", r"/issue/ACME-1$")[0]) == {
        "fields": {"priority": {"name": "Highest"}}
    }
    assert body(calls(jira, "PUT", r"/issue/ACME-1/assignee")[0]) == {
        "accountId": "5b10ac8d82e05b22cc7d4ef5"
    }
    assert body(calls(jira, "POST", r"/issue/ACME-1/watchers")[0]) == (
        "5b10ac8d82e05b22cc7d4ef5"
    )
    again = sync.cycle(datetime(2026, 11, 23, 13, 45, tzinfo=UTC))
    assert again.notifications == 0
    assert len(calls(jira, "POST", r"/issue/ACME-1/comment")) == 1  # no second escalation


def test_hours_from_worklogs_posted_as_one_comment(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """Worklogs are read incrementally, attributed through their issues, and the statement
    comment is added once and then updated in place."""
    from slabridge.adapters.state.sqlite import SqliteStateStore
    from slabridge.app.hours import HoursService

    stub_reference(jira)
    stub_search_pages(jira)
    stub_property_writes(jira)
    path = write_config(tmp_path).read_text(encoding="utf-8").replace(
        "state:\n", "hours:\n  post_to: {acme: \"issue:ACME-9\"}\nstate:\n")
    config_path = tmp_path / "slabridge.yaml"
    config_path.write_text(path, encoding="utf-8")
    sync = syncer_for(config_path)
    sync.cycle(NOW)

    def updated(request: Any) -> tuple[int, dict[str, str], str]:
        page = "worklog_updated_page2" if request.params.get("since") == "1763890000000" \
            else "worklog_updated_page1"
        return 200, {"Content-Type": "application/json"}, json.dumps(load(page))

    jira.add_callback(responses.GET, re.compile(rf"{CLOUD}/rest/api/3/worklog/updated.*"),
                      callback=updated)
    jira.post(f"{CLOUD}/rest/api/3/worklog/list", json=load("worklog_list"))
    jira.post(f"{CLOUD}/rest/api/3/issue/ACME-9/comment", status=201, json={"id": "777"})
    jira.put(f"{CLOUD}/rest/api/3/issue/ACME-9/comment/777", json={"id": "777"})
    config = load_config(config_path)
    store = sync.store
    assert isinstance(store, SqliteStateStore)
    service = HoursService(sync.tracker, store, config)
    assert service.refresh(datetime(2025, 11, 23, tzinfo=UTC).date()) == 3
    (acme,) = service.statements("2026-11", "acme", NOW)
    # Worklogs 103 and 105 are on issue 10001 = ACME-1 (Acme); 104 on ACME-2 (Acme too).
    assert acme.statement.used == Decimal("3.00")
    assert service.post([acme], NOW) == ["777"]
    assert service.post([acme], NOW) == ["777"]
    assert len(calls(jira, "POST", r"/issue/ACME-9/comment$")) == 1
    assert len(calls(jira, "PUT", r"/issue/ACME-9/comment/777$")) == 1
