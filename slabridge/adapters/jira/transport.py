"""The HTTP side of the Jira adapter: the jira library's client and session (its retries
and timeout), counted GETs and writes of JSON, failures translated (error_map.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError

from slabridge.adapters.jira import error_map
from slabridge.errors import TrackerError

T = TypeVar("T")


def json_of(response: requests.Response, where: str) -> Any:
    """The JSON body of a response we sent a write for."""
    try:
        return response.json()
    except ValueError:
        raise TrackerError(f"{where}: Jira's answer is not JSON") from None


class JiraConnection:
    """Requests to one Jira site, through the jira library's session."""

    def __init__(self, name: str, *, token: str, email: str | None, api_version: str,
                 timeout: float, retries: int, verify_tls: bool,
                 client: JIRA | None = None) -> None:
        self.name = name
        self.requests_made = 0
        # One retry layer only: the library's own (429 and 503, honouring Retry-After).
        self.client = client or JIRA(
            server=name,
            basic_auth=(email, token) if email else None,
            token_auth=None if email else token,
            get_server_info=False,
            max_retries=retries,
            timeout=timeout,
            # v2 exists on Cloud and Data Center alike: serverInfo decides what "auto" means.
            options={"rest_api_version": "2" if api_version == "auto" else api_version,
                     "verify": verify_tls},
        )
        self.client._session.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests_made += 1

    @property
    def api_version(self) -> str:
        """The REST version in use ("2" or "3")."""
        return str(self.client._options["rest_api_version"])

    def call(self, action: Callable[[], T], issue: str | None = None) -> T:
        """Run a jira-library call and translate its failures into slabridge's errors."""
        return error_map.call(action, self.name, issue)

    def get(self, path: str, params: Mapping[str, Any] | None = None,
            issue: str | None = None, agile: bool = False) -> Any:
        """GET a REST (or with `agile`, agile REST) path's JSON."""
        base = JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL
        client = self.client
        return self.call(
            lambda: client._get_json(path, params=dict(params or {}), base=base),
            issue=issue,
        )

    def send(self, method: str, path: str, body: Any, issue: str | None = None,
             agile: bool = False) -> requests.Response:
        """A write (put, post) of `body` as JSON; its answer for the caller to read."""
        url = self.client._get_url(
            path, base=JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL
        )
        session = self.client._session
        sender = getattr(session, method)
        response: requests.Response = self.call(
            lambda: sender(url, data=json.dumps(body)), issue=issue
        )
        return response

    def probe(self, path: str, params: Mapping[str, Any] | None = None, *,
              agile: bool = False) -> tuple[int, Any]:
        """A GET whose refusal is returned, not raised: (HTTP status, JSON or None), for
        `slabridge doctor`; a connection failure is raised as requests raises it."""
        url = self.client._get_url(
            path, base=JIRA.AGILE_BASE_URL if agile else JIRA.JIRA_BASE_URL)
        try:
            response = self.client._session.get(url, params=dict(params or {}))
        except JIRAError as exc:
            if exc.response is None:
                return exc.status_code or 0, None
            response = exc.response
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None
