"""Start-up objects are kept out of later garbage collections, and a reload leaks nothing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from slabridge.app.report import SyncReport
from slabridge.bootstrap import settle_long_lived_objects
from slabridge.cli import main as cli


class _Node:
    """A reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_what_exists_at_settling_is_frozen_and_later_objects_are_not() -> None:
    kept = [_Node() for _ in range(100)]
    settle_long_lived_objects()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    later = _Node()
    assert any(found is later for found in gc.get_objects(generation=0))  # not frozen
    del later
    gc.collect()
    assert gc.get_freeze_count() == frozen  # a collection leaves the frozen ones alone


def test_garbage_from_before_a_reload_is_freed_by_the_next_settling() -> None:
    node = _Node()
    alive = weakref.ref(node)
    settle_long_lived_objects()  # frozen with everything else (it was still in use)
    del node
    gc.collect()
    assert alive() is not None, "frozen objects are not collected: that is the point"
    settle_long_lived_objects()  # a reload: unfreeze, collect, freeze again
    assert alive() is None


def test_garbage_at_settling_is_collected_not_frozen() -> None:
    node = _Node()
    alive = weakref.ref(node)
    del node
    settle_long_lived_objects()
    assert alive() is None


def test_a_sync_run_settles_before_its_cycle(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    monkeypatch.delenv("SLABRIDGE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # the built-in configuration, whatever lies around
    frozen_at_cycle: list[int] = []

    class Syncer:
        def cycle(self, now: object, **options: object) -> SyncReport:
            frozen_at_cycle.append(gc.get_freeze_count())
            return SyncReport(mode="full", dry_run=False)

    gc.unfreeze()
    monkeypatch.setattr(cli, "build_syncer", lambda config, dry_run: Syncer())
    assert cli.run(["sync", "--once"]) == 0
    assert frozen_at_cycle and frozen_at_cycle[0] > 0
    assert "full cycle: 0 issues listed" in capsys.readouterr().out
