"""Reading YAML config files: includes, key-by-key merging and the line of every value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slabridge.errors import ConfigError, ConfigProblem, running_user

BUILTIN_DIR = Path(__file__).parent / "defaults"
BUILTIN_PREFIX = "builtin:"
DEFAULT_INCLUDES = ("contract-terms",)
MAX_INCLUDE_DEPTH = 10

PathKey = tuple[str | int, ...]

# Mappings that replace what they override instead of merging key by key: a calendar's
# weekly windows are one schedule (merging "mon-thu" into "mon-fri" would overlap).
REPLACED_WHOLE = frozenset({"windows"})


class Invalid:
    """Stands for a list item that could not be read (its problem is recorded), so that the
    items after it keep their index; validation reports nothing more about it."""

    def __repr__(self) -> str:
        return "<invalid>"


@dataclass
class Source:
    """Merged raw config data and where each dotted path was last set.

    Reading goes on after a problem that leaves the rest of the file readable (a bad
    scalar, a duplicate key, a missing include), so that one run reports them all: each is
    in `problems`, its path in `invalid` (a mapping value is left out, a list item becomes
    an `Invalid`), and validation adds its own problems about everything else.
    """

    data: dict[str, Any] = field(default_factory=dict)
    locations: dict[PathKey, tuple[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    invalid: list[PathKey] = field(default_factory=list)
    incomplete: bool = False
    """An include could not be read: what is missing would only be reported as missing."""

    def where(self, path: PathKey) -> tuple[str | None, int | None]:
        """The file and line that set `path`, or the nearest enclosing key that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return (self.files[-1] if self.files else None, None)

    def problem(self, message: str, path: PathKey) -> ConfigProblem:
        """A problem located at `path`."""
        file, line = self.where(path)
        return ConfigProblem(message, dotted(path), file, line)


def dotted(path: PathKey) -> str:
    """tiers.advanced.classes[0] style text for a path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _resolve_include(name: str, relative_to: Path | None) -> Path:
    is_file_name = "/" in name or name.endswith((".yaml", ".yml"))
    if name.startswith(BUILTIN_PREFIX) or not is_file_name:
        return BUILTIN_DIR / f"{name.removeprefix(BUILTIN_PREFIX)}.yaml"
    path = Path(name).expanduser()
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return path


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (YAML silently keeps the last one)."""


def _compose(path: Path) -> yaml.Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("file not found", file=str(path))]) from None
    except PermissionError:
        raise ConfigError([ConfigProblem(
            f"permission denied: slabridge runs as {running_user()}, which must be able to "
            "read the file and open every folder above it (e.g. chmod 644 on the file, "
            "755 on its folder); the file holds no secrets, only ${VAR} references",
            file=str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(f"cannot read: {exc}", file=str(path))]) from None
    try:
        return yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(f"not valid YAML: {problem}", file=str(path), line=line)]
        ) from None


class _Reading:
    """One file being turned into Python data: its name, where each path was set, and the
    problems found so far (with the paths they leave out)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[PathKey, tuple[str, int]] = {}
        self.problems: list[ConfigProblem] = []
        self.invalid: list[PathKey] = []

    def problem(self, message: str, path: PathKey, line: int | None) -> Invalid:
        """Record a problem at `path`; the value there is left out."""
        self.problems.append(ConfigProblem(message, dotted(path), self.file, line))
        self.invalid.append(path)
        return INVALID


INVALID = Invalid()


def _to_python(
    node: yaml.Node, path: PathKey, reading: _Reading, ancestors: frozenset[int] = frozenset(),
) -> Any:
    """The node as Python data; a part that cannot be read is `INVALID`, with its problem."""
    line = node.start_mark.line + 1
    reading.locations[path] = (reading.file, line)
    if id(node) in ancestors:
        return reading.problem("an alias refers to itself", path, line)
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        problem = _flatten_merge_keys(node)
        if problem is not None:
            return reading.problem(f"not valid YAML: {problem[0]}", path, problem[1] or line)
        result: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            try:
                key = _scalar(key_node)
            except _ScalarError:
                key = None
            if not isinstance(key, str | int | float | bool):
                reading.problems.append(ConfigProblem(
                    "keys must be plain names", dotted(path), reading.file, key_line))
                continue
            key_text = str(key)
            child = (*path, key_text)
            if key_text in seen:
                reading.problem(f"duplicate key {key_text!r}", child, key_line)
                continue
            seen.add(key_text)
            value = _to_python(value_node, child, reading, ancestors)
            reading.locations[child] = (reading.file, key_line)
            if isinstance(value, Invalid):
                continue
            result[key_text] = value
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), reading, ancestors)
            for index, item in enumerate(node.value)
        ]
    try:
        return _scalar(node)
    except _ScalarError as error:
        return reading.problem(str(error), path, line)


def _flatten_merge_keys(node: yaml.MappingNode) -> tuple[str, int | None] | None:
    """Resolve YAML merge keys (<<: *base) in place, as PyYAML's own loader does; a problem
    (message, line) if they cannot be."""
    loader = yaml.SafeLoader("")
    try:
        loader.flatten_mapping(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return (str(getattr(exc, "problem", None) or exc), mark.line + 1 if mark else None)
    finally:
        loader.dispose()
    return None


class _ScalarError(Exception):
    """A scalar that YAML cannot construct (the message says why)."""


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    # Constructing through SafeLoader keeps YAML's own typing (ints, dates, null, bools).
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise _ScalarError(f"not valid YAML: {problem}") from None
    except ValueError as exc:
        # An unquoted date-like value that is no date (2026-13-01): YAML's timestamp type
        # takes it, Python's date rejects it.
        if node.tag == "tag:yaml.org,2002:timestamp":
            raise _ScalarError(f"{node.value!r} is not a date ({exc}): write YYYY-MM-DD, "
                               "e.g. 2026-01-01") from None
        raise _ScalarError(f"{node.value!r} cannot be read: {exc}") from None
    finally:
        loader.dispose()


def _merge(
    base: dict[str, Any], override: dict[str, Any], path: PathKey,
    locations: dict[PathKey, tuple[str, int]], new_locations: dict[PathKey, tuple[str, int]],
) -> None:
    for key, value in override.items():
        child = (*path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict) and (
            key not in REPLACED_WHOLE
        ):
            _merge(base[key], value, child, locations, new_locations)
            locations[child] = new_locations.get(child, locations.get(child, ("", 0)))
        else:
            base[key] = value
            for known in [p for p in locations if p[: len(child)] == child]:
                del locations[known]
            for loc_path, loc in new_locations.items():
                if loc_path[: len(child)] == child:
                    locations[loc_path] = loc


def read_config(
    path: Path | None, source: Source | None = None, depth: int = 0,
    chain: tuple[Path, ...] = (),
) -> Source:
    """Read `path` (None: the shipped defaults) with its includes, merged in order.

    Problems that leave the rest readable are collected in `source.problems` (validation
    reports them with its own); a file that is not YAML at all stops the reading of that
    file, and of everything when it is the file asked for.
    """
    source = source or Source()
    if depth > MAX_INCLUDE_DEPTH:
        raise ConfigError([ConfigProblem("includes nest too deep", file=str(path))])
    if path is None:
        for name in DEFAULT_INCLUDES:
            read_config(_resolve_include(name, None), source, depth + 1, chain)
        return source
    try:
        node = _compose(path)
    except ConfigError as error:
        if depth == 0:
            raise
        source.problems += error.problems
        source.incomplete = True
        return source
    reading = _Reading(str(path))
    data = _to_python(node, (), reading) if node is not None else {}
    source.problems += reading.problems
    source.invalid += reading.invalid
    if data is None or isinstance(data, Invalid):
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem("the top level must be a mapping", file=str(path))])
    # The default include is skipped by the shipped file itself (config/contract-terms.yaml).
    defaults = [name for name in DEFAULT_INCLUDES
                if _resolve_include(name, None).resolve() != path.resolve()]
    includes = data.pop("include", defaults if depth == 0 else [])
    include_line = reading.locations.get(("include",), ("", None))[1]
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        source.problems.append(ConfigProblem(
            "include must be a list of file names or builtin names", "include", str(path),
            include_line,
        ))
        source.incomplete = True
        includes = [i for i in includes if isinstance(i, str)] \
            if isinstance(includes, list) else []
    here = (*chain, path.resolve())
    for name in includes:
        included = _resolve_include(name, path.parent)
        if not included.exists():
            source.problems.append(ConfigProblem(
                f"included file {name!r} not found ({included})", "include", str(path),
                include_line,
            ))
            source.incomplete = True
        elif included.resolve() in here:
            source.problems.append(ConfigProblem(
                f"include cycle: {name!r} is already being read", "include", str(path),
                include_line,
            ))
            source.incomplete = True
        else:
            read_config(included, source, depth + 1, here)
    _merge(source.data, data, (), source.locations, reading.locations)
    source.files.append(str(path))
    if depth == 0 and source.incomplete:
        raise ConfigError(source.problems)
    return source
