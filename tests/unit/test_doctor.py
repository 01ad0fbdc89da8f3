"""The pure part of `slabridge doctor`: what a configuration needs, and how checks print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slabridge.app.doctor import Check, failures, needs_of, render_json, render_text
from slabridge.cli.main import run
from slabridge.config.loader import load_config

CONFIG = """\
include: [contract-terms]
tracker:
  kind: {kind}
  url: https://tracker.example
  api_key: ${{KEY}}
  projects: [a, b]
  receipt_field: Incident received
{extra}
"""


def config_file(tmp_path: Path, kind: str = "redmine", extra: str = "") -> Path:
    path = tmp_path / "slabridge.yaml"
    path.write_text(CONFIG.format(kind=kind, extra=extra), encoding="utf-8")
    return path


def test_redmine_needs_the_default_fields_and_fastlane(tmp_path: Path) -> None:
    """On Redmine the five SLA fields are written (defaults), the receipt field is read, and
    the shipped terms move critical issues into the current sprint."""
    needs = needs_of(load_config(config_file(tmp_path)), ("Customer",))
    assert dict(needs.written_fields) == {
        "response_due": "SLA response due", "response_due_date": "SLA response due date",
        "sla_class": "SLA class", "sla_status": "SLA status", "sla_handling": "SLA handling"}
    assert needs.read_fields == ("Customer", "Incident received")
    assert needs.moves_issues
    assert (needs.adds_watchers, needs.reassigns) == (False, False)


def test_jira_without_fields_writes_the_property(tmp_path: Path) -> None:
    """On Jira without tracker.fields nothing is written to fields (the issue property)."""
    needs = needs_of(load_config(config_file(tmp_path, "jira")))
    assert dict(needs.written_fields) == {}
    assert needs.read_fields == ("Incident received",)


def test_renamed_field_and_no_handling(tmp_path: Path) -> None:
    """A renamed field is needed under its new name; sla_handling: null is not needed."""
    extra = "  fields: {sla_status: SLA state, sla_handling: null}"
    needs = needs_of(load_config(config_file(tmp_path, extra=extra)))
    assert needs.written_fields["sla_status"] == "SLA state"
    assert "sla_handling" not in needs.written_fields


def test_text_one_line_per_check_with_the_fix_of_failures() -> None:
    """ok lines without fix, FAIL lines with `-> fix:`, hints never fail, then a summary."""
    checks = [
        Check("key accepted", True, "SLA Bridge (slabridge)", "unused"),
        Check("field 'SLA state'", False, "missing", "create it"),
        Check("watching", True, "Redmine adds watchers", "untick it", hint=True),
    ]
    assert render_text(checks).splitlines() == [
        "ok   key accepted: SLA Bridge (slabridge)",
        "FAIL field 'SLA state': missing -> fix: create it",
        "hint watching: Redmine adds watchers -> fix: untick it",
        "doctor: 1 of 2 checks failed",
    ]
    assert failures(checks) == [checks[1]]
    assert failures([checks[0], checks[2]]) == []


def test_json_is_a_list_of_objects() -> None:
    """--json: one object per check with check, status, ok, detail and fix."""
    checks = [Check("a", True, "fine"), Check("b", False, "broken", "mend it")]
    assert json.loads(render_json(checks)) == [
        {"check": "a", "status": "ok", "ok": True, "detail": "fine", "fix": ""},
        {"check": "b", "status": "fail", "ok": False, "detail": "broken", "fix": "mend it"},
    ]


def test_without_a_tracker_doctor_exits_2(tmp_path: Path) -> None:
    """A configuration without `tracker:` is a configuration error, as for sync."""
    path = tmp_path / "slabridge.yaml"
    path.write_text("include: [contract-terms]\n", encoding="utf-8")
    assert run(["--config", str(path), "doctor"]) == 2


def test_unreachable_tracker_is_one_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens at the URL: exit 1, a FAIL line saying what to check."""
    path = tmp_path / "slabridge.yaml"
    path.write_text(CONFIG.format(kind="redmine", extra="  retries: 0").replace(
        "https://tracker.example", "http://127.0.0.1:9"), encoding="utf-8")
    monkeypatch.setenv("KEY", "k" * 40)
    assert run(["--config", str(path), "doctor"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1
    assert failed[0].startswith("FAIL Redmine reachable: http://127.0.0.1:9: ConnectionError")
    assert failed[0].endswith("-> fix: check tracker.url, the network and proxy (HTTPS_PROXY, "
                              "NO_PROXY), and TLS (REQUESTS_CA_BUNDLE or tracker.verify_tls)")


def test_metric_fields_are_checked_too(tmp_path: Path) -> None:
    """A metric's fields (tracker.fields.metrics) are fields doctor checks (it skipped them)."""
    extra = ("sla:\n  metrics:\n    resolution: {stop_statuses: [Resolved]}\n")
    path = config_file(tmp_path, extra=extra)
    text = path.read_text(encoding="utf-8").replace(
        "  projects:",
        "  fields:\n    metrics:\n      resolution: {due: Fix due, status: Fix state}\n"
        "  projects:")
    path.write_text(text, encoding="utf-8")
    needs = needs_of(load_config(path))
    assert needs.written_fields["resolution_due"] == "Fix due"
    assert needs.written_fields["resolution_status"] == "Fix state"
    assert needs.field_lengths["resolution_status"] == len("no_target")
