"""Shared fixtures: the shipped configuration and time helpers."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import structlog

from slabridge.config.loader import Config, load_config

VIENNA = ZoneInfo("Europe/Vienna")


def vienna(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Vienna."""
    return datetime(year, month, day, hour, minute, tzinfo=VIENNA)


@pytest.fixture(scope="session")
def shipped() -> Config:
    """The shipped contract terms, loaded once."""
    return load_config(None)


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Commands configure structlog globally; every test starts from the defaults."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _nothing_left_frozen() -> Iterator[None]:
    """`sync` run in-process freezes the garbage collector's view; later tests start unfrozen."""
    yield
    gc.unfreeze()
