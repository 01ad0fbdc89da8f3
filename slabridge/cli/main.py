"""Command line: subcommands, output formats, exit codes (0 ok, 1 failure, 2 bad input, 3 bug)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from slabridge import __version__
from slabridge.app.board import board, unclassified
from slabridge.app.doctor import failures, render_json, render_text
from slabridge.app.explain import explain
from slabridge.app.report import Unclassified
from slabridge.bootstrap import (
    build_store,
    build_syncer,
    build_tracker,
    run_doctor,
    settle_long_lived_objects,
)
from slabridge.cli import hours as hours_cli
from slabridge.config.loader import Config, find_config_path, load_config
from slabridge.config.schema import json_schema
from slabridge.domain.model import SlaStatus
from slabridge.errors import SlabridgeError, UsageError
from slabridge.logs import configure as configure_logs
from slabridge.logs import scrub_text
from slabridge.render.explanation import explanation_dict, explanation_text, metric_dict

EXIT_OK = 0
EXIT_BUG = 3
UNCLASSIFIED_SHOWN = 20  # in the text summary of a cycle; --json and status list all

Handler = Callable[[argparse.Namespace], int]


def _parse_instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not an ISO 8601 time, e.g. 2026-11-20T14:00:00+01:00"
        ) from None
    if instant.tzinfo is None:
        raise UsageError(
            f"--at {text!r} has no offset: add one, e.g. +01:00 or Z, so the time is unambiguous"
        )
    return instant


def format_service_time(value: timedelta | None) -> str:
    """Service time as hours and minutes, e.g. 10h30m."""
    if value is None:
        return "-"
    sign = "-" if value < timedelta(0) else ""
    minutes = int(abs(value) // timedelta(minutes=1))
    hours, rest = divmod(minutes, 60)
    return f"{sign}{hours}h{rest:02d}m" if rest else f"{sign}{hours}h"


def _config(args: argparse.Namespace) -> Config:
    return load_config(find_config_path(args.config))


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configuration and print a summary."""
    config = _config(args)
    summary = config.summary()
    unset = [name for name in summary["environment"] if not os.environ.get(name)]
    if args.json:
        print(json.dumps({"ok": True, **summary, "environment_unset": unset}, indent=2))
        return EXIT_OK
    print("configuration OK")
    print(f"  files:      {', '.join(summary['files'])}")
    print(f"  tiers:      {', '.join(summary['tiers'])}")
    print(f"  classes:    {', '.join(summary['classes'])}")
    print(f"  calendars:  {summary['calendars']}")
    print(f"  closures:   {', '.join(summary['closures']) or 'none'}")
    print(f"  customers:  {summary['customers']}")
    print(f"  rules:      {summary['customer_rules']} customer, {summary['class_rules']} class")
    named = ", ".join(summary["environment"]) or "none named"
    print(f"  environment: {named}" + (f" (not set here: {', '.join(unset)}; sync, run and "
                                      "doctor need them)" if unset else ""))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the configuration file."""
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_terms(args: argparse.Namespace) -> int:
    """Print the tier x class table of response targets and handling."""
    config = _config(args)
    rows = config.terms()
    if args.json:
        print(json.dumps([
            {
                "tier": r.tier,
                "class": r.incident_class,
                "target": r.target,
                "target_service_hours": None if r.target_service_time is None
                else r.target_service_time / timedelta(hours=1),
                "handling": r.handling,
                "handling_text": r.handling_text,
                "metrics": {name: {"target": text, "target_service_hours":
                                   length / timedelta(hours=1)}
                            for name, (text, length) in r.metrics.items()},
            }
            for r in rows
        ], indent=2))
        return EXIT_OK
    metrics = list(config.settings.sla.metrics)
    header = f"{'tier':<10} {'class':<9} {'response':<14} " + "".join(
        f"{name:<14} " for name in metrics) + "handling"
    print(header)
    print("-" * (100 + 15 * len(metrics)))
    for r in rows:
        cells = [_target_text(r.target, r.target_service_time)] + [
            _target_text(*r.metrics[name]) if name in r.metrics else "none"
            for name in metrics]
        print(f"{r.tier:<10} {r.incident_class:<9} "
              + "".join(f"{cell:<14} " for cell in cells) + r.handling_text)
    return EXIT_OK


def _target_text(target: str | None, length: timedelta | None) -> str:
    """A target as written, with its service time where it is in days."""
    if target is None:
        return "none"
    return f"{target} ({format_service_time(length)})" if target.endswith("d") else target


def cmd_due(args: argparse.Namespace) -> int:
    """Print when a response is due."""
    config = _config(args)
    received = _parse_instant(args.at)
    tier_name = args.tier
    if args.customer:
        contract_day = config.contract_day(received)
        contract_tier = config.tier_for(args.customer, contract_day)
        if tier_name and tier_name != contract_tier.name:
            raise UsageError(
                f"customer {args.customer!r} is on tier {contract_tier.name!r} on "
                f"{contract_day}, not {tier_name!r}: drop --tier or fix it"
            )
        tier_name = contract_tier.name
    if not tier_name:
        raise UsageError("give --tier or --customer")
    tier = config.tier(tier_name)
    incident_class = config.check_class(args.incident_class)
    metric = args.metric
    due = config.metric_due(tier_name, incident_class, metric, received)
    terms = tier.classes[incident_class]
    written = terms.response if metric == "response" else terms.metrics.get(metric)
    target = None if written is None else str(written)
    length = tier.metric_target(incident_class, metric)
    received_local = received.astimezone(tier.calendar.zone)
    if args.json:
        answer = {
            "tier": tier_name,
            "class": incident_class,
            "customer": args.customer,
            "metric": metric,
            "received": received_local.isoformat(),
            "due": None if due is None else due.isoformat(),
            "target": target,
            "target_service_hours": None if length is None else length / timedelta(hours=1),
            "handling": terms.handling.value,
            "timezone": tier.calendar.timezone,
        }
        if metric == "response":
            answer["response_due"] = answer["due"]
        print(json.dumps(answer))
        return EXIT_OK
    if due is None:
        print(f"no {metric} target for {incident_class} on {tier_name} "
              f"(handling: {terms.handling.value})")
    else:
        print(f"{due.isoformat()}  ({target} of {tier_name} service time for {incident_class}"
              f"{'' if metric == 'response' else f' to {metric}'}, received "
              f"{received_local.isoformat()})")
    return EXIT_OK


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_sync(args: argparse.Namespace) -> int:
    """Run one sync cycle against the configured tracker."""
    configure_logs(level=args.log_level)
    config = _config(args)
    syncer = build_syncer(config, dry_run=args.dry_run)
    settle_long_lived_objects()
    report = syncer.cycle(_now(), dry_run=args.dry_run, full=args.full)
    if args.json:
        print(scrub_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False)))
        return EXIT_OK
    if args.dry_run:
        for update in report.planned:
            fields = ", ".join(f"{k}={v!r}" for k, v in update.fields.items()) or "no fields"
            print(f"would update #{update.ticket_key}: {fields}")
            if update.sprint is not None:
                print(f"    move into the current sprint {update.sprint.name!r} "
                      f"(version/sprint {update.sprint.id})")
            for notification in update.notifications:
                print(f"    notify {notification.channel}: {notification.subject}")
            if update.note:
                for line in update.note.splitlines():
                    print(f"    | {line}")
    print(
        f"{'dry run: ' if args.dry_run else ''}{report.mode} cycle: {report.seen} issues "
        f"listed, "
        f"{f'{report.unchanged} of them unchanged since decided, ' if report.unchanged else ''}"
        # Decided: the listed issues that changed, and stored ones whose clock came due.
        f"{report.evaluated} decided ({report.classified} classified, "
        f"{report.unclassified} unclassified), "
        f"{len(report.planned) if args.dry_run else report.writes} "
        f"{'planned ' if args.dry_run else ''}writes ({report.notes} notes), "
        f"{report.errors} errors, {report.requests} requests, {report.seconds:.2f}s"
    )
    for problem in report.problems:
        print(f"  problem: {scrub_text(problem)}")
    shown = report.unclassified_issues[:UNCLASSIFIED_SHOWN]
    for item in shown:
        print(f"  unclassified: #{item.key} {item.subject[:50]}: {item.reason}")
    if len(report.unclassified_issues) > len(shown):
        print(f"  ... and {len(report.unclassified_issues) - len(shown)} more unclassified "
              "(`slabridge status --unclassified` lists them all)")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon: poll cycles, the nightly reconciliation, /healthz and /metrics."""
    # Imported here so that the one-shot commands do not pay for APScheduler and prometheus.
    from slabridge.daemon.scheduler import Daemon

    configure_logs(json_output=True if args.json_logs else None, level=args.log_level)
    path = find_config_path(args.config)
    config = load_config(path)
    overrides: dict[str, int | None] = {}
    if args.interval is not None:
        overrides["interval_seconds"] = args.interval
    if args.health_port is not None:
        overrides["health_port"] = None if args.health_port == "off" else int(args.health_port)
    return Daemon(path, config, overrides=overrides).run()


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the board and the customer pages from the state store, running no cycles."""
    from slabridge.web.server import serve  # Jinja2 only for the command that needs it

    config = _config(args)
    web = config.settings.web
    port = web.port if args.port is None else int(args.port)
    return serve(config, args.host or web.host, port)


def _interval(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 5 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole seconds from 5 to 86400")
    return value


def _port(text: str) -> str:
    if text != "off" and not (text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r}: give a port 0-65535 (0: any free) or off")
    return text


def _port_number(text: str) -> int:
    if not (text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r}: give a port 0-65535 (0: any free)")
    return int(text)


def _print_unclassified(issues: list[Unclassified], as_json: bool) -> int:
    if as_json:
        print(json.dumps([u.as_dict() for u in issues], indent=2, ensure_ascii=False))
        return EXIT_OK
    for u in issues:
        print(f"{'#' + u.key:>7}  {u.subject[:50]:<50}  {u.reason}")
    if not issues:
        print("(no open unclassified issues in the last sync)")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the board of open issues from the last sync."""
    config = _config(args)
    tracker = build_tracker(config)
    store = build_store(config)
    if args.customer:
        config.customer(args.customer)
    if args.unclassified:
        return _print_unclassified(unclassified(store, tracker.name, config.rules(), _now()),
                                   args.json)
    rows = board(store, tracker.name, config.rules(), _now(), args.customer)
    if args.json:
        print(json.dumps([
            {"issue": r.key, "subject": r.subject, "customer": r.customer, "tier": r.tier,
             "class": r.incident_class, "response_due": r.due.isoformat() if r.due else None,
             "service_time_left_hours": None if r.left is None else r.left / timedelta(hours=1),
             "status": r.status.value,
             "metrics": {name: metric_dict(m) for name, m in r.metrics.items()}}
            for r in rows
        ], indent=2, ensure_ascii=False))
        return EXIT_OK
    # Columns as wide as their longest value (capped), so long names do not shift the rest.
    key_w = max([len(r.key) + 1 for r in rows] + [5])
    customer_w = min(max([len(r.customer) for r in rows] + [8]), 20)
    tier_w = max([len(r.tier) for r in rows] + [4])
    class_w = max([len(r.incident_class) for r in rows] + [5])
    print(f"{'issue':>{key_w}}  {'status':<10} {'due':<22} {'left':>8}  "
          f"{'customer':<{customer_w}} {'tier':<{tier_w}} {'class':<{class_w}} subject")
    for r in rows:
        due = r.due.strftime("%Y-%m-%d %H:%M %Z") if r.due else "-"
        # A met issue has nothing left to count down; a breached one shows how far over.
        left = ("-" if r.left is None or r.status is SlaStatus.MET
                else format_service_time(r.left))
        print(f"{'#' + r.key:>{key_w}}  {r.status.value:<10} {due:<22} {left:>8}  "
              f"{r.customer[:customer_w]:<{customer_w}} {r.tier:<{tier_w}} "
              f"{r.incident_class:<{class_w}} {r.subject[:50]}")
    if not rows:
        print("(no open classified issues; run `slabridge sync --once` first)")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain why an issue has its due time."""
    config = _config(args)
    tracker = build_tracker(config)
    store = build_store(config)
    key = args.issue.lstrip("#")
    if not key or not all(ch.isalnum() or ch in "-_" for ch in key):
        raise UsageError(f"{args.issue!r} is not an issue number or key (e.g. 42 or ACME-7)")
    explanation = explain(tracker, store, config.rules(), key, _now())
    data = explanation_dict(explanation)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(explanation_text(data))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check, reading only, that the tracker gives slabridge everything it needs."""
    checks = run_doctor(_config(args))
    print(scrub_text(render_json(checks) if args.json else render_text(checks)))
    return 1 if failures(checks) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="slabridge",
        description=(
            "Contract-aware SLA bridge for Redmine and Jira: response due times in each "
            "tier's service hours, written back to the tracker."
        ),
        epilog=(
            "Config: --config PATH, else $SLABRIDGE_CONFIG, else ./slabridge.yaml, else the "
            "shipped contract terms. Exit codes: 0 ok, 1 failure, 2 bad input or config, 3 bug."
        ),
    )
    parser.add_argument("--version", action="version", version=f"slabridge {__version__}")
    parser.add_argument("--config", metavar="PATH", help="configuration file (YAML)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate the configuration and print a summary")
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(handler=cmd_check)

    schema = sub.add_parser("schema", help="print the JSON Schema of the configuration file")
    schema.set_defaults(handler=cmd_schema)

    terms = sub.add_parser("terms", help="print the tier x class table of targets (a column "
                                         "per metric) and handling")
    terms.add_argument("--json", action="store_true", help="print JSON")
    terms.set_defaults(handler=cmd_terms)

    due = sub.add_parser("due", help="print when a response (or another metric) is due")
    due.add_argument("--tier", help="service tier, e.g. standard, advanced, premium")
    due.add_argument("--class", dest="incident_class", required=True,
                     help="incident class, e.g. critical, minor, trivial")
    due.add_argument("--at", required=True,
                     help="receipt time, ISO 8601 with offset, e.g. 2026-11-20T14:00:00+01:00")
    due.add_argument("--customer", help="customer key: use the tier of its contract at --at")
    due.add_argument("--metric", default="response",
                     help="the clock: response (default) or a metric of sla.metrics, e.g. "
                          "resolution")
    due.add_argument("--json", action="store_true", help="print one JSON object")
    due.set_defaults(handler=cmd_due)

    sync = sub.add_parser(
        "sync", help="one sync cycle: classify, compute due times, write fields and notes",
        description="Poll the configured tracker once: issues changed since the last cycle "
        "(all issues on the first run), then write due times, SLA fields and notes.",
    )
    sync.add_argument("--once", action="store_true",
                      help="run one cycle and exit (the default; the daemon is `run`)")
    sync.add_argument("--dry-run", action="store_true",
                      help="print the planned writes and perform none (nothing is stored)")
    sync.add_argument("--full", action="store_true",
                      help="full reconciliation: walk all open issues, not only changed ones")
    sync.add_argument("--json", action="store_true", help="print the summary as JSON")
    sync.add_argument("--log-level", default="ERROR", type=str.upper,
                      choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                      help="log lines on stderr from this level (default ERROR: the "
                           "summary already names every problem once; WARNING adds the "
                           "log line of each)")
    sync.set_defaults(handler=cmd_sync)

    run_cmd = sub.add_parser(
        "run", help="the daemon: sync every interval, reconcile nightly, serve /healthz",
        description="Run unattended: a sync cycle every daemon.interval_seconds (the first at "
        "once), a full reconciliation daily at daemon.reconcile_at (local time of the default "
        "tier's calendar), /healthz and /metrics (Prometheus) on daemon.health_host:"
        "health_port. SIGHUP reloads the configuration file (on an error the running one "
        "stays); SIGTERM or SIGINT finish the current write and exit 0. Logs go to stderr.",
    )
    run_cmd.add_argument("--interval", type=_interval, metavar="SECONDS",
                         help="seconds between cycles, 5 to 86400 (default: "
                         "daemon.interval_seconds, 60)")
    run_cmd.add_argument("--health-port", type=_port, metavar="PORT",
                         help="port for /healthz and /metrics; 0 picks a free one (logged as "
                         "health_listening); off disables (default: daemon.health_port, 9464)")
    run_cmd.add_argument("--log-level", default="INFO", type=str.upper,
                         choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                         help="log level (default INFO)")
    run_cmd.add_argument("--json-logs", action="store_true",
                         help="JSON log lines even on a terminal (the default elsewhere)")
    run_cmd.set_defaults(handler=cmd_run)

    status = sub.add_parser("status", help="board of open issues, most urgent first")
    status.add_argument("--customer", help="only this customer's issues")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--unclassified", action="store_true",
                        help="instead: the open issues no rule classifies, with the reason")
    status.set_defaults(handler=cmd_status)

    web = sub.add_parser(
        "web", help="serve the board and customer pages from the state store (no cycles)",
        description="Serve the pages that `slabridge run` serves on its health listener: "
        "the board (/), customers (/customers/ID), statements and unclassified issues, "
        "read from the state store; no cycles run. Without web.users only on a loopback "
        "address.",
    )
    web.add_argument("--port", type=_port_number, metavar="PORT",
                     help="port, 0 for any free one (default: web.port, 8464)")
    web.add_argument("--host", help="address to bind (default: web.host, 127.0.0.1)")
    web.set_defaults(handler=cmd_web)

    explain_cmd = sub.add_parser("explain", help="why an issue has its due time")
    explain_cmd.add_argument("issue", help="issue number or key, e.g. 42, #42 or ACME-7")
    explain_cmd.add_argument("--json", action="store_true", help="print JSON")
    explain_cmd.set_defaults(handler=cmd_explain)

    doctor = sub.add_parser(
        "doctor", help="check the tracker gives slabridge all it needs (writes nothing)",
        description="With the configured key, check everything slabridge needs of the "
        "tracker and print one line per check, with what to do for each failure: "
        "connection and key; each project visible; the fields slabridge writes (format, "
        "enabled, visible); the permissions it uses in each project (notes, edits, spent "
        "time, target version or sprint); the statement wiki or issue; Jira's board. Only "
        "GET requests are sent. Exit 0 when all hold, 1 when something is missing, 2 for a "
        "configuration error.",
    )
    doctor.add_argument("--json", action="store_true",
                        help="print a JSON list of {check, status, ok, detail, fix}")
    doctor.set_defaults(handler=cmd_doctor)

    hours_cli.add_parser(sub)
    for command in sub.choices.values():
        # Also after the command (`slabridge check --config x.yaml`), as people type it;
        # SUPPRESS keeps one given before the command when none is given after it.
        command.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                             help="configuration file (YAML), as before the command")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the command, map errors to exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    # Log lines go to stderr, warnings and worse, for every command (sync and run set their
    # own level): stdout holds only what the command prints (--json output included).
    configure_logs(level="WARNING")
    try:
        return handler(args)
    except SlabridgeError as error:
        for line in scrub_text(str(error)).splitlines() or [type(error).__name__]:
            print(f"slabridge: error: {line}", file=sys.stderr)
        if error.hint:
            print(f"slabridge: hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("slabridge: interrupted", file=sys.stderr)
        return 130
    except Exception:
        print("slabridge: internal error (a bug; please report it with this trace):",
              file=sys.stderr)
        traceback.print_exc()
        return EXIT_BUG


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


