"""Reading YAML config files: includes, key-by-key merging and the line of every value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slabridge.errors import ConfigError, ConfigProblem

BUILTIN_DIR = Path(__file__).parent / "defaults"
BUILTIN_PREFIX = "builtin:"
DEFAULT_INCLUDES = ("contract-terms",)
MAX_INCLUDE_DEPTH = 10

PathKey = tuple[str | int, ...]

# Mappings that replace what they override instead of merging key by key: a calendar's
# weekly windows are one schedule (merging "mon-thu" into "mon-fri" would overlap).
REPLACED_WHOLE = frozenset({"windows"})


@dataclass
class Source:
    """Merged raw config data and where each dotted path was last set."""

    data: dict[str, Any] = field(default_factory=dict)
    locations: dict[PathKey, tuple[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

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


def _to_python(
    node: yaml.Node, path: PathKey, file: str, locations: dict[PathKey, tuple[str, int]],
    ancestors: frozenset[int] = frozenset(),
) -> Any:
    line = node.start_mark.line + 1
    locations[path] = (file, line)
    if id(node) in ancestors:
        raise ConfigError([ConfigProblem("an alias refers to itself", dotted(path), file,
                                         line)])
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        _flatten_merge_keys(node, file)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, file)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise ConfigError([ConfigProblem(
                    "keys must be plain names", "", file, key_node.start_mark.line + 1
                )])
            key_text = str(key)
            child = (*path, key_text)
            if key_text in result:
                raise ConfigError([ConfigProblem(
                    f"duplicate key {key_text!r}", dotted(child), file,
                    key_node.start_mark.line + 1,
                )])
            result[key_text] = _to_python(value_node, child, file, locations, ancestors)
            locations[child] = (file, key_node.start_mark.line + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), file, locations, ancestors)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node, file)


def _flatten_merge_keys(node: yaml.MappingNode, file: str) -> None:
    """Resolve YAML merge keys (<<: *base) in place, as PyYAML's own loader does."""
    loader = yaml.SafeLoader("")
    try:
        loader.flatten_mapping(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError([ConfigProblem(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=file,
            line=mark.line + 1 if mark else node.start_mark.line + 1,
        )]) from None
    finally:
        loader.dispose()


def _scalar(node: yaml.Node, file: str = "") -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    # Constructing through SafeLoader keeps YAML's own typing (ints, dates, null, bools).
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(
            f"not valid YAML: {problem}", file=file or None, line=node.start_mark.line + 1
        )]) from None
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
    """Read `path` (None: the shipped defaults) with its includes, merged in order."""
    source = source or Source()
    if depth > MAX_INCLUDE_DEPTH:
        raise ConfigError([ConfigProblem("includes nest too deep", file=str(path))])
    if path is None:
        for name in DEFAULT_INCLUDES:
            read_config(_resolve_include(name, None), source, depth + 1, chain)
        return source
    node = _compose(path)
    locations: dict[PathKey, tuple[str, int]] = {}
    data = _to_python(node, (), str(path), locations) if node is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem("the top level must be a mapping", file=str(path))])
    # The default include is skipped by the shipped file itself (config/contract-terms.yaml).
    defaults = [name for name in DEFAULT_INCLUDES
                if _resolve_include(name, None).resolve() != path.resolve()]
    includes = data.pop("include", defaults if depth == 0 else [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError([ConfigProblem(
            "include must be a list of file names or builtin names", "include", str(path),
            locations.get(("include",), ("", None))[1],
        )])
    here = (*chain, path.resolve())
    for name in includes:
        included = _resolve_include(name, path.parent)
        include_line = locations.get(("include",), ("", None))[1]
        if not included.exists():
            raise ConfigError([ConfigProblem(
                f"included file {name!r} not found ({included})", "include", str(path),
                include_line,
            )])
        if included.resolve() in here:
            raise ConfigError([ConfigProblem(
                f"include cycle: {name!r} is already being read", "include", str(path),
                include_line,
            )])
        read_config(included, source, depth + 1, here)
    _merge(source.data, data, (), source.locations, locations)
    source.files.append(str(path))
    return source
