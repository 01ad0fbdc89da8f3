"""A resolution metric configured only in YAML: targets beside the response, notes once
per event, escalation by metric, fields per metric; the shipped terms stay response-only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slabridge.config.loader import Config, load_config
from slabridge.domain.model import IssueRecord, Journal, SlaStatus, StatusChange
from slabridge.domain.plan import decide
from slabridge.errors import ConfigError
from tests.conftest import vienna
from tests.unit.test_escalation import ticket

EXAMPLE = Path(__file__).parents[2] / "config" / "slabridge.example.yaml"
RESOLUTION = """
sla:
  metrics:
    resolution:
      label: {en: resolution, de: Lösung}
      stop_statuses: [Resolved, Closed]
tiers:
  advanced:
    classes:
      critical: {resolution: 2d}
"""


def config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "c.yaml"
    path.write_text(f"include: [{EXAMPLE}]\n{RESOLUTION}{extra}", encoding="utf-8")
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
