"""Check the HTTP requests the Jira adapter sends against Atlassian's OpenAPI descriptions.

The descriptions are vendored, gzipped, in ``tests/jira_openapi/specs/`` (where they come
from, their versions and checksums: ``specs/README.md``; refresh them with
``tests/jira_openapi/refresh_specs.py``):

- ``jira-platform-v3.openapi.json.gz``: ``/rest/api/3/...`` (and, mapped, ``/rest/api/2/...``);
- ``jira-software-agile.openapi.json.gz``: ``/rest/agile/1.0/...`` and the other
  ``/rest/*/x.y`` families (builds, deployments, ...).

Usage::

    from tests.jira_openapi.validator import validated_responses

    with validated_responses() as rsps:
        rsps.get("https://example.atlassian.net/rest/api/3/myself", json={...})
        client.myself()
    # leaving the block validated every request in rsps.calls
    assert [c.operation for c in rsps.validated_calls] == ["GET /rest/api/3/myself"]

How a request is checked (``JiraSpec.check_request``):

1. The host is dropped; ``*.atlassian.net`` counts as Cloud, any other host as Data Center.
2. ``/rest/api/2/...`` is checked as ``/rest/api/3/...`` (same shapes, per the spec README).
3. The path and method must name an operation of the file that covers the path prefix;
   an empty path segment (``/issue//comment``) is refused.
4. Path, query and header parameters and the JSON request body are validated with
   openapi-core against the operation. Security is never enforced: the ``security``
   requirements are removed at load time (agile declares OAuth2 only, platform allows
   anonymous access). A query parameter the operation does not document is refused
   (Jira ignores it silently, which hides bugs such as ``startAt`` on ``/search/jql``); so is
   a body sent to an operation that takes none. Boolean query parameters must read
   ``true``/``false`` in any case (openapi-core would also take ``1``/``yes``, which Jira reads
   as false); ``True``/``False``, as ``requests`` renders Python booleans, count as lower case
   for every query parameter (Jira parses booleans case-insensitively).

Rules beyond the spec files (v2/v3 and Cloud/Data Center differences):

- Rich text is wiki markup (a string) on v2 and Atlassian Document Format (ADF, an object
  ``{"type": "doc", "version": 1, "content": [...]}``) on v3. The spec leaves those values
  untyped, so they are checked here, at the places listed in ``RICH_TEXT``: comment
  ``body`` (POST/PUT comment), worklog ``comment``, ``fields.description``,
  ``fields.environment`` and ``update.comment[].add/edit.body`` of issue create, edit and
  transition. On v2 the string is replaced by an empty ADF document before the v3 schema
  sees the body: v2 comment bodies are never validated against the v3 schema.
- Data Center serves ``/rest/api/2`` only: a ``/rest/api/3`` request to a Data Center host
  fails.
- On Cloud, operations whose description says "Endpoint is currently being removed"
  (``GET``/``POST /rest/api/{2,3}/search``, ``POST /rest/api/3/expression/eval``) fail: Cloud
  answers 410 Gone. Data Center keeps ``/rest/api/2/search``.

Spec defects patched at load time (see ``JiraSpec.patches`` for the list actually applied):

- agile: query parameters typed as an empty object with ``additionalProperties: false``
  (``GET /rest/agile/1.0/board/{boardId}/sprint`` ``state``, ``GET /rest/agile/1.0/board``
  ``type``; ``fields`` items on the issue listings) cannot take any value; they become
  strings. ``state`` also gets the documented values ``future,active,closed``.
- agile: ``POST /rest/agile/1.0/sprint/{sprintId}/issue`` says "at most 50 issues" in its
  description only; ``issues`` gets ``maxItems: 50``.
- platform: four ``default: ''`` values outside their enum make strict spec validation
  fail; spec validation is off (``Config(spec_validator_cls=None)``).
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import responses
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.templating.paths.finders import APICallPathFinder
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_DIR: Final = Path(__file__).resolve().parent / "specs"
PLATFORM_FILE: Final = "jira-platform-v3.openapi.json"
AGILE_FILE: Final = "jira-software-agile.openapi.json"
SPEC_SERVER: Final = "https://your-domain.atlassian.net"  # the files' only server URL
METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REMOVED_ON_CLOUD: Final = "Endpoint is currently being removed"
SPRINT_STATE_PATTERN: Final = r"^(future|active|closed)(,(future|active|closed))*$"

_ISSUE_RICH_TEXT: Final = (
    ("fields", "description"),
    ("fields", "environment"),
    ("update", "comment", "*", "add", "body"),
    ("update", "comment", "*", "edit", "body"),
    ("update", "description", "*", "set"),
    ("update", "environment", "*", "set"),
)
RICH_TEXT: Final[Mapping[tuple[str, str], tuple[tuple[str, ...], ...]]] = {
    ("post", "/rest/api/3/issue/{issueIdOrKey}/comment"): (("body",),),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/comment/{id}"): (("body",),),
    ("post", "/rest/api/3/issue/{issueIdOrKey}/worklog"): (("comment",),),
    ("put", "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"): (("comment",),),
    ("post", "/rest/api/3/issue"): _ISSUE_RICH_TEXT,
    ("put", "/rest/api/3/issue/{issueIdOrKey}"): _ISSUE_RICH_TEXT,
    ("post", "/rest/api/3/issue/{issueIdOrKey}/transitions"): _ISSUE_RICH_TEXT,
}
"""Where v2 takes wiki markup and v3 takes ADF: (method, v3 path) -> JSON paths in the body."""

_EMPTY_ADF: Final = {"type": "doc", "version": 1, "content": []}


def default_spec_dir() -> Path:
    """The directory holding the two vendored spec files (inside the repository)."""
    return SPEC_DIR


@dataclass(frozen=True)
class SpecFile:
    """One loaded OpenAPI file: the patched document, its openapi-core app and path finder."""

    name: str
    document: dict[str, Any]
    app: OpenAPI
    finder: APICallPathFinder
    prefixes: frozenset[str]


@dataclass(frozen=True)
class Operation:
    """An operation of a spec file, as found for a request path."""

    spec_file: str
    method: str  # lower case
    template: str  # e.g. /rest/api/3/issue/{issueIdOrKey}
    path_params: Mapping[str, str]
    raw: Mapping[str, Any]  # the operation object of the (patched) document

    @property
    def operation_id(self) -> str:
        """The operationId, or '' when the spec gives none."""
        return str(self.raw.get("operationId", ""))

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template}"


@dataclass(frozen=True)
class ValidatedCall:
    """A request that matched the specs, with what it was matched to."""

    method: str  # upper case, as sent
    url: str
    path: str  # as sent, e.g. /rest/api/2/issue/ABC-1/comment
    spec_file: str
    operation: str  # "POST /rest/api/3/issue/{issueIdOrKey}/comment"
    operation_id: str
    deployment: str  # "cloud" or "datacenter"
    api_version: str | None  # "2" or "3" for /rest/api, None otherwise
    path_params: Mapping[str, str]
    query: Mapping[str, list[str]]
    json_body: Any  # the decoded JSON body as sent, or None
    deprecated: bool


class JiraSpec:
    """Both Jira OpenAPI files, loaded once per process and directory; validates requests."""

    def __init__(self, spec_dir: Path | None = None) -> None:
        self.spec_dir = (spec_dir or default_spec_dir()).resolve()
        self.files, self.patches, self.load_seconds = _load(self.spec_dir)

    # --- lookup ------------------------------------------------------------------------------

    def file_for(self, spec_path: str) -> SpecFile | None:
        """The spec file whose path prefixes (first three segments) cover a /rest/... path."""
        prefix = "/".join(spec_path.split("/")[:4])
        for spec_file in self.files:
            if prefix in spec_file.prefixes:
                return spec_file
        return None

    def find_operation(self, method: str, url_or_path: str) -> Operation:
        """The operation for a method and a URL, a path, or a spec path template.

        Raises AssertionError naming the problem when there is none.
        """
        path = _split_url(url_or_path)[1]
        api_version, spec_path = map_v2_path(path)
        where = f"{method.upper()} {path}" + (f" (checked as {spec_path})" if api_version == "2"
                                              else "")
        spec_file = self.file_for(spec_path)
        if spec_file is None:
            known = ", ".join(sorted(p for f in self.files for p in f.prefixes))
            raise AssertionError(f"{where}: no Jira spec file covers this path "
                                 f"(covered prefixes: /rest/api/2, {known})")
        try:
            found = spec_file.finder.find(method.lower(), SPEC_SERVER + spec_path)
        except (PathNotFound, ServerNotFound):
            raise AssertionError(f"{where}: unknown path: no operation of {spec_file.name} "
                                 "matches it") from None
        except OperationNotFound:
            documented = _documented_methods(spec_file, spec_path)
            raise AssertionError(f"{where}: method not allowed: {spec_file.name} documents "
                                 f"only {', '.join(documented) or 'no method'} for this "
                                 "path") from None
        template = str(found.path_result.pattern)
        raw = spec_file.document["paths"][template][method.lower()]
        return Operation(spec_file.name, method.lower(), template,
                         dict(found.path_result.variables or {}), raw)

    # --- validation ----------------------------------------------------------------------------

    def validate_request(self, method: str, url: str, headers: Mapping[str, str],
                         body: bytes | str | None) -> None:
        """Raise AssertionError listing every way the request departs from the specs."""
        self.check_request(method, url, headers, body)

    def check_request(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes | str | None) -> ValidatedCall:
        """Like validate_request, but return what the request matched."""
        host, path, query_string = _split_url(url)
        deployment = "cloud" if host.endswith(".atlassian.net") else "datacenter"
        api_version, spec_path = map_v2_path(path)
        operation = self.find_operation(method, url)
        where = (f"{method.upper()} {path} ({deployment}; {operation.spec_file}, operation "
                 f"{operation}{' ' + operation.operation_id if operation.operation_id else ''})")
        problems: list[str] = []

        if deployment == "datacenter" and api_version == "3":
            problems.append("Jira Data Center serves /rest/api/2 only; /rest/api/3 is Cloud-only")
        description = str(operation.raw.get("description", ""))
        if deployment == "cloud" and REMOVED_ON_CLOUD in description:
            problems.append("removed on Cloud (answers 410 Gone): "
                            + description.split("\n", 1)[0])
        problems += [f"path parameter {name!r} is empty"
                     for name, value in operation.path_params.items() if not value]

        query = _parse_query(query_string)
        documented_query = _documented_parameters(self._file(operation), operation, "query")
        problems += [f"query parameter {name!r} is not documented for this operation "
                     f"(documented: {', '.join(sorted(documented_query)) or 'none'})"
                     for name in query if name not in documented_query]
        problems += [f"query parameter {name!r}: {value!r} is not a boolean Jira reads "
                     "(true or false; Jira reads anything else as false)"
                     for name, parameter in documented_query.items()
                     if _resolve(self._file(operation).document,
                                 parameter.get("schema", {})).get("type") == "boolean"
                     for value in query.get(name, []) if value.lower() not in ("true", "false")]
        # requests renders Python booleans as True/False; Jira parses them case-insensitively.
        checked_query = {name: [v.lower() if v in ("True", "False") else v for v in values]
                         for name, values in query.items()}

        header_map = Headers(list(headers.items()))
        content_type = str(header_map.get("Content-Type", ""))
        raw_body = body.encode() if isinstance(body, str) else body
        raw_body = raw_body or None
        json_body: Any = None
        if raw_body is not None:
            if "requestBody" not in operation.raw:
                problems.append(f"the operation takes no request body, but {len(raw_body)} "
                                "bytes were sent")
            if "json" in content_type.lower():
                try:
                    json_body = json.loads(raw_body)
                except ValueError as exc:
                    problems.append(f"request body is not valid JSON: {exc}")
                else:
                    rich_problems, checked = _check_rich_text(
                        operation, api_version, json_body)
                    problems += rich_problems
                    raw_body = json.dumps(checked).encode()

        request = _OpenAPIRequest(
            method=method, path=spec_path, query=checked_query, headers=header_map,
            body=raw_body, content_type=content_type)
        app = self._file(operation).app
        problems += [_describe(error) for error in app.iter_request_errors(request)]

        if problems:
            raise AssertionError(f"{where} does not match the spec:\n"
                                 + "\n".join(f"  - {p}" for p in problems))
        return ValidatedCall(
            method=method.upper(), url=url, path=path, spec_file=operation.spec_file,
            operation=str(operation), operation_id=operation.operation_id,
            deployment=deployment, api_version=api_version,
            path_params=operation.path_params, query=query, json_body=json_body,
            deprecated=bool(operation.raw.get("deprecated", False)))

    def _file(self, operation: Operation) -> SpecFile:
        return next(f for f in self.files if f.name == operation.spec_file)


# --- responses integration ------------------------------------------------------------------


class ValidatedRequestsMock(responses.RequestsMock):
    """A RequestsMock that checks its recorded calls against the Jira specs."""

    def __init__(self, spec: JiraSpec | None = None) -> None:
        super().__init__(assert_all_requests_are_fired=False)
        self.spec = spec or JiraSpec()
        self.validated_calls: list[ValidatedCall] = []

    def validate_calls(self) -> list[ValidatedCall]:
        """Validate every call recorded so far; raise AssertionError listing all problems."""
        validated: list[ValidatedCall] = []
        problems: list[str] = []
        for number, call in enumerate(self.calls, 1):
            request = call.request
            try:
                validated.append(self.spec.check_request(
                    request.method or "", request.url or "", _str_headers(request.headers),
                    _readable_body(request.body)))
            except AssertionError as exc:
                problems.append(f"request {number}: {exc}")
        self.validated_calls = validated
        if problems:
            raise AssertionError(
                f"{len(problems)} of {len(self.calls)} Jira request(s) do not match "
                "Atlassian's OpenAPI descriptions:\n" + "\n".join(problems))
        return validated


@contextmanager
def validated_responses(spec: JiraSpec | None = None) -> Iterator[ValidatedRequestsMock]:
    """Stub Jira with `responses`; on exit validate every request sent (all problems listed).

    If the block raises, its exception propagates with the validation problems as a note.
    The validated calls stay available as ``mock.validated_calls`` after the block.
    """
    mock = ValidatedRequestsMock(spec)
    with mock:
        try:
            yield mock
        except BaseException as exc:
            try:
                mock.validate_calls()
            except AssertionError as problems:
                exc.add_note(str(problems))
            raise
        mock.validate_calls()


# --- helpers --------------------------------------------------------------------------------


def map_v2_path(path: str) -> tuple[str | None, str]:
    """The REST API version of a /rest/api path ("2", "3" or None) and the path to check."""
    match = re.match(r"^/rest/api/([23])(/.*)?$", path)
    if match is None:
        return None, path
    return match.group(1), "/rest/api/3" + (match.group(2) or "")


def _split_url(url: str) -> tuple[str, str, str]:
    """Host, path and query string of a URL (or of a bare path)."""
    parts = urlsplit(url)
    return (parts.hostname or ""), (parts.path or "/"), parts.query


def _parse_query(query_string: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def _str_headers(headers: Mapping[str, str | bytes]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in headers.items()}


def _readable_body(body: object) -> bytes | str | None:
    if body is None or isinstance(body, bytes | str):
        return body
    raise AssertionError(f"cannot validate a streamed request body ({type(body).__name__})")


class _OpenAPIRequest:
    """An openapi_core.protocols.Request on the spec's server URL and the checked path."""

    def __init__(self, *, method: str, path: str, query: Mapping[str, list[str]],
                 headers: Headers, body: bytes | None, content_type: str) -> None:
        self.host_url = SPEC_SERVER
        self.path = path
        self.method = method.lower()
        self.body = body
        self.content_type = content_type
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, values in query.items() for v in values]),
            header=headers,
            cookie=ImmutableMultiDict(),
        )


def _documented_methods(spec_file: SpecFile, spec_path: str) -> list[str]:
    methods: set[str] = set()
    for template, item in spec_file.document["paths"].items():
        if _template_regex(template).fullmatch(spec_path):
            methods |= {m.upper() for m in item if m in METHODS}
    return sorted(methods)


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("[^/]*".join(re.escape(p) for p in parts))


def _documented_parameters(spec_file: SpecFile, operation: Operation,
                           location: str) -> dict[str, Mapping[str, Any]]:
    """The operation's (and its path's) parameters in one location, by name."""
    item = spec_file.document["paths"][operation.template]
    found: dict[str, Mapping[str, Any]] = {}
    for parameter in [*item.get("parameters", []), *operation.raw.get("parameters", [])]:
        resolved = _resolve(spec_file.document, parameter)
        if resolved.get("in") == location:
            found[str(resolved["name"])] = resolved
    return found


def _resolve(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _describe(error: Exception) -> str:
    """One readable line (or a few) for an openapi-core validation error."""
    name = getattr(error, "name", None)
    location = getattr(error, "location", None)
    label = f"{location} parameter {name!r}" if name and location else "request body"
    if type(error).__name__.startswith(("MissingRequired", "MissingRequestBody")):
        return f"{label}: {error}"
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    if schema_errors:
        lines = []
        for schema_error in schema_errors:
            at = "/".join(str(p) for p in getattr(schema_error, "absolute_path", ()))
            message = _shorten(str(getattr(schema_error, "message", schema_error)))
            lines.append(f"{label}{' at ' + at if at else ''}: {message}")
        return "\n  - ".join(lines)
    return f"{label}: {_shorten(str(cause if cause is not None else error))}"


def _shorten(text: str, limit: int = 300) -> str:
    """Long values cut in the middle, so that the verdict at the end stays readable."""
    return text if len(text) <= limit else f"{text[:limit // 2]} ... {text[-limit // 2:]}"


def _check_rich_text(operation: Operation, api_version: str | None,
                     body: Any) -> tuple[list[str], Any]:
    """Check v2 wiki-markup / v3 ADF values; return problems and the body for the v3 schema."""
    locations = RICH_TEXT.get((operation.method, operation.template))
    if not locations or api_version is None:
        return [], body
    problems: list[str] = []
    checked = json.loads(json.dumps(body))  # a copy the v2 placeholders can go into
    for location in locations:
        for container, key, where in _walk(checked, location, ""):
            value = container[key]
            if value is None:
                continue
            if api_version == "2":
                if not isinstance(value, str):
                    problems.append(f"{where}: API v2 takes wiki markup (a string), got "
                                    f"{type(value).__name__} (ADF is for /rest/api/3)")
                container[key] = _EMPTY_ADF  # v2 text is not checked against the v3 schema
            else:
                problems += _adf_problems(value, where)
    return problems, checked


def _walk(node: Any, location: tuple[str, ...], where: str) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, readable path) for each value at a JSON path with '*' for list items."""
    head, rest = location[0], location[1:]
    if head == "*":
        items: list[tuple[Any, str]] = (
            [(i, f"{where}[{i}]") for i in range(len(node))] if isinstance(node, list) else [])
    else:
        items = [(head, f"{where}.{head}" if where else head)] if (
            isinstance(node, dict) and head in node) else []
    for key, key_where in items:
        if rest:
            yield from _walk(node[key], rest, key_where)
        else:
            yield node, key, key_where


def _adf_problems(value: Any, where: str) -> list[str]:
    """Why a value is not an Atlassian Document Format document (v3 rich text)."""
    if not isinstance(value, dict) or value.get("type") != "doc":
        shown = repr(value)[:60]
        return [f"{where}: API v3 takes an Atlassian Document Format document "
                f"({{'type': 'doc', 'version': 1, 'content': [...]}}), got {shown}"]
    problems = []
    if value.get("version") != 1:
        problems.append(f"{where}: ADF document needs 'version': 1")
    if not isinstance(value.get("content"), list):
        problems.append(f"{where}: ADF document needs a 'content' list")
        return problems
    stack: list[tuple[Any, str]] = [(n, f"{where}.content[{i}]")
                                    for i, n in enumerate(value["content"])]
    while stack:
        node, at = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            problems.append(f"{at}: ADF node must be an object with a 'type'")
            continue
        if node["type"] == "text" and not (isinstance(node.get("text"), str) and node["text"]):
            problems.append(f"{at}: ADF text node needs a non-empty 'text'")
        children = node.get("content", [])
        if not isinstance(children, list):
            problems.append(f"{at}: ADF 'content' must be a list")
            continue
        stack += [(child, f"{at}.content[{i}]") for i, child in enumerate(children)]
    return problems


# --- loading --------------------------------------------------------------------------------


@cache
def _load(spec_dir: Path) -> tuple[tuple[SpecFile, ...], tuple[str, ...], float]:
    """Load, patch and wrap both files once per directory (module-level cache)."""
    started = time.perf_counter()
    patches: list[str] = []
    files = []
    for name in (PLATFORM_FILE, AGILE_FILE):
        path = spec_dir / f"{name}.gz"
        if not path.is_file():
            raise FileNotFoundError(
                f"Jira OpenAPI description {path} is missing: run "
                "tests/jira_openapi/refresh_specs.py")
        document = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        _strip_security(document)
        if name == AGILE_FILE:
            patches += [f"{name}: {p}" for p in _patch_agile(document)]
        app = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
        prefixes = frozenset("/".join(p.split("/")[:4]) for p in document["paths"])
        files.append(SpecFile(name, document, app, APICallPathFinder(app.spec), prefixes))
    return tuple(files), tuple(patches), time.perf_counter() - started


def _strip_security(document: dict[str, Any]) -> None:
    document.pop("security", None)
    for item in document["paths"].values():
        for method in METHODS:
            if method in item:
                item[method].pop("security", None)


def _patch_agile(document: dict[str, Any]) -> list[str]:
    """Fix agile schemas that cannot match any real request; return what was changed."""
    applied: list[str] = []
    for template, item in document["paths"].items():
        for method in METHODS:
            for parameter in item.get(method, {}).get("parameters", []):
                schema = parameter.get("schema", {})
                where = f"{method.upper()} {template} query {parameter.get('name')!r}"
                if parameter.get("in") != "query":
                    continue
                if _is_empty_closed_object(schema):
                    parameter["schema"] = {"type": "string"}
                    applied.append(f"{where}: empty object schema -> string")
                elif schema.get("type") == "array" and _is_empty_closed_object(
                        schema.get("items", {})):
                    schema["items"] = {"type": "string"}
                    applied.append(f"{where}: array of empty objects -> array of strings")
    sprints = document["paths"]["/rest/agile/1.0/board/{boardId}/sprint"]["get"]
    for parameter in sprints["parameters"]:
        if parameter["name"] == "state":
            parameter["schema"] = {"type": "string", "pattern": SPRINT_STATE_PATTERN}
            applied.append("GET /rest/agile/1.0/board/{boardId}/sprint query 'state': "
                           "comma-separated future|active|closed")
    move = document["paths"]["/rest/agile/1.0/sprint/{sprintId}/issue"]["post"]
    issues = move["requestBody"]["content"]["application/json"]["schema"]["properties"]["issues"]
    issues["maxItems"] = 50
    applied.append("POST /rest/agile/1.0/sprint/{sprintId}/issue body 'issues': maxItems 50 "
                   "(stated in the description only)")
    return applied


def _is_empty_closed_object(schema: Mapping[str, Any]) -> bool:
    return (schema.get("type") == "object" and schema.get("additionalProperties") is False
            and not schema.get("properties"))
