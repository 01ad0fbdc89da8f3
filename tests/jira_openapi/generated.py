"""Jira answers generated from Atlassian's schemas, and a sync cycle fed with them.

Strategies (hypothesis; ``from_schema`` below turns the JSON Schema subset the descriptions
use into strategies: hypothesis-jsonschema 0.23.1 fails on objects with the hypothesis
this project installs, ``'many' object has no attribute 'more'``) for every endpoint the
adapter reads:
serverInfo, myself, field, search/jql pages, issue (changelog and comment pages), the
board's sprints, worklog/updated and worklog/list. The schemas come from the vendored
descriptions (``$ref`` inlined three levels deep, deeper ones any JSON; OpenAPI's
``nullable`` as a null alternative). Issue ``fields`` are untyped in the spec, so each issue
starts as a readable one and gets a few of its fields absent, null, empty, or replaced by a
value generated from the schema Jira documents for that field (StatusDetails, ...).

``run_cycle`` runs one sync cycle against such answers; ``test_robustness.py`` runs it in
CI and ``benchmarks/jira_robustness.py`` runs many more.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, Final

import responses
from hypothesis import strategies as st
from structlog.testing import capture_logs

from slabridge.adapters.jira.tracker import JiraTracker
from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from slabridge.errors import SlabridgeError
from tests.jira.conftest import CLOUD, load, write_config
from tests.jira_openapi.validator import JiraSpec, validated_responses

NOW: Final = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MAX_REF_DEPTH: Final = 3
DROPPED: Final = frozenset({"description", "example", "examples", "readOnly", "writeOnly", "xml",
                            "externalDocs", "deprecated", "discriminator", "nullable", "title",
                            "default", "format", "uniqueItems"})
GOOD_ISSUES: Final = [issue for page in ("search_page1", "search_page2", "search_page3")
                      for issue in load(page)["issues"]]
ABSENT: Final = object()
ISSUE_FIELDS: Final[Mapping[str, Any]] = {
    # Issue field -> the schema Jira documents for its value (fields are untyped in IssueBean).
    "status": "StatusDetails",
    "project": "ProjectDetails",
    "issuetype": "IssueTypeDetails",
    "priority": "Priority",
    "reporter": "UserDetails",
    "created": {"type": "string"},
    "updated": {"type": "string"},
    "summary": {"type": "string"},
    "labels": {"type": "array", "items": {"type": "string"}},
    "customfield_10010": {"type": "array", "items": {"type": "object"}},  # Organizations
    "customfield_10020": {"type": "array", "items": {"$ref": "SprintBean"}},  # Sprint
}
EMPTY: Final = {"string": "", "array": [], "object": {}}


JSON_SCALARS: Final = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(
    allow_nan=False, allow_infinity=False), st.text(max_size=12))
ANY_JSON: Final = st.recursive(
    JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                          st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
_TYPES: Final[Mapping[str, st.SearchStrategy[Any]]] = {
    "null": st.none(), "boolean": st.booleans(), "integer": st.integers(),
    "number": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
}


def from_schema(schema: Any) -> st.SearchStrategy[Any]:
    """Values of a JSON Schema (the subset the Jira descriptions use); {} is any JSON."""
    if not isinstance(schema, dict) or not schema:
        return ANY_JSON
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s) for s in schema[key]])
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                merged.update({k: v for k, v in part.items() if k != "properties"})
        return from_schema(merged) if merged else ANY_JSON
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    if kind == "string":
        return st.text(max_size=schema.get("maxLength", 16))
    if kind == "integer" and ("minimum" in schema or "maximum" in schema):
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if isinstance(kind, str) and kind in _TYPES:
        return _TYPES[kind]
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})),
                        max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object" or "properties" in schema:
        return _object_of(schema)
    return ANY_JSON


def _object_of(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    members = {name: from_schema(s) for name, s in properties.items()}
    extra = schema.get("additionalProperties")
    extras = (st.dictionaries(st.text(max_size=8), from_schema(extra if isinstance(extra, dict)
                                                                else {}), max_size=2)
              if extra is not False and not properties else st.just({}))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = dict(draw(extras))
        for name, strategy in members.items():
            if name in required or draw(st.booleans()):
                out[name] = draw(strategy)
        return out

    return build()


def to_json_schema(document: Mapping[str, Any], schema: Any, depth: int = 0) -> Any:
    """An OpenAPI 3.0 schema as a self-contained JSON Schema (see the module docstring)."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        if depth >= MAX_REF_DEPTH:
            return {}
        name = schema["$ref"].rsplit("/", 1)[-1]
        return to_json_schema(document, document["components"]["schemas"][name], depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {n: to_json_schema(document, s, depth) for n, s in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties"
                                         and isinstance(value, dict)):
            out[key] = to_json_schema(document, value, depth)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(document, s, depth) for s in value]
        else:
            out[key] = value
    if "properties" in out:
        out["additionalProperties"] = False  # unknown members tell the adapter nothing
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    platform, agile = (f.document for f in JiraSpec().files)
    return platform, agile


def component(name: str) -> Any:
    """A named schema of either description as JSON Schema."""
    platform, agile = _documents()
    document = platform if name in platform["components"]["schemas"] else agile
    return to_json_schema(document, {"$ref": f"#/components/schemas/{name}"})


def schema_of(spec: Any) -> Any:
    """A schema given by component name, or inline (with "$ref": "Name" items)."""
    if isinstance(spec, str):
        return component(spec)
    if isinstance(spec, dict):
        if set(spec) == {"$ref"}:
            return component(spec["$ref"])
        return {k: schema_of(v) if k in ("items",) else v for k, v in spec.items()}
    return spec


@cache
def answer(name: str) -> st.SearchStrategy[Any]:
    """Values of one documented schema (cached: building them costs)."""
    return from_schema(schema_of(name))


def value_for(spec: Any) -> st.SearchStrategy[Any]:
    """A field value: absent, null, empty, or generated from the field's schema."""
    schema = schema_of(spec)
    kind = schema.get("type") if isinstance(schema, dict) else None
    generated = from_schema(schema) if not isinstance(spec, str) else answer(spec)
    options: list[st.SearchStrategy[Any]] = [st.just(ABSENT), st.none(), generated,
                                             ANY_JSON]  # another type
    if kind in EMPTY:
        options.append(st.builds(copy.deepcopy, st.just(EMPTY[kind])))  # a fresh one
    return st.one_of(options)


@st.composite
def issue(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """A readable issue with up to three fields (or its key) changed as Jira might send them."""
    raw: dict[str, Any] = copy.deepcopy(GOOD_ISSUES[number % len(GOOD_ISSUES)])
    raw["key"], raw["id"] = f"ACME-{100 + number}", str(20000 + number)
    fields = raw["fields"]
    if draw(st.booleans()):  # changed after creation: its journal is read
        fields["updated"] = "2026-11-23T09:10:00.000+0100"
    for name in draw(st.lists(st.sampled_from([*ISSUE_FIELDS, "key", "fields",
                                               "statusCategory"]), max_size=3, unique=True)):
        if name == "key":
            # Odd keys stay distinct: two issues with one key are one issue to the cycle.
            raw["key"] = draw(st.one_of(st.just(ABSENT), st.none(), st.just(""),
                                        st.just(f"acme-{100 + number}"),
                                        st.text(max_size=8).map(partial(_odd_key, number)),
                                        st.integers()))
        elif name == "fields":
            raw["fields"] = draw(st.one_of(st.just(ABSENT), st.none(), from_schema({})))
        elif name == "statusCategory" and isinstance(fields.get("status"), dict):
            fields["status"]["statusCategory"] = draw(value_for("StatusCategory"))
        elif name in ISSUE_FIELDS:
            fields[name] = draw(value_for(ISSUE_FIELDS[name]))
    if draw(st.booleans()):
        raw["properties"] = {"slabridge.sla": draw(from_schema({}))}
    return dict(_drop_absent(raw))


def _odd_key(number: int, text: str) -> str:
    return f"{text}~{number}"


def _drop_absent(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_absent(v) for k, v in value.items() if v is not ABSENT}
    return value


@st.composite
def listing(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Search pages: issues split over 1 to 3 pages, linked properly or oddly."""
    issues = [draw(issue(n)) for n in range(draw(st.integers(1, 6)))]
    cuts = sorted(draw(st.lists(st.integers(0, len(issues)), max_size=2)))
    bounds = [0, *cuts, len(issues)]
    pages = []
    for n, (start, end) in enumerate(itertools.pairwise(bounds)):
        last = n == len(bounds) - 2
        page: dict[str, Any] = {"issues": issues[start:end], "isLast": last}
        if not last:
            page["nextPageToken"] = f"page-{n + 1}"
        if draw(st.integers(0, 4)) == 0:  # odd paging: generated isLast / nextPageToken
            odd = draw(answer("SearchAndReconcileResults"))
            for member in ("isLast", "nextPageToken"):
                page.pop(member, None)
                if member in odd:
                    page[member] = odd[member]
        pages.append(page)
    return pages


@st.composite
def journal_page(draw: st.DrawFn) -> dict[str, Any]:
    """What GET issue/{key}?expand=changelog adds: a changelog and a comment page."""
    extra: dict[str, Any] = {}
    extra["changelog"] = draw(st.one_of(st.just(load("issue_changelog")["changelog"]),
                                        answer("PageOfChangelogs"), st.just(ABSENT)))
    extra["comment"] = draw(st.one_of(st.just(ABSENT), answer("PageOfComments")))
    return dict(_drop_absent(extra))


@st.composite
def jira_answers(draw: st.DrawFn) -> dict[str, Any]:
    """Everything one cycle reads: reference data, search pages, journals, the sprint."""
    server = load("serverInfo_cloud")
    if draw(st.booleans()):
        server = draw(answer("ServerInformation"))
    fields = load("fields")
    if draw(st.booleans()):
        fields = fields + draw(st.lists(answer("FieldDetails"), max_size=3))
    return {
        "serverInfo": server,
        "myself": draw(st.one_of(st.just(load("myself")), answer("User"))),
        "field": fields,
        "pages": draw(listing()),
        "journal": draw(journal_page()),
        "sprints": draw(sprint_page()),
    }


def sprint_page() -> st.SearchStrategy[Any]:
    """The board's sprints: the documented SprintBean items in a page (the agile file gives
    this answer an example only)."""
    return st.one_of(
        st.just(load("sprint_active")),
        from_schema({"type": "object", "properties": {
            "isLast": {"type": "boolean"},
            "values": {"type": "array", "maxItems": 3, "items": component("SprintBean")}},
            "additionalProperties": False}))


def worklog_answers() -> st.SearchStrategy[tuple[Any, Any]]:
    """A /worklog/updated page and a /worklog/list answer, as documented."""
    return st.tuples(answer("ChangedWorklogs"),
                     st.lists(answer("Worklog"), max_size=4))


@dataclass
class Outcome:
    """What one generated cycle came to."""

    completed: int = 0
    stopped: dict[str, int] = field(default_factory=dict)  # expected failure kind -> count
    skipped: int = 0
    requests: int = 0


def stub(mock: responses.RequestsMock, answers: Mapping[str, Any]) -> None:
    """Register the generated answers, and plain successes for the writes."""
    api = f"{CLOUD}/rest/api"
    mock.get(f"{api}/2/serverInfo", json=answers["serverInfo"])
    for version in ("2", "3"):
        mock.get(f"{api}/{version}/myself", json=answers["myself"])
        mock.get(f"{api}/{version}/field", json=answers["field"])
    pages = answers["pages"]
    after: dict[str | None, int] = {None: 0}
    for n, page in enumerate(pages[:-1]):
        token = page.get("nextPageToken")
        if isinstance(token, str):
            after.setdefault(token, n + 1)

    def search(request: Any) -> tuple[int, dict[str, str], str]:
        n = after.get(request.params.get("nextPageToken"))
        body = pages[n] if n is not None else {"issues": [], "isLast": True}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def fetch(request: Any) -> tuple[int, dict[str, str], str]:
        key = request.path_url.split("?")[0].rsplit("/", 1)[-1]
        listed = next((i for p in pages for i in p.get("issues", [])
                       if isinstance(i, dict) and i.get("key") == key), None)
        raw = copy.deepcopy(listed) if listed is not None else {"key": key}
        extra = answers["journal"]
        if "changelog" in extra:
            raw["changelog"] = extra["changelog"]
        if "comment" in extra and isinstance(raw.get("fields"), dict):
            raw["fields"]["comment"] = extra["comment"]
        return 200, {"Content-Type": "application/json"}, json.dumps(raw)

    for version in ("2", "3"):
        mock.add_callback(responses.GET, re.compile(
            re.escape(f"{api}/{version}/search/jql") + r"(\?.*)?$"), callback=search)
        mock.add_callback(responses.GET, re.compile(
            re.escape(f"{api}/{version}/issue/") + r"[^/?]+(\?.*)?$"), callback=fetch)
        issue = re.escape(f"{api}/{version}/issue/") + r"[^/]+"
        mock.put(re.compile(issue + r"/properties/slabridge\.sla$"), json={})
        mock.post(re.compile(issue + r"/comment$"), status=201, json={"id": "1"})
        mock.put(re.compile(issue + "$"), status=204)
    mock.get(re.compile(re.escape(f"{CLOUD}/rest/agile/1.0/board/5/sprint") + r"(\?.*)?$"),
             json=answers["sprints"])
    mock.post(re.compile(re.escape(f"{CLOUD}/rest/agile/1.0/sprint/") + r"\d+/issue$"),
              status=204)


def served_issues(answers: Mapping[str, Any]) -> int:
    """How many issues the search pages the adapter can reach hold."""
    pages, count, token_seen = answers["pages"], 0, set()
    for page in pages:
        count += len(page["issues"])
        if page.get("isLast") is True or (page.get("isLast") is None
                                          and not page.get("nextPageToken")):
            break
        token = page.get("nextPageToken")
        if not isinstance(token, str) or not token or token in token_seen:
            break
        token_seen.add(token)
    return count


def run_cycle(answers: Mapping[str, Any], outcome: Outcome,
              on_request_count: Callable[[int], None] | None = None) -> None:
    """One sync cycle against the answers; raises AssertionError on an internal error, a
    request the descriptions reject, or an unreadable issue not reported."""
    with tempfile.TemporaryDirectory() as folder, validated_responses() as mock, \
            capture_logs() as logs:
        stub(mock, answers)
        syncer = build_syncer(load_config(write_config(Path(folder))))
        tracker = syncer.tracker
        assert isinstance(tracker, JiraTracker)
        try:
            report = syncer.cycle(NOW)
        except SlabridgeError as error:  # an expected failure: exit 1 or 2, never 3
            kind = type(error).__name__
            outcome.stopped[kind] = outcome.stopped.get(kind, 0) + 1
        else:
            outcome.completed += 1
            unreadable: list[str] = getattr(tracker, "unreadable", [])
            outcome.skipped += len(unreadable)
            bugs = [e for e in logs if e.get("kind") == "bug"]
            assert not bugs, f"internal error in an issue's turn: {bugs[0]}"
            for problem in unreadable:
                assert report.problems.count(problem) == 1, f"not reported once: {problem}"
            assert report.seen + len(unreadable) == served_issues(answers), (
                report.seen, unreadable)
        finally:
            syncer.store.close()
        outcome.requests += len(mock.calls)
        if on_request_count:
            on_request_count(len(mock.calls))
