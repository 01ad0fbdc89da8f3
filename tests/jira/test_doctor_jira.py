"""`slabridge doctor` on Jira against stubs; every request validated against Atlassian's spec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses

from slabridge.cli.main import run
from tests.jira.conftest import CLOUD, DC, DC_AUTH, FIELDS, load, write_config

pytestmark = pytest.mark.usefixtures("jira_env")
PROJECTS = {"ACME": "Acme Shop", "GLX": "Globex Portal", "SHARED": "Shared Service Desk"}
PERMISSION_NAMES = {
    "BROWSE_PROJECTS": "Browse Projects", "EDIT_ISSUES": "Edit Issues",
    "ADD_COMMENTS": "Add Comments", "SCHEDULE_ISSUES": "Schedule Issues",
    "MANAGE_WATCHERS": "Manage Watchers", "ASSIGN_ISSUES": "Assign Issues",
    "EDIT_OWN_COMMENTS": "Edit Own Comments",
}


def stub_jira(mock: responses.RequestsMock, lacking: dict[str, set[str]] | None = None,
              on_screen: tuple[str, ...] = ("customfield_10040", "customfield_10041",
                                            "customfield_10042", "customfield_10043",
                                            "customfield_10044"),
              base: str = CLOUD) -> None:
    """A Jira site (Cloud unless `base` is DC) where the account may do everything but
    `lacking` (project -> permission keys), and whose edit screens show `on_screen`."""
    lacking = lacking or {}
    api = f"{base}/rest/api/{'3' if base == CLOUD else '2'}"
    mock.get(f"{base}/rest/api/2/serverInfo",
             json=load("serverInfo_cloud" if base == CLOUD else "serverInfo_dc"))
    mock.get(f"{api}/myself", json=load("myself"))
    mock.get(f"{api}/field", json=load("fields"))
    for number, (key, name) in enumerate(PROJECTS.items()):
        mock.get(f"{api}/project/{key}",
                 json={"id": str(10000 + number), "key": key, "name": name,
                       "self": f"{api}/project/{10000 + number}"})

    def permissions(request: Any) -> tuple[int, dict[str, str], str]:
        project = request.params.get("projectKey", "")
        wanted = request.params["permissions"].split(",")
        answer = {"permissions": {
            key: {"id": str(index), "key": key, "name": PERMISSION_NAMES[key], "type": "PROJECT",
                  "description": "", "havePermission": key not in lacking.get(project, set())}
            for index, key in enumerate(wanted)}}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    mock.add_callback(responses.GET, re.compile(re.escape(f"{api}/mypermissions")
                                                + r"(\?.*)?$"), callback=permissions)
    mock.get(f"{base}/rest/agile/1.0/board/5",
             json={"id": 5, "name": "Support board", "type": "scrum",
                   "self": f"{base}/rest/agile/1.0/board/5"})
    mock.get(f"{base}/rest/agile/1.0/board/5/sprint", json=load("sprint_active"))

    def newest(request: Any) -> tuple[int, dict[str, str], str]:
        key = re.search(r'project = "([A-Z]+)"', request.params["jql"])
        assert key is not None
        issue = {"id": "1", "key": f"{key.group(1)}-1",
                 "fields": {"issuetype": {"name": "Bug"}}}
        return 200, {"Content-Type": "application/json"}, json.dumps({"issues": [issue]})

    search = f"{api}/search/jql" if base == CLOUD else f"{api}/search"
    mock.add_callback(responses.GET, re.compile(re.escape(search) + r"(\?.*)?$"),
                      callback=newest)
    mock.get(re.compile(re.escape(f"{api}/issue/") + r"[A-Z]+-1/editmeta$"),
             json={"fields": {field: {"required": False, "name": field, "key": field}
                              for field in ("summary", *on_screen)}})


def doctor(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run(["--config", str(config), "doctor", *args])
    return code, capsys.readouterr().out


def test_correct_setup_passes(jira: responses.RequestsMock, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """Every project visible, every permission held, the property needs no fields, the
    board has an active sprint: exit 0."""
    stub_jira(jira)
    code, out = doctor(write_config(tmp_path), capsys)
    assert code == 0, out
    assert [line for line in out.splitlines() if not line.startswith("ok")] == [
        "doctor: all 13 checks passed"]
    assert "ok   key accepted: slabridge bot (5b10ac8d82e05b22cc7d4ef5)" in out
    assert "ok   permissions in GLX: BROWSE_PROJECTS, EDIT_ISSUES, ADD_COMMENTS, " \
           "SCHEDULE_ISSUES" in out
    assert "ok   SLA values: written to the issue property slabridge.sla" in out
    assert "ok   current sprint: Sprint 47 (active on the board)" in out
    assert out.splitlines()[-2] == (
        f"ok   state file {tmp_path / 'state.sqlite3'}: writable by this user")


def test_doctor_sends_only_get_requests(jira: responses.RequestsMock, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """doctor writes nothing: with custom fields configured (edit screens read too), every
    request it sends is a GET."""
    stub_jira(jira)
    code, out = doctor(write_config(tmp_path, extra=FIELDS), capsys)
    assert code == 0, out
    assert "ok   edit screen in ACME: the fields are on ACME-1's (Bug)" in out
    assert len(jira.calls) > 10
    assert [c.request.method for c in jira.calls if c.request.method != "GET"] == []


def test_missing_permission_fails_naming_it(jira: responses.RequestsMock, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """No Edit Issues in GLX: exit 1, the line names the permission and the project."""
    stub_jira(jira, lacking={"GLX": {"EDIT_ISSUES"}})
    code, out = doctor(write_config(tmp_path), capsys)
    assert code == 1, out
    assert [line for line in out.splitlines() if line.startswith("FAIL")] == [
        "FAIL permissions in GLX: lacks EDIT_ISSUES (Edit Issues, for SLA values) -> fix: a "
        "Jira administrator grants them to the account (or a group or role it is in) in the "
        "project's permission scheme"]


def test_field_off_the_edit_screen_fails(jira: responses.RequestsMock, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A configured field that exists but is not on the edit screen: named, per project;
    --json says the same as a list of objects."""
    stub_jira(jira, on_screen=("customfield_10040", "customfield_10041", "customfield_10042",
                               "customfield_10044"))
    code, out = doctor(write_config(tmp_path, extra=FIELDS), capsys, "--json")
    assert code == 1
    failed = [c for c in json.loads(out) if c["status"] == "fail"]
    assert [(c["check"], c["detail"]) for c in failed] == [
        (f"edit screen in {key}", f"'SLA status' not on the edit screen of {key}-1 (Bug)")
        for key in PROJECTS]
    assert all(c["ok"] is False and c["fix"] for c in failed)


def test_data_center_uses_v2_and_search(jira: responses.RequestsMock, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Data Center (personal access token): API v2, /search for the newest issue; passes."""
    stub_jira(jira, base=DC)
    code, out = doctor(write_config(tmp_path, url=DC, auth=DC_AUTH, extra=FIELDS), capsys)
    assert code == 0, out
    assert "REST API v2" in out.splitlines()[0]
    assert "ok   edit screen in GLX: the fields are on GLX-1's (Bug)" in out
    assert [c for c in jira.calls if "/rest/api/3/" in (c.request.url or "")] == []


def test_refused_credentials_end_the_checks(jira: responses.RequestsMock, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """401 from /myself: one failed check naming what to set, and nothing more is asked of
    Jira (the state file, local, is still checked)."""
    jira.get(f"{CLOUD}/rest/api/2/serverInfo", json=load("serverInfo_cloud"))
    jira.get(f"{CLOUD}/rest/api/3/myself", status=401, json={"errorMessages": ["no"]})
    code, out = doctor(write_config(tmp_path), capsys)
    assert code == 1
    assert [line.split(" -> ")[0] for line in out.splitlines()] == [
        "ok   Jira reachable: https://example.atlassian.net, Cloud 1001.0.0-SNAPSHOT, "
        "REST API v3",
        "FAIL key accepted: Jira refused the credentials (HTTP 401)",
        f"ok   state file {tmp_path / 'state.sqlite3'}: writable by this user",
        "doctor: 1 of 3 checks failed",
    ]
    assert len(jira.calls) == 2
