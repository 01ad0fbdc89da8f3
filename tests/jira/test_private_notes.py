"""Private notes on Jira: restricted to a role or group, else a JSM internal comment."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from slabridge.bootstrap import build_syncer
from slabridge.config.loader import load_config
from tests.jira.conftest import CLOUD, stub_reference, stub_search_pages, write_config

pytestmark = pytest.mark.usefixtures("jira_env")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def comments_sent(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    sent = []
    for call in mock.calls:
        if call.request.method == "POST" and re.search(r"/comment$", call.request.url or ""):
            raw = call.request.body
            assert isinstance(raw, bytes | str)
            sent.append(json.loads(raw))
    return sent


def run_cycle(mock: responses.RequestsMock, tmp_path: Path, notes: str) -> list[dict[str, Any]]:
    stub_reference(mock)
    stub_search_pages(mock)
    mock.put(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/properties/slabridge\.sla"),
             status=200, json={})
    mock.post(re.compile(rf"{CLOUD}/rest/api/3/issue/[A-Z]+-\d+/comment"), status=201,
              json={"id": "1"})
    build_syncer(load_config(write_config(tmp_path, extra=notes))).cycle(NOW)
    return comments_sent(mock)


def test_private_notes_restricted_to_the_configured_role(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """notes.private with jira_visibility: every comment carries that visibility."""
    sent = run_cycle(jira, tmp_path, "notes:\n  private: true\n  jira_visibility: "
                                     "{type: role, value: Developers}\n")
    assert sent
    assert {json.dumps(c.get("visibility")) for c in sent} == {
        json.dumps({"type": "role", "value": "Developers"})}


def test_private_notes_without_visibility_are_jsm_internal(
    jira: responses.RequestsMock, tmp_path: Path
) -> None:
    """notes.private alone: JSM's internal-comment property on every comment."""
    sent = run_cycle(jira, tmp_path, "notes:\n  private: true\n")
    assert sent
    assert all(c["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
               for c in sent)


def test_notes_are_public_by_default(jira: responses.RequestsMock, tmp_path: Path) -> None:
    """Without notes.private the comments carry neither visibility nor properties."""
    sent = run_cycle(jira, tmp_path, "")
    assert sent
    assert not [c for c in sent if "visibility" in c or "properties" in c]
