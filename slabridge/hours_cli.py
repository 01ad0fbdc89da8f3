"""`slabridge hours`: monthly statements as table, JSON, CSV or HTML, and posting them."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from slabridge.bootstrap import build_store, build_tracker
from slabridge.config import find_config_path, load_config
from slabridge.errors import UsageError
from slabridge.hours_service import (
    CustomerMonth,
    HoursService,
    check_month,
    statement_dict,
    statements_json,
)
from slabridge.statement_html import render_statement_html

COLUMNS = ("customer", "tier", "month", "included", "used", "credit_in", "credit_out",
           "lapsed", "billable_hours", "surcharge_hours", "fee", "extra_amount",
           "surcharge_amount", "posted")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `hours` subcommand."""
    hours = sub.add_parser(
        "hours", help="monthly service-hour statements per customer",
        description="Read time entries (Redmine) or worklogs (Jira), attribute them to "
        "customers, and show each customer's month: included hours, credit carried in and "
        "out, lapsed credit, billable extra hours, surcharges, SLA compliance.",
    )
    hours.add_argument("--month", required=True, help="the month, YYYY-MM")
    hours.add_argument("--customer", help="only this customer")
    hours.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
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
    config = load_config(find_config_path(args.config))
    tracker = build_tracker(config)
    store = build_store(config)
    service = HoursService(tracker, store, config)
    now = datetime.now(UTC)
    if args.post:
        service.check_post_places(month, args.customer)
    if not args.offline:
        tracker.prepare()
        service.refresh(now.date())
    results = service.statements(month, args.customer, now)
    text = render(results, args.format, args.output, config.settings.hours.currency)
    if text is not None:
        if (args.output and args.format != "html") or (args.output and len(results) == 1):
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            print(text, end="" if text.endswith("\n") else "\n")
    if args.post:
        for where in service.post(results, now):
            print(f"posted: {where}")
    return 0


def render(results: list[CustomerMonth], fmt: str, output: str | None,
           currency: str) -> str | None:
    """The statements in one format; HTML for several customers goes to files."""
    if fmt == "json":
        return statements_json(results)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            writer.writerow(statement_dict(result))
        return buffer.getvalue()
    if fmt == "html":
        if len(results) == 1:
            r = results[0]
            return render_statement_html(r.name, r.history, r.compliance, currency)
        if not output:
            raise UsageError("HTML for several customers needs --output FOLDER (or --customer)")
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        for r in results:
            (folder / f"{r.customer}-{r.statement.month}.html").write_text(
                render_statement_html(r.name, r.history, r.compliance, currency),
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
    return "\n".join(lines)
