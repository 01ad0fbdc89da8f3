"""Reading Jira's JSON defensively: every member checked before it is used, so that an
odd answer ends in an error naming the issue, the field and what is wrong with it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from slabridge.errors import IssueError

YEARS = (1970, 2999)  # times outside are not Jira's (and would overflow the calendar)
MAX_EPOCH_MS = 32503680000000  # 3000-01-01 in milliseconds
ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]{1,18}")
NUMERIC_ID = re.compile(r"[0-9]{1,18}")


class UnreadableIssueError(IssueError):
    """Jira sent an issue slabridge cannot read; names the issue and the field at fault."""

    def __init__(self, key: str, field: str, problem: str) -> None:
        self.key, self.field, self.problem = key, field, problem
        super().__init__(f"issue {key}: cannot be read: {field} {problem}")


class Unreadable(Exception):  # noqa: N818 - internal: becomes UnreadableIssueError with the key
    """A field of an issue that cannot be read, and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def kind_of(value: Any) -> str:
    """What a JSON value is, for a message (with the start of a number or text)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r:.20})"
    if isinstance(value, str):
        return f"text ({value!r:.30})"
    return "a list" if isinstance(value, list) else "an object"


def object_member(container: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    """A required JSON object member."""
    if name not in container:
        raise Unreadable(path, "is missing")
    value = container[name]
    if not isinstance(value, dict):
        raise Unreadable(path, f"is {kind_of(value)}, not an object")
    return value


def text_member(container: Mapping[str, Any], name: str, path: str, *,
                required: bool = True) -> str:
    """A text member; a missing, null or empty one is an error where it is required."""
    value = container.get(name)
    if value is None:
        if required:
            raise Unreadable(path, "is missing" if name not in container else "is null")
        return ""
    if not isinstance(value, str):
        raise Unreadable(path, f"is {kind_of(value)}, not text")
    if required and not value.strip():
        raise Unreadable(path, "is empty")
    return value


def time_member(container: Mapping[str, Any], name: str, path: str) -> datetime:
    """A required time member in Jira's format."""
    text = text_member(container, name, path)
    value = parse_jira_time(text)
    if value is None:
        raise Unreadable(path, f"is not a time: {text!r:.40}")
    return value



def optional_object(container: Mapping[str, Any], name: str, path: str,
                    what: str = "an object") -> Mapping[str, Any]:
    """A member that may be missing or null (read as empty), else an object (`what`)."""
    value = container.get(name) or {}
    if not isinstance(value, dict):
        raise Unreadable(path, f"is {kind_of(value)}, not {what}")
    return value


def optional_list(container: Mapping[str, Any], name: str, path: str) -> list[Any]:
    """A member that may be missing or null (read as empty), else a list."""
    value = container.get(name) or []
    if not isinstance(value, list):
        raise Unreadable(path, f"is {kind_of(value)}, not a list")
    return value


def objects_in(values: list[Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each item of a list that must hold objects, with its path (e.g. `path[2]`)."""
    for n, value in enumerate(values):
        where = f"{path}[{n}]"
        if not isinstance(value, dict):
            raise Unreadable(where, f"is {kind_of(value)}, not an object")
        yield where, value


def issue_name(raw: Any, position: int | None = None) -> str:
    """How to name an issue in a message: its key, else its id, else its place."""
    if isinstance(raw, dict):
        key = raw.get("key")
        if isinstance(key, str) and key.strip():
            return key[:40]
        if isinstance(raw.get("id"), str | int) and not isinstance(raw.get("id"), bool):
            return f"with id {str(raw['id'])[:20]}"
    return f"#{position} of the listing" if position is not None else "without a key"


def parse_jira_time(text: Any) -> datetime | None:
    """Jira's timestamps, e.g. 2026-11-23T10:00:00.000+0100; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        return None
    return value if YEARS[0] <= year <= YEARS[1] else None



def field_value(value: Any) -> str | tuple[str, ...]:
    """A Jira field value as text: options, users, organizations and lists flattened."""
    if value is None:
        return ""
    if isinstance(value, list):
        return tuple(str(field_value(v)) for v in value)
    if isinstance(value, dict):
        for key in ("value", "name", "displayName", "key"):
            if key in value:
                return str(value[key])
        return json.dumps(value, sort_keys=True)
    return str(value)

