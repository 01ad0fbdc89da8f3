"""Odd answers Jira may send: one unreadable issue is skipped and named, listings end.

Every case here ended in an internal error (exit 3), a wrong deployment or an endless
listing before issue 17; every request is still validated against Atlassian's spec.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from structlog.testing import capture_logs

from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.app.report import SyncReport
from slabridge.bootstrap import build_syncer, build_tracker
from slabridge.cli.main import run
from slabridge.config.loader import load_config
from slabridge.errors import IssueError, TrackerError
from tests.jira.conftest import CLOUD, DC_AUTH, load, stub_reference, write_config
from tests.jira_openapi.fixtures import example_response

pytestmark = pytest.mark.usefixtures("jira_env")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
SEARCH = re.compile(re.escape(f"{CLOUD}/rest/api/3/search/jql") + r"(\?.*)?$")
GOOD = [issue for page in ("search_page1", "search_page2", "search_page3")
        for issue in load(page)["issues"]]


def odd_issue(change: str, value: Any = "absent") -> dict[str, Any]:
    """ACME-9, a copy of a good issue with one dotted path removed or set to `value`."""
    issue: dict[str, Any] = copy.deepcopy(GOOD[0])
    issue["key"], issue["id"] = "ACME-9", "10009"
    *parents, last = change.split(".")
    node = issue
    for name in parents:
        node = node[name]
    if value == "absent":
        del node[last]
    else:
        node[last] = value
    return issue


def stub_listing(mock: responses.RequestsMock, issues: list[Any]) -> None:
    """One page of search results holding these issues."""
    mock.get(SEARCH, json={"issues": issues, "isLast": True})


def dry_cycle(tmp_path: Path) -> SyncReport:
    """One dry-run cycle of the Cloud example configuration."""
    return build_syncer(load_config(write_config(tmp_path))).cycle(NOW, dry_run=True)


def searches(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if "/search/jql" in (c.request.url or "")]


def test_atlassian_example_issue_is_reported_and_skipped(
    jira: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Atlassian's own example answers: the example issue (no status) is named, sync exits 0."""
    jira.get(f"{CLOUD}/rest/api/2/serverInfo", json=example_response("/rest/api/2/serverInfo",
                                                                    "GET"))
    jira.get(f"{CLOUD}/rest/api/3/myself", json=load("myself"))
    jira.get(f"{CLOUD}/rest/api/3/field", json=load("fields"))
    example = example_response("/rest/api/3/search/jql", "GET")
    stub_listing(jira, [*example["issues"], GOOD[2]])
    code = run(["--config", str(write_config(tmp_path)), "sync", "--once", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 issues listed" in out
    assert "problem: issue ED-1: cannot be read: fields.status is missing" in out


@pytest.mark.parametrize(("change", "value", "problem"), [
    ("fields.created", "absent", "fields.created is missing"),
    ("fields.created", None, "fields.created is null"),
    ("fields.updated", "absent", "fields.updated is missing"),
    ("fields.updated", 1763884800000, "fields.updated is a number (1763884800000), not text"),
    ("fields.created", "yesterday", "fields.created is not a time: 'yesterday'"),
    ("fields.project", None, "fields.project is null, not an object"),
    ("fields.issuetype", "absent", "fields.issuetype is missing"),
    ("fields.status", "absent", "fields.status is missing"),
    ("fields.status.statusCategory", None,
     "fields.status.statusCategory is null, not an object"),
    ("fields.status.statusCategory", "absent", "fields.status.statusCategory is missing"),
    ("fields.labels", "urgent", "fields.labels is text ('urgent'), not a list of labels"),
    ("fields", None, "fields is null, not an object"),
])
def test_one_unreadable_issue_is_named_and_skipped(
    jira: responses.RequestsMock, tmp_path: Path, change: str, value: Any, problem: str
) -> None:
    """An issue missing (or with a null or wrong) field is reported once; the others go on."""
    stub_reference(jira)
    stub_listing(jira, [GOOD[0], odd_issue(change, value), *GOOD[1:]])
    with capture_logs() as logs:
        report = dry_cycle(tmp_path)
    assert (report.seen, report.classified, report.errors) == (4, 4, 1)
    assert report.problems == [f"issue ACME-9: cannot be read: {problem}"]
    assert [e for e in logs if e["event"] == "issue_unreadable"] == [{
        "event": "issue_unreadable", "log_level": "warning", "issue": "ACME-9",
        "field": problem.split(" ")[0], "problem": problem.split(" ", 1)[1]}]


@pytest.mark.parametrize("key", ["absent", None, "", "not a key"])
def test_issue_without_a_usable_key_is_named_by_id(
    jira: responses.RequestsMock, tmp_path: Path, key: Any
) -> None:
    """No key (or none that could go into a URL): named by its id, skipped."""
    stub_reference(jira)
    stub_listing(jira, [GOOD[0], odd_issue("key", key)])
    report = dry_cycle(tmp_path)
    assert report.seen == 1
    assert len(report.problems) == 1
    assert report.problems[0].startswith("issue ")
    assert ": cannot be read: key " in report.problems[0]


def test_the_same_unreadable_issue_twice_is_reported_once(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """An issue listed on two pages (it moved while we paged) is one problem, not two."""
    stub_reference(jira)
    bad = odd_issue("fields.created")
    stub_listing(jira, [bad, GOOD[0], bad])
    report = dry_cycle(tmp_path)
    assert report.problems == ["issue ACME-9: cannot be read: fields.created is missing"]


def test_every_issue_unreadable_on_one_field_stops_with_exit_1(
    jira: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several issues, all without status: not the issues' fault; exit 1 naming the field."""
    stub_reference(jira)
    broken = [copy.deepcopy(i) for i in GOOD]
    for issue in broken:
        del issue["fields"]["status"]
    stub_listing(jira, broken)
    code = run(["--config", str(write_config(tmp_path)), "sync", "--once", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no issue of the listing can be read: in all 4, fields.status is wrong" in err
    assert "Traceback" not in err


def test_repeated_page_token_stops_the_listing(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """A server that gives the same nextPageToken again is not paged forever."""
    stub_reference(jira)
    jira.get(SEARCH, json={"issues": [GOOD[0]], "isLast": False, "nextPageToken": "again"})
    with pytest.raises(TrackerError, match="repeats the nextPageToken 'again'"):
        dry_cycle(tmp_path)
    assert len(searches(jira)) == 2


def test_listing_stops_at_the_page_cap(
    jira: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ever new tokens: the listing stops at the cap with a clear error."""
    monkeypatch.setattr("slabridge.adapters.jira.tracker.SEARCH_PAGE_CAP", 3)
    stub_reference(jira)
    pages = iter(range(100))

    def page(request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps({"issues": [], "isLast": False,
                                    "nextPageToken": f"t{next(pages)}"})

    jira.add_callback(responses.GET, SEARCH, callback=page)
    with pytest.raises(TrackerError, match="gave more than 3 pages"):
        dry_cycle(tmp_path)
    assert len(searches(jira)) == 3


def test_is_last_ends_the_listing_even_with_a_token(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """isLast true is the end, whatever token comes with it."""
    stub_reference(jira)
    jira.get(SEARCH, json={"issues": GOOD, "isLast": True, "nextPageToken": "more"})
    assert dry_cycle(tmp_path).seen == 4
    assert len(searches(jira)) == 1


def test_more_pages_promised_without_a_token_is_an_error(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """isLast false and no token: the listing would be incomplete, so it fails."""
    stub_reference(jira)
    jira.get(SEARCH, json={"issues": GOOD, "isLast": False})
    with pytest.raises(TrackerError, match="gives no nextPageToken"):
        dry_cycle(tmp_path)


def test_server_info_without_deployment_type_on_atlassian_net_is_cloud(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """Atlassian's example serverInfo has no deploymentType: the host decides, and is logged."""
    stub_reference(jira)
    jira.replace(responses.GET, f"{CLOUD}/rest/api/2/serverInfo",
                 json=example_response("/rest/api/2/serverInfo", "GET"))
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    with capture_logs() as logs:
        tracker.prepare()
    assert (tracker.deployment, tracker.api_version) == ("cloud", "3")
    (event,) = [e for e in logs if e["event"] == "jira_deployment"]
    assert event["evidence"] == ("serverInfo gives deploymentType None; the host "
                                 "example.atlassian.net is Atlassian's cloud")


def test_server_info_with_an_unknown_type_elsewhere_asks_myself(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """Another host and an unknown deploymentType: /myself with a user name is Data Center."""
    base = "https://jira.example.com"
    jira.get(f"{base}/rest/api/2/serverInfo", json={**load("serverInfo_dc"),
                                                   "deploymentType": "Weird"})
    jira.get(f"{base}/rest/api/2/myself", json={"key": "JIRAUSER10100", "name": "sla-bot"})
    jira.get(f"{base}/rest/api/2/field", json=load("fields"))
    tracker = build_tracker(load_config(write_config(tmp_path, url=base, auth=DC_AUTH)))
    assert isinstance(tracker, JiraTracker)
    with capture_logs() as logs:
        tracker.prepare()
    assert (tracker.deployment, tracker.api_version) == ("datacenter", "2")
    (event,) = [e for e in logs if e["event"] == "jira_deployment"]
    assert event["log_level"] == "warning"
    assert event["evidence"] == ("serverInfo gives deploymentType 'Weird'; /myself answers "
                                 "with a user key or name (Data Center)")
    assert len([c for c in jira.calls if (c.request.url or "").endswith("/myself")]) == 1


def test_server_info_without_a_type_on_a_custom_domain_cloud_asks_myself(
    tmp_path: Path
) -> None:
    """A Cloud site on its own domain: /myself with an accountId only is Cloud (API v3).

    Not validated: the validator takes every host but *.atlassian.net for Data Center.
    """
    base = "https://jira.example.com"
    with responses.RequestsMock() as mock:
        mock.get(f"{base}/rest/api/2/serverInfo", json={"version": "1001.0.0-SNAPSHOT"})
        mock.get(f"{base}/rest/api/2/myself",
                 json={"accountId": "5b10ac8d82e05b22cc7d4ef5", "key": "", "name": ""})
        mock.get(f"{base}/rest/api/3/field", json=load("fields"))
        tracker = build_tracker(load_config(write_config(tmp_path, url=base)))
        assert isinstance(tracker, JiraTracker)
        tracker.prepare()
    assert (tracker.deployment, tracker.api_version) == ("cloud", "3")


def test_server_info_without_any_evidence_is_an_error(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """No deploymentType, another host, an anonymous /myself: exit 1, not a guess."""
    base = "https://jira.example.com"
    jira.get(f"{base}/rest/api/2/serverInfo", json={"version": "9.12.0"})
    jira.get(f"{base}/rest/api/2/myself", json={"displayName": "?"})
    tracker = build_tracker(load_config(write_config(tmp_path, url=base, auth=DC_AUTH)))
    with pytest.raises(TrackerError, match="cannot tell Jira Cloud from Data Center"):
        tracker.prepare()


@pytest.mark.parametrize(("answer", "says"), [
    ({"errorMessages": ["The value 'NOPE' does not exist for the field 'project'."],
      "errors": {}}, "The value 'NOPE' does not exist for the field 'project'."),
    ({"errorMessages": [], "errors": {"jql": "Field 'x' does not exist"}},
     "jql: Field 'x' does not exist"),
])
def test_http_error_names_the_endpoint_and_jiras_message(
    jira: responses.RequestsMock, tmp_path: Path, answer: dict[str, Any], says: str
) -> None:
    """A 400 on the search says which request failed and what Jira said about it."""
    stub_reference(jira)
    jira.get(SEARCH, status=400, json=answer)
    with pytest.raises(TrackerError) as caught:
        dry_cycle(tmp_path)
    assert str(caught.value) == (
        f"{CLOUD}: HTTP 400 on GET /rest/api/3/search/jql: {says}")


@pytest.mark.parametrize(("change", "problem"), [
    ({"changelog": {"histories": [{"items": [{"field": "status", "fromString": "To Do",
                                              "toString": "Done"}]}]}},
     "changelog.histories[0].created is missing"),
    ({"changelog": {"histories": [{"created": 1763884800000, "items": [
        {"field": "status", "toString": "Done"}]}]}},
     "changelog.histories[0].created is a number (1763884800000), not text"),
    ({"changelog": ["x"]}, "changelog is a list, not an object"),
    ({"comment": {"comments": [{"author": None, "body": "hi"}]}},
     "fields.comment.comments[0].created is missing"),
    ({"comment": {"comments": [{"created": "2026-11-23T09:05:00.000+0100",
                                "jsdPublic": "yes"}]}},
     "fields.comment.comments[0].jsdPublic is text ('yes'), not a boolean"),
    ({"comment": "none"}, "fields.comment is text ('none'), not a page of comments"),
])
def test_odd_changelog_or_comments_are_an_issue_error(
    jira: responses.RequestsMock, tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    """A changelog or comment page Jira sends odd costs that issue, as an IssueError."""
    stub_reference(jira)
    issue = load("issue_changelog")
    if "changelog" in change:
        issue["changelog"] = change["changelog"]
    else:
        issue["fields"]["comment"] = change["comment"]
    jira.get(f"{CLOUD}/rest/api/3/issue/ACME-1", json=issue)
    tracker = build_tracker(load_config(write_config(tmp_path)))
    tracker.prepare()
    with pytest.raises(IssueError) as caught:
        tracker.fetch("ACME-1")
    assert str(caught.value) == f"issue ACME-1: cannot be read: {problem}"


def test_odd_worklogs_are_skipped_and_logged(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """A worklog without a start time, or an id that is not one, is logged and left out."""
    stub_reference(jira)
    worklogs = load("worklog_list")
    del worklogs[0]["started"]
    jira.get(re.compile(rf"{CLOUD}/rest/api/3/worklog/updated.*"), json={
        "values": [{"worklogId": 103}, {"worklogId": "x"}, {"worklogId": 104},
                   {"worklogId": 105}], "until": 1763895000000, "lastPage": True})
    jira.post(f"{CLOUD}/rest/api/3/worklog/list", json=worklogs)
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    with capture_logs() as logs:
        entries, _ = tracker.worklogs.updated_since(datetime.fromtimestamp(1763800000, UTC))
    assert [e.id for e in entries] == ["104", "105"]
    assert [(e["event"], e.get("field")) for e in logs] == [
        ("worklog_unreadable", None), ("worklog_unreadable", "started")]


def test_worklog_pages_that_do_not_move_on_stop(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """/worklog/updated answering the same 'until' with lastPage false is not paged forever."""
    stub_reference(jira)
    jira.get(re.compile(rf"{CLOUD}/rest/api/3/worklog/updated.*"), json={
        "values": [], "since": 1763800000000, "until": 1763800000000, "lastPage": False})
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    with pytest.raises(TrackerError, match="does not move on"):
        tracker.worklogs.updated_since(datetime.fromtimestamp(1763800000, UTC))


def test_sprint_without_a_usable_id_is_skipped(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """An active sprint whose id is not a number cannot be moved into: the next one is used."""
    stub_reference(jira)
    sprints = load("sprint_active")
    good = sprints["values"][0]
    jira.replace(responses.GET, f"{CLOUD}/rest/agile/1.0/board/5/sprint", json={
        "values": [{**good, "id": "abc"}, {**good, "startDate": 17}]})
    tracker = build_tracker(load_config(write_config(tmp_path)))
    assert isinstance(tracker, JiraTracker)
    tracker.prepare()
    sprint = tracker.sprints.active_sprint()
    assert sprint is not None
    assert (sprint.id, sprint.start) == ("37", None)
