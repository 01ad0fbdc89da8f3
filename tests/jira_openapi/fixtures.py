"""Realistic Jira response bodies taken from the examples in Atlassian's OpenAPI descriptions.

The spec files store most response examples as JSON *strings*; they are decoded here. A
few examples are not JSON (``GET /rest/api/3/user/email`` gives ``name@example.com``, the
avatar operations give images): those come back as the string stored in the spec.

Usage::

    from tests.jira_openapi.fixtures import example_response, stub_example

    me = example_response("/rest/api/3/myself", "GET")          # a dict, fresh copy
    with validated_responses() as rsps:
        stub_example(rsps, "GET", "https://example.atlassian.net/rest/api/2/serverInfo",
                     update={"deploymentType": "Cloud"})
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import responses

from tests.jira_openapi.validator import JiraSpec, Operation


def example_response(operation_path: str, method: str, status: str = "200") -> Any:
    """The decoded example body of an operation's response for a status code.

    ``operation_path`` is a spec path (``/rest/api/3/issue/{issueIdOrKey}``), a concrete path
    or a full URL; ``/rest/api/2`` paths use the v3 examples. Raises LookupError when the
    operation or its example for that status does not exist.
    """
    operation = _operation(method, operation_path)
    answers = operation.raw.get("responses", {})
    answer = answers.get(str(status))
    if answer is None:
        raise LookupError(f"{operation} documents no {status} response "
                          f"(documented: {', '.join(sorted(answers))})")
    content: Mapping[str, Any] = answer.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    if media is None:
        raise LookupError(f"{operation} response {status} has no body")
    if "example" in media:
        example = media["example"]
    elif media.get("examples"):
        example = next(iter(media["examples"].values())).get("value")
    else:
        raise LookupError(f"{operation} response {status} has no example")
    if isinstance(example, str):
        try:
            return json.loads(example)
        except ValueError:
            return example  # a plain-text or binary example, as stored
    return copy.deepcopy(example)


def stub_example(mock: responses.RequestsMock, method: str, url: str, status: int = 200, *,
                 update: Mapping[str, Any] | None = None) -> Any:
    """Register a JSON response built from the spec example for the operation; return its body.

    The stub matches the URL's path with any query string. ``update`` is merged into the
    top level of an object example. A status without a documented body (e.g. 204) is
    stubbed with an empty body and returns None.
    """
    url = url.split("?", 1)[0]
    operation = _operation(method, url)
    try:
        body = example_response(url, method, str(status))
    except LookupError:
        answer = operation.raw.get("responses", {}).get(str(status), {})
        if answer.get("content"):
            raise
        mock.add(method.upper(), url, status=status)
        return None
    if update:
        if not isinstance(body, dict):
            raise TypeError(f"{operation}: update= needs an object example, "
                            f"got {type(body).__name__}")
        body.update(update)
    mock.add(method.upper(), url, json=body, status=status)
    return body


def _operation(method: str, path_or_url: str) -> Operation:
    try:
        return JiraSpec().find_operation(method, path_or_url)
    except AssertionError as exc:
        raise LookupError(str(exc)) from None
