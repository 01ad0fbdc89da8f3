"""Vendor errors are all mapped; secrets never reach the logs."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
import requests
import structlog
from redminelib import exceptions as rex

from slabridge.adapters.redmine import error_map
from slabridge.adapters.redmine.tracker import RedmineTracker
from slabridge.errors import IssueError, TrackerAuthError, TrackerUnavailableError
from slabridge.logs import redact_secrets, register_secret

TRACKER = RedmineTracker("http://127.0.0.1:9", "k" * 40, ("p",), {"sla_class": "SLA class"})


def raiser(error: Exception) -> Callable[[], object]:
    def action() -> object:
        raise error
    return action


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (rex.AuthError(), TrackerAuthError),
        (rex.ForbiddenError(), IssueError),
        (rex.ResourceNotFoundError(), IssueError),
        (rex.ValidationError("Subject cannot be blank"), IssueError),
        (rex.ServerError(), TrackerUnavailableError),
        (rex.UnknownError(503), TrackerUnavailableError),
        (rex.UnknownError(429), TrackerUnavailableError),
        (rex.UnknownError(418), IssueError),
        (requests.ConnectionError("refused"), TrackerUnavailableError),
        (requests.Timeout("slow"), TrackerUnavailableError),
    ],
)
def test_vendor_errors_map_to_ours(error: Exception, expected: type[Exception]) -> None:
    """Each python-redmine or requests failure on one issue becomes the right slabridge error."""
    with pytest.raises(expected) as caught:
        TRACKER.error_map.call(raiser(error), issue="42")
    assert type(caught.value) is expected


def test_every_redminelib_exception_is_mapped() -> None:
    """Each python-redmine exception is listed in exactly one mapping (fails on a new one)."""
    classes = {
        cls for _, cls in inspect.getmembers(rex, inspect.isclass)
        if issubclass(cls, rex.BaseRedmineError) and cls is not rex.BaseRedmineError
    }
    groups = (error_map.ISSUE_ERRORS, error_map.UNAVAILABLE_ERRORS, error_map.AUTH_ERRORS,
              error_map.MISUSE_ERRORS, (rex.UnknownError,))
    for cls in classes:
        listed = [group for group in groups if cls in group]
        assert len(listed) == 1, f"{cls.__name__} is mapped {len(listed)} times"


def test_secrets_are_redacted_from_log_events() -> None:
    """A registered key never appears in a rendered event, however nested."""
    register_secret("s3cr3t-key-value")
    event = {"event": "request", "url": "http://x/?key=s3cr3t-key-value",
             "headers": {"X-Redmine-API-Key": "s3cr3t-key-value"}, "n": 1}
    assert redact_secrets(None, "info", event) == {
        "event": "request", "url": "http://x/?key=***",
        "headers": {"X-Redmine-API-Key": "***"}, "n": 1,
    }


def test_auth_error_message_does_not_contain_the_key() -> None:
    """The user-facing message names the variable, not its value."""
    with pytest.raises(TrackerAuthError) as caught:
        TRACKER.error_map.call(raiser(rex.AuthError()))
    assert "k" * 40 not in str(caught.value)
    assert "REDMINE_API_KEY" in str(caught.value)


def test_captured_cycle_logs_carry_no_secret() -> None:
    """structlog's capture shows the processors' input; the redactor is what cleans it."""
    register_secret("another-secret-123")
    with structlog.testing.capture_logs() as logs:
        structlog.get_logger().info("connect", api_key="another-secret-123")
    cleaned = [redact_secrets(None, "info", dict(entry)) for entry in logs]
    assert cleaned[0]["api_key"] == "***"
