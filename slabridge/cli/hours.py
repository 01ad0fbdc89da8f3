"""`slabridge hours`: monthly statements as table, JSON, CSV or HTML, and posting them."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from slabridge.app.hours import (
    CustomerMonth,
    check_month,
    statement_dict,
    statements_json,
    unattributed_dict,
)
from slabridge.bootstrap import build_hours_service
from slabridge.config.loader import find_config_path, load_config
from slabridge.domain.hours import Unattributed
from slabridge.errors import UsageError
from slabridge.render.statement_html import render_statement_html

COLUMNS = ("customer", "tier", "month", "included", "used", "credit_in", "credit_out",
           "lapsed", "billable_hours", "surcharge_hours", "fee", "extra_amount",
           "surcharge_amount", "posted")


def compliance_columns(results: list[CustomerMonth]) -> list[str]:
    """CSV columns of SLA compliance: `<metric>:<class>:received|in_time|breached`."""
    keys = dict.fromkeys(
        f"{metric}:{incident_class}"
        for r in results
        for metric, by_class in (("response", r.compliance), *r.metric_compliance.items())
        for incident_class in by_class)
    return [f"{key}:{count}" for key in keys for count in ("received", "in_time", "breached")]


def compliance_cells(result: CustomerMonth) -> dict[str, int]:
    """One statement's compliance counts by CSV column (see compliance_columns)."""
    cells = {}
    for metric, by_class in (("response", result.compliance), *result.metric_compliance.items()):
        for incident_class, counts in by_class.items():
            for name, count in zip(("received", "in_time", "breached"), counts, strict=True):
                cells[f"{metric}:{incident_class}:{name}"] = count
    return cells


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `hours` subcommand."""
    hours = sub.add_parser(
        "hours", help="monthly service-hour statements per customer",
        description="Read time entries (Redmine) or worklogs (Jira), attribute them to "
        "customers (by issue, or by project for time without an issue), and show each "
        "customer's month: included hours, credit carried in and out (from the customer's "
        "opening balance, if configured), lapsed credit, billable extra hours, surcharges, "
        "SLA compliance. Time no customer rule claims is listed as unattributed.",
    )
    hours.add_argument("--month", required=True, help="the month, YYYY-MM")
    hours.add_argument("--customer", help="only this customer")
    hours.add_argument("--format", choices=("table", "json", "csv", "html"), default=None,
                       help="output format (default table)")
    hours.add_argument("--json", action="store_true",
                       help="print JSON, as the other commands' --json (same as --format json)")
    hours.add_argument("--output", help="file (or, for html of several customers, a folder)")
    hours.add_argument("--post", action="store_true",
                       help="post each statement to its hours.post_to place (updated, not "
                       "duplicated, when posted again) and freeze the month")
    hours.add_argument("--offline", action="store_true",
                       help="use the time entries already stored; do not read the tracker")
    hours.set_defaults(handler=cmd_hours)


def cmd_hours(args: argparse.Namespace) -> int:
    """Build, print and optionally post the statements."""
    month = check_month(args.month)
    fmt = output_format(args.format, args.json)
    config = load_config(find_config_path(args.config))
    service = build_hours_service(config)
    tracker = service.tracker
    now = datetime.now(UTC)
    if args.post:
        service.check_post_places(month, args.customer)
    if not args.offline:
        tracker.prepare()
        service.refresh(now.date())
    results = service.statements(month, args.customer, now)
    # Hours no customer rule claims belong to no customer's statement: shown with all of them.
    unattributed = [] if args.customer else service.unattributed(month)
    text = render(results, fmt, args.output, config.settings.hours.currency, month,
                  unattributed)
    if text is not None:
        if (args.output and fmt != "html") or (args.output and len(results) == 1):
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            print(text, end="" if text.endswith("\n") else "\n")
    if args.post:
        for where in service.post(results, now):
            print(f"posted: {where}")
    return 0


def output_format(fmt: str | None, json: bool) -> str:
    """The format asked for: --json is --format json; another --format with it is an error."""
    if json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} ask for two formats: give one")
    return "json" if json else fmt or "table"


def render(results: list[CustomerMonth], fmt: str, output: str | None,
           currency: str, month: str | None = None,
           unattributed: list[Unattributed] | None = None) -> str | None:
    """The statements in one format; HTML for several customers goes to files. Hours no
    customer rule claims are a last JSON item, a last CSV row and a table line (HTML, one
    page per customer, has no place for them)."""
    unattributed = unattributed or []
    if fmt == "json":
        return statements_json(results, month, unattributed)
    if fmt == "csv":
        buffer = io.StringIO()
        compliance = compliance_columns(results)
        writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, *compliance],
                                extrasaction="ignore")
        writer.writeheader()
        for result in results:
            writer.writerow({**statement_dict(result), **compliance_cells(result)})
        if unattributed and month is not None:
            writer.writerow({**unattributed_dict(month, unattributed),
                             "customer": "(unattributed)"})
        return buffer.getvalue()
    if fmt == "html":
        if len(results) == 1:
            r = results[0]
            return render_statement_html(r.name, r.history, r.compliance, currency,
                                         r.metric_compliance)
        if not output:
            raise UsageError("HTML for several customers needs --output FOLDER (or --customer)")
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        for r in results:
            (folder / f"{r.customer}-{r.statement.month}.html").write_text(
                render_statement_html(r.name, r.history, r.compliance, currency,
                                      r.metric_compliance),
                encoding="utf-8")
        return None
    lines = [f"{'customer':<12} {'tier':<9} {'incl':>7} {'cred in':>8} {'used':>8} "
             f"{'cred out':>8} {'lapsed':>7} {'billable':>8} {'surch.':>7}"]
    for r in results:
        s = r.statement
        lines.append(f"{r.customer:<12} {s.tier:<9} {s.included:>7} {s.credit_in:>8} "
                     f"{s.used:>8} {s.credit_out:>8} {s.lapsed:>7} {s.billable_hours:>8} "
                     f"{s.surcharge_hours:>7}")
        for a in s.adjustments:
            lines.append(f"  adjustment: {a.hours:+} h on {a.month} (entry {a.entry_id})")
    if unattributed:
        total = sum((u.hours for u in unattributed), Decimal(0))
        projects = sorted({u.project or "?" for u in unattributed})
        lines.append(f"unattributed: {total} h in {len(unattributed)} time "
                     f"entr{'y' if len(unattributed) == 1 else 'ies'} that no customer rule "
                     f"claims (projects: {', '.join(projects)}); add a rule matching the "
                     "project, or book them on an issue")
    return "\n".join(lines)
