"""Hours against the real Redmine: time entries over several months, statements posted to
the wiki, an edit after posting shown as an adjustment, re-posting updates the same page."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import Workspace
from tests.integration.redmine_helpers import RedmineAdmin

pytestmark = pytest.mark.redmine

EXTRA = """\
hours:
  post_to:
    acme: "project:{acme}"
"""


def cli(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slabridge", "--config", str(workspace.config_path), *args],
        capture_output=True, text=True, env=workspace.env, timeout=600, check=False,
    )


def months_ago(count: int) -> str:
    today = datetime.now(UTC).date().replace(day=1)
    index = today.year * 12 + today.month - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def test_statements_posting_and_adjustments(workspace: Workspace, admin: RedmineAdmin) -> None:
    """Acme (Advanced, 10 h included): 4 h, then 17 h; posting; a late edit is adjusted."""
    first, second, current = months_ago(2), months_ago(1), months_ago(0)
    text = workspace.config_path.read_text(encoding="utf-8").replace(
        "contracts: [{tier: advanced, from: 2020-01-01}]",
        f"contracts: [{{tier: advanced, from: {first}-01, included_hours: 10, "
        "extra_hourly_rate: 95, monthly_fee: 950}]",
    )
    workspace.config_path.write_text(text + EXTRA.format(**workspace.projects),
                                     encoding="utf-8")
    project = workspace.projects["acme"]
    admin.redmine.project.update(admin.redmine.project.get(project).id,
                                 enabled_module_names=["issue_tracking", "time_tracking",
                                                       "wiki"])
    issue = admin.make_issue(project, "Maintenance", priority="Normal")
    entries = {}
    for month, hours in ((first, 4), (second, 17)):
        entry = admin.redmine.time_entry.create(issue_id=issue, hours=hours,
                                                spent_on=f"{month}-10")
        entries[month] = entry.id
    assert cli(workspace, "sync", "--once").returncode == 0

    report = json.loads(cli(workspace, "hours", "--month", second, "--format", "json").stdout)
    (acme,) = [r for r in report if r["customer"] == "acme"]
    assert {k: acme[k] for k in ("included", "used", "credit_in", "credit_out", "lapsed",
                                 "billable_hours", "extra_amount")} == {
        "included": "10.00", "used": "17.00", "credit_in": "6.00", "credit_out": "0.00",
        "lapsed": "0.00", "billable_hours": "1.00", "extra_amount": "95.00",
    }

    posted = cli(workspace, "hours", "--month", second, "--customer", "acme", "--post")
    assert posted.returncode == 0, posted.stderr
    assert f"posted: wiki:{project}/SLA_statement_Acme_Webshop_GmbH_{second}" in posted.stdout
    page = admin.redmine.wiki_page.get(f"SLA_statement_Acme_Webshop_GmbH_{second}",
                                       project_id=project)
    assert "|Billable extra hours|1.00|" in page.text
    version = page.version

    # Someone books 2 more hours into the posted month: the statement stays as posted...
    admin.redmine.time_entry.create(issue_id=issue, hours=2, spent_on=f"{second}-20")
    again = json.loads(cli(workspace, "hours", "--month", second, "--customer", "acme",
                           "--format", "json").stdout)[0]
    assert again["used"] == "17.00" and again["posted"] is True
    # ...and the 2 hours appear as an adjustment in the next statement.
    following = json.loads(cli(workspace, "hours", "--month", current, "--customer", "acme",
                               "--format", "json").stdout)[0]
    assert [(a["month"], a["hours"]) for a in following["adjustments"]] == [(second, "2.00")]
    assert following["used"] == "2.00"

    # Posting the same month again updates the same page, not a second one; the posted
    # statement is frozen, so its text is unchanged and Redmine keeps the version.
    assert cli(workspace, "hours", "--month", second, "--customer", "acme",
               "--post").returncode == 0
    pages = [p.title for p in admin.redmine.wiki_page.filter(project_id=project)]
    assert pages.count(f"SLA_statement_Acme_Webshop_GmbH_{second}") == 1
    assert admin.redmine.wiki_page.get(f"SLA_statement_Acme_Webshop_GmbH_{second}",
                                       project_id=project).version == version


def test_hours_html_and_csv(workspace: Workspace, admin: RedmineAdmin) -> None:
    """HTML holds the chart and the compliance table; CSV has one row per customer."""
    issue = admin.make_issue(workspace.projects["acme"], "Broken", priority="Urgent")
    admin.redmine.time_entry.create(issue_id=issue, hours=3,
                                    spent_on=(datetime.now(UTC).date() - timedelta(days=0))
                                    .isoformat())
    assert cli(workspace, "sync", "--once").returncode == 0
    month = months_ago(0)
    html = cli(workspace, "hours", "--month", month, "--customer", "acme", "--format", "html")
    assert html.returncode == 0, html.stderr
    assert "<svg" in html.stdout and "critical" in html.stdout
    rows = cli(workspace, "hours", "--month", month, "--format", "csv").stdout.splitlines()
    assert rows[0].startswith("customer,tier,month,included,used")
    assert any(row.startswith(f"acme,advanced,{month},") for row in rows[1:])


def test_bad_month_is_exit_2(workspace: Workspace) -> None:
    """--month must be YYYY-MM."""
    result = cli(workspace, "hours", "--month", "November")
    assert result.returncode == 2
    assert "is not a month: write YYYY-MM" in result.stderr


def test_post_with_a_customer_lacking_a_place_posts_nothing(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """All places are checked first: Acme's statement is not posted and frozen when
    Globex, later in the run, has no place (the run used to stop half-way)."""
    workspace.config_path.write_text(
        workspace.config_path.read_text(encoding="utf-8") + EXTRA.format(**workspace.projects),
        encoding="utf-8")
    project = workspace.projects["acme"]
    admin.redmine.project.update(admin.redmine.project.get(project).id,
                                 enabled_module_names=["issue_tracking", "time_tracking",
                                                       "wiki"])
    assert cli(workspace, "sync", "--once").returncode == 0
    month = months_ago(1)
    result = cli(workspace, "hours", "--month", month, "--post")
    assert result.returncode == 2
    assert result.stdout == ""  # checked before anything was read or printed
    assert not any(page.title.startswith("SLA_statement")
                   for page in admin.redmine.wiki_page.filter(project_id=project))
    report = json.loads(cli(workspace, "hours", "--month", month, "--format", "json").stdout)
    assert not any(r["posted"] for r in report)
    assert result.stderr.strip().endswith(
        "hours.post_to has no place for customer 'globex': nothing was posted")


def test_statement_title_keeps_umlauts_and_reposting_updates_it(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """A customer named Bäckerei Müller, Wien gets the wiki page
    SLA_statement_Bäckerei_Müller_Wien_<month>, and posting again updates that page."""
    text = workspace.config_path.read_text(encoding="utf-8").replace(
        "name: Acme Webshop GmbH", "name: 'Bäckerei Müller, Wien'")
    workspace.config_path.write_text(text + EXTRA.format(**workspace.projects),
                                     encoding="utf-8")
    project = workspace.projects["acme"]
    admin.redmine.project.update(admin.redmine.project.get(project).id,
                                 enabled_module_names=["issue_tracking", "time_tracking",
                                                       "wiki"])
    month = months_ago(0)
    title = f"SLA_statement_Bäckerei_Müller_Wien_{month}"
    first = cli(workspace, "hours", "--month", month, "--customer", "acme", "--post")
    assert first.returncode == 0, first.stderr
    assert f"posted: wiki:{project}/{title}" in first.stdout
    page = admin.redmine.wiki_page.get(title, project_id=project)
    assert page.title == title
    assert "[slabridge statement:acme:" in page.text

    again = cli(workspace, "hours", "--month", month, "--customer", "acme", "--post")
    assert again.returncode == 0, again.stderr
    assert f"posted: wiki:{project}/{title}" in again.stdout
    titles = [p.title for p in admin.redmine.wiki_page.filter(project_id=project)]
    assert [t for t in titles if t.startswith("SLA_statement")] == [title]


def test_time_without_an_issue_goes_by_project_or_is_reported(
    workspace: Workspace, admin: RedmineAdmin
) -> None:
    """Time booked on Acme's project without an issue counts for Acme; time on the internal
    project, which no customer rule claims, is reported as unattributed (JSON and table)."""
    acme, internal = workspace.projects["acme"], workspace.projects["internal"]
    month = months_ago(0)
    day = f"{month}-01"
    on_acme = admin.redmine.time_entry.create(project_id=admin.redmine.project.get(acme).id,
                                              hours=2, spent_on=day)
    on_internal = admin.redmine.time_entry.create(
        project_id=admin.redmine.project.get(internal).id, hours=1.5, spent_on=day)

    result = cli(workspace, "hours", "--month", month, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (statement,) = [r for r in report if r["customer"] == "acme"]
    assert statement["used"] == "2.00"
    assert report[-1] == {
        "customer": None, "unattributed": True, "month": month, "used": "1.50",
        "entries": [{"entry": str(on_internal.id), "day": day, "hours": "1.50",
                     "project": internal, "issue": None}],
    }
    assert str(on_acme.id) not in json.dumps(report[-1])

    table = cli(workspace, "hours", "--month", month, "--offline")
    assert table.stdout.splitlines()[-1] == (
        f"unattributed: 1.50 h in 1 time entry that no customer rule claims (projects: "
        f"{internal}); add a rule matching the project, or book them on an issue")
