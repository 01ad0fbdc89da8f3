"""${VAR} references in configuration values, expanded from the environment."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from slabridge.config.source import PathKey, Source
from slabridge.errors import ConfigError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def env_variables(value: str) -> list[str]:
    """The environment variables a config value names as ${VAR}, in order."""
    return ENV_REF.findall(value)


def expand_env(value: str, path: PathKey, source: Source, environ: dict[str, str]) -> str:
    """`value` with every ${VAR} replaced from the environment; missing ones (all named)
    are a ConfigError."""
    missing = [name for name in env_variables(value) if not environ.get(name)]
    if len(missing) == 1:
        raise ConfigError([source.problem(
            f"environment variable {missing[0]} is not set (or empty)", path)])
    if missing:
        raise ConfigError([source.problem(
            f"environment variables {', '.join(missing)} are not set (or empty)", path)])
    return ENV_REF.sub(lambda m: environ[m.group(1)], value)


def variables_named(settings: BaseModel) -> list[str]:
    """Every ${VAR} a loaded configuration names anywhere (its strings, however nested),
    each once, in order."""
    found: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.update(dict.fromkeys(env_variables(node)))
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(settings.model_dump())
    return list(found)
