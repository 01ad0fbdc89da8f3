"""A demo-like state store and configuration for the browser tests (no tracker needed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.config.loader import Config, load_config
from slabridge.web.sample import CONFIG, fill

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "slabridge.example.yaml"
VIEWER = ("viewer", "correct horse battery staple")
WEB_USERS = "web:\n  users:\n    viewer: ${SLABRIDGE_WEB_VIEWER}\n"


@dataclass(frozen=True)
class Site:
    """A config file and its state store with demo-like issues."""

    config_path: Path
    config: Config
    env: dict[str, str]


def make_site(folder: Path, count: int, now: datetime, users: bool = True,
              extra: str = "") -> Site:
    """The example configuration (and `extra` config text) with `count` open issues
    stored as of `now`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "slabridge.yaml"
    text = (CONFIG.format(example=json.dumps(str(EXAMPLE))) + (WEB_USERS if users else "")
            + extra)
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "REDMINE_API_KEY": "unused: the pages never call the tracker",
           "SLABRIDGE_WEB_VIEWER": VIEWER[1]}
    config = load_config(path)
    store = SqliteStateStore(folder / "state.sqlite3")
    try:
        fill(store, config, now, count)
    finally:
        store.close()
    return Site(path, config, env)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """60 open issues of the demo's customers, as of now, viewable by `viewer`."""
    return make_site(tmp_path_factory.mktemp("site"), 60, datetime.now(UTC))
