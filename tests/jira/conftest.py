"""Jira stubs: recorded payloads in tests/fixtures/jira/, every request checked against
Atlassian's OpenAPI description (tests/jira_openapi)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from tests.jira_openapi.validator import validated_responses

FIXTURES = Path(__file__).parents[1] / "fixtures" / "jira"
CLOUD = "https://example.atlassian.net"
DC = "https://jira.example.com"

CONFIG = """\
include: [contract-terms]
customers:
  acme: {{name: Acme, contracts: [{{tier: advanced, from: 2020-01-01}}]}}
  globex: {{name: Globex, contracts: [{{tier: premium, from: 2020-01-01}}]}}
classification:
  customers:
    - {{name: Acme project, match: {{project: ACME}}, customer: acme}}
    - {{name: Globex project, match: {{project: GLX}}, customer: globex}}
    - {{name: Acme organization, match: {{custom_fields: {{Organizations: Acme Org}}}},
        customer: acme}}
tracker:
  kind: jira
  url: {url}
{auth}
  projects: [ACME, GLX, SHARED]
  board_id: 5
{extra}
state:
  path: state.sqlite3
"""

CLOUD_AUTH = "  email: ${JIRA_EMAIL}\n  api_key: ${JIRA_API_TOKEN}"
DC_AUTH = "  api_key: ${JIRA_PAT}"
FIELDS = (
    "  fields:\n    response_due: SLA response due\n    response_due_date: SLA response due date\n"
    "    sla_class: SLA class\n    sla_status: SLA status"
)


def load(name: str) -> Any:
    """A recorded payload."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def write_config(tmp_path: Path, *, url: str = CLOUD, auth: str = CLOUD_AUTH,
                 extra: str = "") -> Path:
    """A Jira config file in tmp_path."""
    path = tmp_path / "slabridge.yaml"
    path.write_text(CONFIG.format(url=url, auth=auth, extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def jira_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials as the environment gives them."""
    monkeypatch.setenv("JIRA_EMAIL", "sla@example.com")
    monkeypatch.setenv("JIRA_API_TOKEN", "cloud-token-123456")
    monkeypatch.setenv("JIRA_PAT", "dc-pat-abcdef")


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The jira library sleeps before retrying; tests record the delays instead."""
    slept: list[float] = []
    monkeypatch.setattr("jira.resilientsession.time.sleep", slept.append)
    return slept


@pytest.fixture
def jira() -> Iterator[responses.RequestsMock]:
    """A responses mock whose every recorded request must match Atlassian's spec."""
    with validated_responses() as mock:
        yield mock


def stub_reference(mock: responses.RequestsMock, base: str = CLOUD, version: str = "3",
                   server: str = "serverInfo_cloud") -> None:
    """serverInfo, myself and field, as every first cycle reads them."""
    mock.get(f"{base}/rest/api/2/serverInfo", json=load(server))
    mock.get(f"{base}/rest/api/{version}/myself", json=load("myself"))
    mock.get(f"{base}/rest/api/{version}/field", json=load("fields"))
    mock.get(f"{base}/rest/agile/1.0/board/5/sprint", json=load("sprint_active"))
    mock.post(f"{base}/rest/agile/1.0/sprint/37/issue", status=204)


def stub_search_pages(mock: responses.RequestsMock, base: str = CLOUD,
                      version: str = "3") -> None:
    """Three pages linked by nextPageToken."""
    url = re.compile(re.escape(f"{base}/rest/api/{version}/search/jql") + r"(\?.*)?$")

    def page(request: Any) -> tuple[int, dict[str, str], str]:
        token = request.params.get("nextPageToken")
        name = {None: "search_page1", "token-2": "search_page2", "token-3": "search_page3"}[token]
        return 200, {"Content-Type": "application/json"}, json.dumps(load(name))

    mock.add_callback(responses.GET, url, callback=page)


NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def calls(mock: responses.RequestsMock, method: str, pattern: str) -> list[Any]:
    return [c for c in mock.calls
            if c.request.method == method and re.search(pattern, c.request.url or "")]


def body(call: Any) -> Any:
    raw = call.request.body
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def stub_property_writes(mock: responses.RequestsMock) -> None:
    mock.put(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/properties/slabridge\.sla"),
             status=200, json={})
    mock.post(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/comment"), status=201,
              json={"id": "1"})
