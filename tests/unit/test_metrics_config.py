"""A resolution metric configured only in YAML: targets beside the response, notes once
per event, escalation by metric, fields per metric; the shipped terms stay response-only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from slabridge.cli.main import run
from slabridge.config.loader import Config, load_config
from slabridge.domain.model import IssueRecord, Journal, SlaStatus, StatusChange
from slabridge.domain.plan import decide
from slabridge.errors import ConfigError
from tests.conftest import vienna
from tests.domain_values import ticket
from tests.fakes import RESOLUTION_METRIC

EXAMPLE = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"


def config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "c.yaml"
    path.write_text(f"include: [{EXAMPLE}]\n{RESOLUTION_METRIC}{extra}", encoding="utf-8")
    return load_config(path)


def test_a_cell_with_a_resolution_target_keeps_its_response_and_handling(
    tmp_path: Path,
) -> None:
    loaded, shipped = config(tmp_path), load_config(EXAMPLE)
    advanced = loaded.tier("advanced")
    before = shipped.tier("advanced").classes["critical"]
    assert (advanced.classes["critical"].response, advanced.classes["critical"].handling) == (
        before.response, before.handling)
    day = timedelta(microseconds=advanced.calendar.service_day_us)
    assert advanced.metric_target("critical", "resolution") == 2 * day
    assert advanced.metric_target("minor", "resolution") is None
    assert advanced.metric_target("critical", "response") == \
        shipped.tier("advanced").response_target("critical")
    assert shipped.settings.sla.metrics == {}  # the shipped terms: response only


def test_unknown_metrics_are_located_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, "escalation:\n  ladders:\n    x:\n      - {name: late, when: breached, "
                         "metric: resolutoin}\n  rules: [{ladder: x}]\n")
    assert [p.path for p in caught.value.problems] == ["escalation.ladders.x[0].metric"]
    assert "unknown metric 'resolutoin': response or one of ['resolution']" in str(caught.value)


def test_resolution_events_are_noted_once_each(tmp_path: Path) -> None:
    """Resolved in time: one 'met' line; late: one 'breached' line; never twice."""
    rules = config(tmp_path).rules()
    answered = ticket(status="Resolved")
    journal_in_time = (StatusChange(vienna(2026, 11, 23, 10), "New", "Resolved"),)
    journal = Journal("New", journal_in_time)
    first = decide(answered, journal, None, rules, vienna(2026, 11, 23, 11))
    assert first.metrics["resolution"].status is SlaStatus.MET
    assert first.update is not None and first.update.note is not None
    assert "*SLA resolution met:*" in first.update.note
    assert "metric:acme:critical:resolution:met" in first.update.note_keys
    record = IssueRecord(answered, journal, done_keys=frozenset(first.update.note_keys))
    again = decide(answered, journal, record, rules, vienna(2026, 11, 23, 12))
    assert again.update is None or "resolution" not in (again.update.note or "")

    running = ticket()
    late = decide(running, Journal("New", (StatusChange(vienna(2026, 11, 23, 9, 30), "New",
                                                        "In Progress"),)),
                  None, rules, vienna(2026, 11, 30, 9))
    assert late.metrics["resolution"].status is SlaStatus.BREACHED
    assert late.update is not None and "*SLA resolution breached:*" in (late.update.note or "")


def test_escalation_step_follows_its_metric(tmp_path: Path) -> None:
    """A step on the resolution clock fires when resolution is at risk, though the
    response was met long before."""
    rules = config(tmp_path, """
escalation:
  channels: {chat: {kind: webhook, url: "http://127.0.0.1:9/hook"}}
  ladders:
    fix:
      - {name: fix-at-risk, when: at_risk, metric: resolution, notify: [chat]}
  rules: [{ladder: fix}]
""").rules()
    journal = Journal("New", (StatusChange(vienna(2026, 11, 23, 9, 30), "New", "In Progress"),))
    early = decide(ticket(), journal, None, rules, vienna(2026, 11, 23, 12))
    assert early.update is None or not early.update.notifications
    risky = decide(ticket(), journal, None, rules, vienna(2026, 11, 24, 14))
    assert risky.metrics["resolution"].status is SlaStatus.AT_RISK
    assert risky.update is not None
    assert [n.channel for n in risky.update.notifications] == ["chat"]
    assert "(resolution)" in (risky.update.note or "")


def test_fields_per_metric_are_wanted_only_where_named(tmp_path: Path) -> None:
    tracker = ("tracker:\n  fields:\n    metrics:\n      resolution: {due: SLA resolution due, "
               "status: SLA resolution status}\n")
    named = decide(ticket(), None, None, config(tmp_path, tracker).rules(),
                   vienna(2026, 11, 23, 10)).desired_fields
    assert named["resolution_status"] == "running"
    # Two Advanced service days (09:00-16:00) from the receipt, Monday 09:00: Tuesday
    # 16:00 in Vienna.
    assert named["resolution_due"] == "2026-11-24T15:00:00Z"
    plain = decide(ticket(), None, None, config(tmp_path).rules(),
                   vienna(2026, 11, 23, 10)).desired_fields
    assert "resolution_status" not in plain


def test_the_example_configuration_shows_a_resolution_metric_that_loads(
    tmp_path: Path,
) -> None:
    """The commented resolution blocks of config/slabridge.example.yaml, uncommented, are a
    valid configuration with the targets they say."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    uncommented = list(lines)
    for first in ("  # metrics:", "# tiers:", "  # fields:"):
        index = lines.index(first) if first in lines else next(
            i for i, line in enumerate(lines) if line.startswith(first))
        while index < len(lines) and lines[index].lstrip().startswith("#"):
            line = lines[index]
            indent = line[: len(line) - len(line.lstrip())]
            uncommented[index] = indent + line.lstrip()[2:]
            index += 1
    path = tmp_path / "slabridge.yaml"
    path.write_text("\n".join(uncommented), encoding="utf-8")  # include: a builtin name
    loaded = load_config(path)
    assert list(loaded.settings.sla.metrics) == ["resolution"]
    day = timedelta(microseconds=loaded.tier("premium").calendar.service_day_us)
    assert loaded.tier("premium").metric_target("critical", "resolution") == day
    assert loaded.rules().metric_roles == {"resolution_due", "resolution_status"}


def test_due_and_terms_know_every_metric(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config(tmp_path)  # writes c.yaml
    path = str(tmp_path / "c.yaml")
    assert run(["--config", path, "due", "--tier", "advanced", "--class", "critical",
                "--at", "2026-11-23T09:00:00+01:00", "--metric", "resolution", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["metric"], answer["due"], answer["target"]) == (
        "resolution", "2026-11-24T16:00:00+01:00", "2d")
    assert "response_due" not in answer
    assert run(["--config", path, "due", "--tier", "advanced", "--class", "critical",
                "--at", "2026-11-23T09:00:00+01:00", "--json"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["due"] == response["response_due"] == "2026-11-23T13:00:00+01:00"
    assert run(["--config", path, "due", "--tier", "advanced", "--class", "critical",
                "--at", "2026-11-23T09:00:00+01:00", "--metric", "fix"]) == 2
    assert "unknown metric 'fix'" in capsys.readouterr().err
    assert run(["--config", path, "terms"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["tier", "class", "response", "resolution"]
    advanced_critical = next(line for line in table if line.startswith("advanced   critical"))
    assert "2d (14h)" in advanced_critical
    assert run(["--config", path, "terms", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    cell = next(r for r in rows if (r["tier"], r["class"]) == ("advanced", "critical"))
    assert cell["metrics"] == {"resolution": {"target": "2d", "target_service_hours": 14.0}}


def test_metric_events_are_noted_in_german_too(tmp_path: Path) -> None:
    rules = config(tmp_path, "notes: {language: de}\n").rules()
    journal = Journal("New", (StatusChange(vienna(2026, 11, 23, 10), "New", "Resolved"),))
    decision = decide(ticket(status="Resolved"), journal, None, rules, vienna(2026, 11, 23, 11))
    assert decision.update is not None
    assert "*SLA Lösung eingehalten:* 2026-11-23 10:00 CET, fällig bis 2026-11-24 16:00 CET." \
        in (decision.update.note or "")
