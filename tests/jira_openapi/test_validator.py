"""The Jira OpenAPI request validator: what passes, what fails, and a real jira client run."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from jira import JIRA

from tests.jira_openapi.fixtures import example_response, stub_example
from tests.jira_openapi.validator import (
    RICH_TEXT,
    JiraSpec,
    validated_responses,
)

CLOUD = "https://example.atlassian.net"
DC = "https://jira.example.com"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@pytest.fixture(scope="module")
def spec() -> JiraSpec:
    """The loaded specs (cached for the whole session by the module)."""
    return JiraSpec()


def check(spec: JiraSpec, method: str, url: str, body: Any = None) -> None:
    """Validate one request; a non-string body is sent as JSON."""
    raw = body if body is None or isinstance(body, str) else json.dumps(body)
    spec.validate_request(method, url, JSON, raw)


def refused(spec: JiraSpec, method: str, url: str, body: Any = None) -> str:
    """The AssertionError message for a request that must fail validation."""
    with pytest.raises(AssertionError) as caught:
        check(spec, method, url, body)
    return str(caught.value)


def adf(text: str) -> dict[str, Any]:
    """A one-paragraph Atlassian Document Format document."""
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


# --- loading ------------------------------------------------------------------------------


def test_specs_load_once_and_fast(spec: JiraSpec) -> None:
    started = time.perf_counter()
    again = JiraSpec()
    assert time.perf_counter() - started < 0.05  # module-level cache: no second parse
    assert again.files is spec.files
    assert spec.load_seconds < 5
    assert {f.name for f in spec.files} == {"jira-platform-v3.openapi.json",
                                            "jira-software-agile.openapi.json"}


def test_rich_text_table_names_real_operations(spec: JiraSpec) -> None:
    platform = next(f for f in spec.files if f.name == "jira-platform-v3.openapi.json")
    for method, template in RICH_TEXT:
        assert method in platform.document["paths"][template]


# --- requests that pass -------------------------------------------------------------------


def test_myself_passes(spec: JiraSpec) -> None:
    check(spec, "GET", f"{CLOUD}/rest/api/3/myself")


def test_search_jql_get_with_paging_params_passes(spec: JiraSpec) -> None:
    check(spec, "GET", f"{CLOUD}/rest/api/3/search/jql?jql=project%20%3D%20EX"
                       "&nextPageToken=CAEaAggD&maxResults=100&fields=summary&fields=status")


def test_search_jql_post_with_body_passes(spec: JiraSpec) -> None:
    # SearchAndReconcileRequestBean: required body, additionalProperties false, no startAt.
    check(spec, "POST", f"{CLOUD}/rest/api/3/search/jql", {
        "jql": "project = EX ORDER BY updated DESC", "maxResults": 100,
        "fields": ["summary", "status"], "nextPageToken": "CAEaAggD", "expand": "changelog"})


def test_issue_property_put_passes(spec: JiraSpec) -> None:
    check(spec, "PUT", f"{CLOUD}/rest/api/3/issue/EX-1/properties/slabridge.sla",
          {"response_due": "2026-11-24T10:00:00Z"})


def test_worklog_updated_passes(spec: JiraSpec) -> None:
    check(spec, "GET", f"{CLOUD}/rest/api/3/worklog/updated?since=1700000000000")


def test_worklog_list_passes(spec: JiraSpec) -> None:
    check(spec, "POST", f"{CLOUD}/rest/api/3/worklog/list", {"ids": [10100, 10101, 10102]})


def test_v2_comment_with_wiki_markup_passes(spec: JiraSpec) -> None:
    check(spec, "POST", f"{DC}/rest/api/2/issue/EX-1/comment", {"body": "h3. SLA\n*due* soon"})
    check(spec, "POST", f"{CLOUD}/rest/api/2/issue/EX-1/comment", {"body": "*due* soon"})


def test_v3_comment_with_adf_passes(spec: JiraSpec) -> None:
    check(spec, "POST", f"{CLOUD}/rest/api/3/issue/EX-1/comment", {"body": adf("due soon")})


def test_v2_issue_edit_with_wiki_comment_passes(spec: JiraSpec) -> None:
    check(spec, "PUT", f"{DC}/rest/api/2/issue/EX-1", {
        "fields": {"customfield_10050": "2026-11-24T10:00:00.000+0000"},
        "update": {"comment": [{"add": {"body": "SLA due *tomorrow*"}}]}})


def test_field_and_server_info_pass(spec: JiraSpec) -> None:
    check(spec, "GET", f"{CLOUD}/rest/api/3/field")
    check(spec, "GET", f"{CLOUD}/rest/api/3/serverInfo")
    check(spec, "GET", f"{DC}/rest/api/2/serverInfo")


def test_active_sprints_of_a_board_pass(spec: JiraSpec) -> None:
    check(spec, "GET", f"{CLOUD}/rest/agile/1.0/board/12/sprint?state=active")
    check(spec, "GET", f"{DC}/rest/agile/1.0/board/12/sprint?state=active,future")


def test_move_fifty_issues_to_a_sprint_passes(spec: JiraSpec) -> None:
    check(spec, "POST", f"{CLOUD}/rest/agile/1.0/sprint/7/issue",
          {"issues": [f"EX-{i}" for i in range(50)]})


def test_old_search_passes_on_data_center(spec: JiraSpec) -> None:
    check(spec, "GET", f"{DC}/rest/api/2/search?jql=project%3DEX&startAt=50&maxResults=50")


def test_check_request_reports_the_matched_operation(spec: JiraSpec) -> None:
    call = spec.check_request("GET", f"{DC}/rest/api/2/issue/EX-1?expand=changelog", JSON, None)
    assert call.operation == "GET /rest/api/3/issue/{issueIdOrKey}"
    assert call.operation_id == "getIssue"
    assert (call.api_version, call.deployment) == ("2", "datacenter")
    assert call.path_params == {"issueIdOrKey": "EX-1"}
    assert call.query == {"expand": ["changelog"]}


# --- requests that fail -------------------------------------------------------------------


def test_unknown_path_fails(spec: JiraSpec) -> None:
    message = refused(spec, "GET", f"{CLOUD}/rest/api/3/myselff")
    assert "GET /rest/api/3/myselff" in message
    assert "unknown path" in message
    assert "jira-platform-v3.openapi.json" in message


def test_path_outside_the_specs_fails(spec: JiraSpec) -> None:
    assert "no Jira spec file covers" in refused(spec, "GET", f"{DC}/rest/auth/1/session")


def test_wrong_method_fails(spec: JiraSpec) -> None:
    message = refused(spec, "POST", f"{CLOUD}/rest/api/3/myself")
    assert "method not allowed" in message
    assert "documents only GET" in message


def test_sprint_issues_not_an_array_fails(spec: JiraSpec) -> None:
    message = refused(spec, "POST", f"{CLOUD}/rest/agile/1.0/sprint/7/issue", {"issues": "EX-1"})
    assert "moveIssuesToSprintAndRank" in message
    assert "request body at issues: 'EX-1' is not of type 'array'" in message


def test_more_than_fifty_issues_to_a_sprint_fails(spec: JiraSpec) -> None:
    message = refused(spec, "POST", f"{CLOUD}/rest/agile/1.0/sprint/7/issue",
                      {"issues": [f"EX-{i}" for i in range(51)]})
    assert "is too long" in message


def test_non_numeric_sprint_id_fails(spec: JiraSpec) -> None:
    message = refused(spec, "POST", f"{CLOUD}/rest/agile/1.0/sprint/next/issue",
                      {"issues": ["EX-1"]})
    assert "path parameter 'sprintId'" in message


def test_unknown_sprint_state_fails(spec: JiraSpec) -> None:
    assert "query parameter 'state'" in refused(
        spec, "GET", f"{CLOUD}/rest/agile/1.0/board/12/sprint?state=open")


def test_search_jql_post_rejects_start_at_and_missing_body(spec: JiraSpec) -> None:
    message = refused(spec, "POST", f"{CLOUD}/rest/api/3/search/jql",
                      {"jql": "project = EX", "startAt": 100})
    assert "'startAt' was unexpected" in message
    assert "Missing required request body" in refused(spec, "POST",
                                                      f"{CLOUD}/rest/api/3/search/jql")


def test_undocumented_query_parameter_fails(spec: JiraSpec) -> None:
    message = refused(spec, "GET", f"{CLOUD}/rest/api/3/search/jql?jql=project%3DEX&startAt=100")
    assert "query parameter 'startAt' is not documented" in message


def test_wrong_query_parameter_type_fails(spec: JiraSpec) -> None:
    message = refused(spec, "GET", f"{CLOUD}/rest/api/3/worklog/updated?since=yesterday")
    assert "query parameter 'since'" in message


def test_worklog_list_without_ids_fails(spec: JiraSpec) -> None:
    assert "'ids' is a required property" in refused(
        spec, "POST", f"{CLOUD}/rest/api/3/worklog/list", {"worklogIds": [1]})


def test_empty_path_segment_fails(spec: JiraSpec) -> None:
    assert "path parameter 'issueIdOrKey' is empty" in refused(
        spec, "GET", f"{CLOUD}/rest/api/3/issue//comment")


def test_rich_text_must_match_the_api_version(spec: JiraSpec) -> None:
    assert "API v3 takes an Atlassian Document Format document" in refused(
        spec, "POST", f"{CLOUD}/rest/api/3/issue/EX-1/comment", {"body": "*due* soon"})
    assert "API v2 takes wiki markup" in refused(
        spec, "POST", f"{DC}/rest/api/2/issue/EX-1/comment", {"body": adf("due soon")})
    assert "update.comment[0].add.body: API v3" in refused(
        spec, "PUT", f"{CLOUD}/rest/api/3/issue/EX-1",
        {"update": {"comment": [{"add": {"body": "plain"}}]}})
    assert "ADF text node needs a non-empty 'text'" in refused(
        spec, "POST", f"{CLOUD}/rest/api/3/issue/EX-1/comment", {"body": adf("")})


def test_api_v3_fails_on_data_center(spec: JiraSpec) -> None:
    assert "Data Center serves /rest/api/2 only" in refused(
        spec, "GET", f"{DC}/rest/api/3/serverInfo")


def test_removed_search_fails_on_cloud(spec: JiraSpec) -> None:
    assert "removed on Cloud (answers 410 Gone)" in refused(
        spec, "GET", f"{CLOUD}/rest/api/2/search?jql=project%3DEX")


def test_body_on_an_operation_without_one_fails(spec: JiraSpec) -> None:
    assert "takes no request body" in refused(spec, "GET", f"{CLOUD}/rest/api/3/myself", {})


# --- the responses integration ------------------------------------------------------------


def test_validated_responses_collects_every_problem() -> None:
    with pytest.raises(AssertionError) as caught, validated_responses() as rsps:
        rsps.get(f"{CLOUD}/rest/api/3/myself", json={})
        rsps.post(f"{CLOUD}/rest/agile/1.0/sprint/7/issue", status=204)
        requests.get(f"{CLOUD}/rest/api/3/myself", timeout=5)
        requests.post(f"{CLOUD}/rest/agile/1.0/sprint/7/issue", json={"issues": "EX-1"},
                      timeout=5)
        with pytest.raises(requests.ConnectionError):  # not stubbed, but still checked
            requests.delete(f"{CLOUD}/rest/api/3/myself", timeout=5)
    message = str(caught.value)
    assert "2 of 3 Jira request(s) do not match" in message
    assert "request 2: POST /rest/agile/1.0/sprint/7/issue" in message
    assert "request 3: DELETE /rest/api/3/myself: method not allowed" in message


def test_validated_responses_exposes_validated_calls() -> None:
    with validated_responses() as rsps:
        rsps.get(f"{CLOUD}/rest/api/3/myself", json={})
        requests.get(f"{CLOUD}/rest/api/3/myself", params={"expand": "groups"}, timeout=5)
    assert [c.operation for c in rsps.validated_calls] == ["GET /rest/api/3/myself"]
    assert rsps.validated_calls[0].query == {"expand": ["groups"]}


def test_a_failing_block_keeps_its_error_and_gets_the_problems_as_a_note() -> None:
    with pytest.raises(KeyError) as caught, validated_responses() as rsps:
        rsps.get(f"{CLOUD}/rest/api/3/myselff", json={})
        requests.get(f"{CLOUD}/rest/api/3/myselff", timeout=5)
        raise KeyError("test failure")
    assert any("unknown path" in note for note in caught.value.__notes__)


# --- fixtures -----------------------------------------------------------------------------


def test_example_response_decodes_string_examples() -> None:
    me = example_response("/rest/api/3/myself", "GET")
    assert isinstance(me, dict)
    assert me["accountId"]
    assert example_response("/rest/api/2/issue/EX-1/comment", "POST", "201")["body"]
    sprints = example_response("/rest/agile/1.0/board/{boardId}/sprint", "GET")
    assert sprints["values"][0]["state"]
    assert example_response("/rest/api/3/user/email", "GET") == "name@example.com"


def test_example_response_names_what_is_missing() -> None:
    with pytest.raises(LookupError, match="documents no 418 response"):
        example_response("/rest/api/3/myself", "GET", "418")
    with pytest.raises(LookupError, match="unknown path"):
        example_response("/rest/api/3/nothing", "GET")


# --- a real jira client, end to end -------------------------------------------------------


def test_jira_client_end_to_end_on_cloud() -> None:
    with validated_responses() as rsps:
        stub_example(rsps, "GET", f"{CLOUD}/rest/api/2/serverInfo",
                     update={"deploymentType": "Cloud", "versionNumbers": [1001, 0, 0]})
        me = stub_example(rsps, "GET", f"{CLOUD}/rest/api/2/myself")
        stub_example(rsps, "GET", f"{CLOUD}/rest/api/2/field")
        page = example_response("/rest/api/3/search/jql", "GET")
        page.pop("nextPageToken", None)
        rsps.get(f"{CLOUD}/rest/api/2/search/jql", json=page)
        stub_example(rsps, "POST", f"{CLOUD}/rest/api/2/issue/EX-1/comment", 201)

        client = JIRA(server=CLOUD, basic_auth=("a@b.c", "token"), get_server_info=True)
        assert client.myself()["accountId"] == me["accountId"]
        issues = client.enhanced_search_issues("project = EX", maxResults=False,
                                               fields=["summary", "status"])
        client.add_comment("EX-1", "SLA due *tomorrow*")

    assert [c.key for c in issues] == [i["key"] for i in page["issues"]]
    assert [c.operation for c in rsps.validated_calls] == [
        "GET /rest/api/3/serverInfo",
        "GET /rest/api/3/myself",
        "GET /rest/api/3/field",  # the library's field-name cache, before the search
        "GET /rest/api/3/search/jql",
        "POST /rest/api/3/issue/{issueIdOrKey}/comment",
    ]
    search = rsps.validated_calls[3]
    assert search.query["fields"] == ["summary", "status"]
    assert search.query["maxResults"] == ["100"]


def test_jira_client_search_without_server_info_is_caught_on_cloud() -> None:
    # With get_server_info=False the library does not know it talks to Cloud and falls
    # back to /rest/api/2/search, which Cloud has removed.
    with pytest.raises(AssertionError, match="removed on Cloud"), \
            validated_responses() as rsps:
        stub_example(rsps, "GET", f"{CLOUD}/rest/api/2/field")
        rsps.get(f"{CLOUD}/rest/api/2/search",
                 json={"startAt": 0, "maxResults": 50, "total": 0, "issues": []})
        client = JIRA(server=CLOUD, basic_auth=("a@b.c", "token"), get_server_info=False)
        client.search_issues("project = EX")
