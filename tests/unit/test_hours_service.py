"""The hours use case on stored time entries: attribution by project, hours no rule claims,
the opening balance, and statements that say the configured cap and surcharge."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from slabridge.adapters.redmine.hours import wiki_title
from slabridge.adapters.state.sqlite import SqliteStateStore
from slabridge.app.hours import HoursService, statement_textile
from slabridge.cli.hours import output_format
from slabridge.config.loader import load_config
from slabridge.config.schema import json_schema
from slabridge.domain.hours import Unattributed
from slabridge.domain.model import TimeEntry, TimeEntryBatch
from slabridge.errors import UsageError
from slabridge.render.statement_html import render_statement_html
from tests.fakes import FakeTracker

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
CONFIG = """\
customers:
  acme:
    name: Acme
    contracts: [{tier: advanced, from: 2026-01-01, included_hours: 10}]
  globex:
    name: Globex
    contracts: [{tier: premium, from: 2026-01-01, included_hours: 20}]
classification:
  customers:
    - {match: {project: acme-shop}, customer: acme}
    - {match: {project: globex, tracker: Bug}, customer: globex}
"""


class OfflineTracker(FakeTracker):
    """The tracker as `hours --offline` sees it: entries come from the store only."""

    def read_time_entries(self, first_day: date, cursor: str | None) -> TimeEntryBatch:
        raise AssertionError("hours --offline reads no time entries from the tracker")

    def post_statement(self, target: str, title: str, text: str,
                       location: str | None) -> str:
        raise AssertionError("hours --offline posts nothing")


def service(tmp_path: Path, extra: str = "", customers: str = "") -> HoursService:
    """The service on an empty store, with CONFIG plus `extra` and more `customers`."""
    path = tmp_path / "slabridge.yaml"
    text = CONFIG.replace("classification:", customers + "classification:") + extra
    path.write_text(text, encoding="utf-8")
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    return HoursService(OfflineTracker(), store, load_config(path))


def store(hours: HoursService, *entries: tuple[str, str | None, str, str]) -> None:
    """Entries as (id, issue, project, 'YYYY-MM-DD hours')."""
    rows = []
    for entry_id, issue, project, when in entries:
        day, spent = when.split()
        started = datetime.fromisoformat(day).replace(tzinfo=UTC)
        rows.append(TimeEntry(entry_id, issue, "7", started, round(float(spent) * 3600), NOW,
                              project=project))
    hours.store.replace_time_entries(hours.tracker.name, rows)


def test_time_without_an_issue_goes_by_the_project_rule(tmp_path: Path) -> None:
    """Acme's project-only rule claims its issue-less time; Globex's rule also tests the
    tracker, which such time lacks, so Globex's and the internal project's are unattributed."""
    hours = service(tmp_path)
    store(hours, ("1", None, "acme-shop", "2026-11-03 2"), ("2", None, "globex", "2026-11-04 1"),
          ("3", None, "internal", "2026-11-05 0.5"), ("4", None, "internal", "2026-10-05 3"))
    (acme, globex) = hours.statements("2026-11", None, NOW)
    assert (acme.customer, acme.statement.used) == ("acme", Decimal("2.00"))
    assert (globex.customer, globex.statement.used) == ("globex", Decimal("0.00"))
    assert hours.unattributed("2026-11") == [
        Unattributed("2", date(2026, 11, 4), Decimal("1.00"), "globex"),
        Unattributed("3", date(2026, 11, 5), Decimal("0.50"), "internal"),
    ]


OPENING = """\
    opening: {month: 2026-11, credit_hours: 12}
"""


def test_opening_balance_starts_the_credit(tmp_path: Path) -> None:
    """Tracking from November with 12 h credit: October's hours count nothing, November
    starts with 12 h of credit, not with the ten months of 10 h since January."""
    hours = service(tmp_path)
    path = tmp_path / "slabridge.yaml"
    path.write_text(CONFIG.replace(
        "    contracts: [{tier: advanced", OPENING + "    contracts: [{tier: advanced", 1),
        encoding="utf-8")
    hours = HoursService(hours.tracker, hours.store, load_config(path))
    store(hours, ("1", None, "acme-shop", "2026-10-03 5"), ("2", None, "acme-shop",
                                                             "2026-11-03 4"))
    (acme, _) = hours.statements("2026-12", None, NOW)
    assert [(s.month, s.credit_in, s.used, s.credit_out) for s in acme.history] == [
        ("2026-11", Decimal(12), Decimal(4), Decimal(18)),
        ("2026-12", Decimal(18), Decimal(0), Decimal(28)),
    ]
    assert [r.customer for r in hours.statements("2026-10", None, NOW)] == ["globex"]


CAP_AND_SURCHARGE = """\
tiers:
  advanced: {billing: {credit_cap_months: 1}}
  standard: {billing: {critical_current_sprint_surcharge: 0.25}}
"""


def test_statements_say_the_configured_cap(tmp_path: Path) -> None:
    """With a cap of one month, 10 h lapse in February and both statements say one month."""
    hours = service(tmp_path, CAP_AND_SURCHARGE)
    (acme, _) = hours.statements("2026-02", None, NOW)
    assert (acme.statement.credit_in, acme.statement.lapsed) == (Decimal(10), Decimal(10))
    assert "|Lapsed (credit above 1 month's hours)|10.00|" in statement_textile(acme)
    html = render_statement_html(acme.name, acme.history, acme.compliance)
    assert ("Unused hours carry over as credit up to 1 month of included hours (10 h); "
            "the hours beyond that lapse.") in html
    assert "3 months" not in html


def test_statements_say_the_configured_surcharge(tmp_path: Path) -> None:
    """Standard configured with +25 %: the statement says 25 %, not the sheet's 20 %."""
    initech = "  initech: {contracts: [{tier: standard, from: 2026-01-01, hourly_rate: 100}]}\n"
    hours = service(tmp_path, CAP_AND_SURCHARGE, initech)
    (found,) = hours.statements("2026-11", "initech", NOW)
    text = statement_textile(found)
    assert "|Hours with 25% surcharge|0.00|" in text and "20%" not in text
    html = render_statement_html(found.name, found.history, found.compliance)
    assert "critical issues fixed in the current sprint, +25 % on the hourly rate" in html


def test_json_flag_is_format_json() -> None:
    """--json is --format json; with another --format it is a usage error."""
    assert output_format(None, True) == "json"
    assert output_format("json", True) == "json"
    assert output_format(None, False) == "table"
    with pytest.raises(UsageError, match="--json and --format csv ask for two formats"):
        output_format("csv", True)


def test_wiki_titles_keep_letters_of_any_script() -> None:
    """Only white space and the characters Redmine forbids in titles are changed."""
    assert wiki_title("SLA statement Bäckerei Müller, Wien. 2026-11") == (
        "SLA_statement_Bäckerei_Müller_Wien_2026-11")
    assert wiki_title("a/b?c;d:e|f  Ωmega") == "Abcdef_Ωmega"


def test_schema_describes_the_opening_balance() -> None:
    """`slabridge schema` offers editors `opening` with a YYYY-MM month and the credit."""
    opening = json_schema()["$defs"]["OpeningSettings"]
    assert set(opening["properties"]) == {"month", "credit_hours"}
    assert opening["properties"]["month"]["pattern"] == r"^\d{4}-(0[1-9]|1[0-2])$"
    customer = json_schema()["$defs"]["CustomerSettings"]["properties"]["opening"]
    assert {"$ref": "#/$defs/OpeningSettings"} in customer["anyOf"]
