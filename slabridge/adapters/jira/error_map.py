"""The jira library's and HTTP failures as slabridge's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from jira import JIRAError

from slabridge.errors import IssueError, TrackerAuthError, TrackerError, TrackerUnavailableError

T = TypeVar("T")


def call(action: Callable[[], T], name: str, issue: str | None = None) -> T:
    """Run a jira-library call to the Jira at `name` and translate its failures into
    slabridge's errors (IssueError where `issue` is named and only it is refused)."""
    where = f"issue {issue}" if issue else name
    try:
        return action()
    except JIRAError as exc:
        code = exc.status_code or 0
        endpoint, text = endpoint_of(exc), jira_message(exc)
        if code == 401:
            raise TrackerAuthError(
                f"Jira at {name} rejected the credentials (HTTP 401) on {endpoint}: "
                "check the API token variable (and the e-mail for Cloud)"
            ) from None
        if code == 429 or code >= 500:
            raise TrackerUnavailableError(
                f"{where}: Jira unavailable: HTTP {code} on {endpoint}: {text}") from None
        if code == 410:
            raise TrackerError(f"{where}: Jira removed this endpoint (HTTP 410): "
                               f"{endpoint}: {text}") from None
        if issue is not None:
            raise IssueError(f"{where}: HTTP {code} on {endpoint}: {text}") from None
        raise TrackerError(f"{where}: HTTP {code} on {endpoint}: {text}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TrackerUnavailableError(f"{where}: Jira unreachable: {exc}") from None
    except ValueError:  # a 2xx answer whose body is not JSON (requests' JSONDecodeError)
        raise TrackerError(f"{where}: Jira's answer is not JSON") from None


def endpoint_of(error: JIRAError) -> str:
    """The method and path of the request that failed, as far as the error tells."""
    request = getattr(error.response, "request", None)
    url = error.url or getattr(request, "url", None) or ""
    method = getattr(request, "method", None) or ""
    path = urlsplit(str(url)).path
    return f"{method} {path}".strip() or "a request"


def jira_message(error: JIRAError) -> str:
    """Jira's own words for an error: errorMessages and errors, else the raw text."""
    parts: list[str] = []
    try:
        body = error.response.json() if error.response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        messages = body.get("errorMessages")
        if isinstance(messages, list):
            parts += [str(m) for m in messages if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
    if not parts:
        text = (error.text or "").strip()
        if not text and error.response is not None:
            text = (getattr(error.response, "text", "") or "").strip() \
                or str(getattr(error.response, "reason", "") or "")
        parts = [text] if text else ["(no message)"]
    return "; ".join(parts)[:300]
