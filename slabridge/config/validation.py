"""Validating merged YAML data into Settings: every problem located, in file order."""

from __future__ import annotations

import copy
from datetime import date
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ValidationError,
)

from slabridge.config.checks import cross_check
from slabridge.config.models import Settings
from slabridge.config.source import PathKey, Source, dotted
from slabridge.errors import ConfigError, ConfigProblem

# --- validation --------------------------------------------------------------------------


def _problems_from(error: ValidationError, source: Source) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        path: PathKey = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r}"
        elif item["type"] == "missing":
            message = "required key missing"
        problems.append(source.problem(message, path))
    return problems




def validate(source: Source) -> Settings:
    """Validate merged raw data; every problem is reported with file, line and path.

    All problems of one run together: those found while reading, the schema's, and the
    cross-checks (references between sections, contract rules). When the schema rejects
    some values, the cross-checks run on the rest if leaving the rejected values out keeps
    the references intact; their findings about rejected parts are left out.
    """
    problems = list(source.problems)
    skipped = list(source.invalid)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(source.data)
    except ValidationError as error:
        rejected = [tuple(item["loc"]) for item in error.errors()]
        problems += [p for p, loc in zip(_problems_from(error, source), rejected, strict=True)
                     if not _within(loc, skipped)]
        skipped += rejected
        unknown = {tuple(e["loc"]) for e in error.errors() if e["type"] == "extra_forbidden"}
        settings, untrusted = _validate_without(source.data, rejected, unknown)
        skipped += untrusted
    if settings is not None:
        problems += [p for p in cross_check(settings, source)
                     if not any(_overlaps(p.path, dotted(loc)) for loc in skipped)]
    if problems:
        raise ConfigError(_in_file_order(problems, source))
    assert settings is not None  # noqa: S101 - no problems means the schema accepted it
    return settings


def _within(loc: PathKey, paths: list[PathKey]) -> bool:
    """Whether `loc` is one of `paths` or inside one."""
    return any(loc[: len(path)] == path for path in paths)


def _overlaps(path: str, other: str) -> bool:
    """Whether one dotted path is the other or inside it."""
    def inside(a: str, b: str) -> bool:
        return a == b or a.startswith((b + ".", b + "["))
    return bool(path) and (inside(path, other) or inside(other, path))


def _in_file_order(problems: list[ConfigProblem], source: Source) -> list[ConfigProblem]:
    """Problems by file (in reading order) and line; those without a line first."""
    order = {name: index for index, name in enumerate(source.files)}
    return sorted(problems, key=lambda p: (order.get(p.file or "", -1), p.line or 0))


PLACEHOLDERS: tuple[Any, ...] = (date(2000, 1, 1), "?", 1, 0, False, [], {})
"""Values tried for a rejected required field, so that the cross-checks can run."""


def _validate_without(
    data: dict[str, Any], rejected: list[PathKey], unknown: set[PathKey],
) -> tuple[Settings | None, list[PathKey]]:
    """The settings with the rejected values left out, if that leaves a valid whole whose
    names all still exist, and the paths whose cross-check findings are not to be trusted.

    Only fields of a section (their defaults apply) and `unknown` keys are left out, never
    a named entry (a tier, a customer) or a list item, which others may refer to; a
    required field gets a placeholder, and the findings about the list or section holding
    it are left out.
    """
    if len(rejected) > MAX_PRUNED or not all(
        loc in unknown or _is_model_field(loc) for loc in rejected
    ):
        return None, []
    pruned = copy.deepcopy(data)
    for loc in rejected:
        _parent(pruned, loc).pop(str(loc[-1]), None)
    untrusted: list[PathKey] = []
    for loc in rejected:
        try:
            return Settings.model_validate(pruned), untrusted
        except ValidationError as error:
            if loc not in [tuple(e["loc"]) for e in error.errors() if e["type"] == "missing"]:
                continue
        untrusted.append(loc[:-2] if len(loc) > 1 and isinstance(loc[-2], int) else loc[:-1])
        for placeholder in PLACEHOLDERS:
            _parent(pruned, loc)[str(loc[-1])] = placeholder
            try:
                Settings.model_validate(pruned)
            except ValidationError as error:
                if loc in [tuple(e["loc"]) for e in error.errors()]:
                    continue
            break
    try:
        return Settings.model_validate(pruned), untrusted
    except ValidationError:
        return None, []


MAX_PRUNED = 20


def _parent(data: dict[str, Any], loc: PathKey) -> dict[str, Any]:
    """The mapping that holds the value at `loc` (a field of a section, see _is_model_field)."""
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part]
    assert isinstance(parent, dict)  # noqa: S101 - the value of a section is a mapping
    return parent


def _is_model_field(loc: PathKey) -> bool:
    """Whether `loc` names a field of a settings section (not a mapping entry or list item)."""
    kind: Any = Settings
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        kind = _unwrap(kind, part)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            fields = {(f.alias or name): f for name, f in kind.model_fields.items()}
            if not isinstance(part, str) or part not in fields:
                return False
            if last:
                return True
            kind = fields[part].annotation
        elif get_origin(kind) is dict and isinstance(part, str):
            kind = get_args(kind)[1]
        elif get_origin(kind) in (tuple, list) and isinstance(part, int):
            kind = get_args(kind)[0]
        else:
            return False
        if last:
            return False
    return False


def _unwrap(kind: Any, part: str | int) -> Any:
    """The one member of an optional type that can hold `part` (a key or an index)."""
    if get_origin(kind) in (Union, UnionType):
        members = [m for m in get_args(kind) if m is not type(None)]
        fitting = [m for m in members if (
            isinstance(m, type) and issubclass(m, BaseModel) and isinstance(part, str)
        ) or (get_origin(m) is dict and isinstance(part, str))
            or (get_origin(m) in (tuple, list) and isinstance(part, int))]
        return fitting[0] if len(fitting) == 1 else None
    return kind


