"""The hours use case: read time entries, attribute them, build statements, post them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from slabridge.app.rules import judging_rules
from slabridge.config.loader import Config
from slabridge.domain.classify import Match, Rule, classify, first_match
from slabridge.domain.hours import (
    HOUR_SECONDS,
    ZERO,
    Adjustment,
    Booking,
    MonthTerms,
    Statement,
    Unattributed,
    build_ledger,
    month_of,
    month_start,
    months_between,
    next_month,
    percent,
    shift_month,
)
from slabridge.domain.metrics import RESPONSE
from slabridge.domain.model import Handling, SlaStatus, TicketFacts
from slabridge.domain.plan import assess
from slabridge.errors import UsageError
from slabridge.ports import HoursStore, Tracker

HISTORY = 12


@dataclass(frozen=True)
class CustomerMonth:
    """One customer's statement with the months before it and its SLA compliance."""

    customer: str
    name: str
    statement: Statement
    history: tuple[Statement, ...]
    compliance: dict[str, tuple[int, int, int]]
    posted: bool
    metric_compliance: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    """The same counts for each metric of sla.metrics (resolved in time, breached)."""


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / HOUR_SECONDS).quantize(Decimal("0.01"))


def first_of(month: str) -> date:
    """The first day of a YYYY-MM month."""
    year, number = (int(p) for p in month.split("-"))
    return date(year, number, 1)


def check_month(text: str) -> str:
    """A valid YYYY-MM, or a UsageError."""
    try:
        first_of(text)
    except ValueError:
        raise UsageError(f"--month {text!r} is not a month: write YYYY-MM, e.g. 2026-11") \
            from None
    return text


class HoursService:
    """Statements for one tracker's customers from the state store's time entries."""

    def __init__(self, tracker: Tracker, store: HoursStore, config: Config) -> None:
        self.tracker = tracker
        self.store = store
        self.config = config
        self.rules = config.rules()

    def refresh(self, today: date) -> int:
        """Read time entries from the tracker into the store; returns how many were read."""
        history = self.config.settings.hours.history_months
        first_day = month_start(today, -history)
        name = self.tracker.name
        batch = self.tracker.read_time_entries(first_day, self.store.mark(name, "worklogs"))
        self.store.replace_time_entries(name, batch.entries, batch.complete_from)
        if batch.cursor is not None:
            self.store.set_mark(name, "worklogs", batch.cursor)
        return len(batch.entries)

    def bookings(self) -> tuple[list[Booking], list[Unattributed]]:
        """Stored entries attributed to customers, and those no rule could attribute.

        An entry on an issue slabridge knows goes to the issue's customer; one without an
        issue (or on an issue not in the store) goes by its project alone, through the
        customer rules that test nothing but the project.
        """
        name = self.tracker.name
        records = {r.ticket.key: r for r in self.store.all_records(name)}
        attribution: dict[str, tuple[str | None, str | None, bool]] = {}
        by_project: dict[str, str | None] = {}
        bookings: list[Booking] = []
        unattributed: list[Unattributed] = []
        for entry_id, ticket_key, project, day, seconds in self.store.time_entries(name):
            customer, incident_class, in_sprint = None, None, False
            record = records.get(ticket_key) if ticket_key else None
            if ticket_key is not None and record is not None:
                if ticket_key not in attribution:
                    result = classify(record.ticket.facts, self.rules.customer_rules,
                                      self.rules.class_rules)
                    attribution[ticket_key] = (
                        result.customer, result.incident_class, record.ticket.sprint is not None
                    )
                customer, incident_class, in_sprint = attribution[ticket_key]
            elif project is not None:
                if project not in by_project:
                    found = first_match(self._project_rules, TicketFacts(project=project))
                    by_project[project] = found.value if found else None
                customer = by_project[project]
            if customer is None:
                unattributed.append(Unattributed(entry_id, day, _hours(seconds), project,
                                                 ticket_key))
                continue
            bookings.append(Booking(entry_id, customer, day, _hours(seconds), incident_class,
                                    in_sprint, ticket_key))
        return bookings, unattributed

    @property
    def _project_rules(self) -> list[Rule]:
        """The customer rules that test the project and nothing else."""
        return [rule for rule in self.rules.customer_rules
                if rule.match.project and rule.match == Match(project=rule.match.project)]

    def unattributed(self, month: str) -> list[Unattributed]:
        """The month's time entries that no customer rule claims."""
        return [u for u in self.bookings()[1] if month_of(u.day) == month]

    def _terms(self, customer: str, month: str) -> MonthTerms | None:
        contract = self.config.customer(customer).contract_at(first_of(month))
        if contract is None:
            return None
        tier = self.config.tier(contract.tier)
        billing = tier.billing
        return MonthTerms(
            tier=tier.name, model=billing.model,
            included=contract.included_hours if billing.included_hours else ZERO,
            credit_cap_months=billing.credit_cap_months,
            surcharge=billing.critical_current_sprint_surcharge,
            hourly_rate=contract.hourly_rate, extra_hourly_rate=contract.extra_hourly_rate,
            monthly_fee=contract.monthly_fee,
            surcharged_classes=frozenset(
                name for name, terms in tier.classes.items()
                if terms.handling is Handling.CURRENT_SPRINT),
        )

    def statements(self, month: str, customer: str | None, now: datetime) -> list[CustomerMonth]:
        """Each customer's statement for `month` (frozen ones as posted, plus adjustments)."""
        keys = [customer] if customer else list(self.config.customers)
        for key in keys:
            self.config.customer(key)
        bookings, _ = self.bookings()
        results = []
        for key in keys:
            found = self.config.customer(key)
            starts = [c.start for c in found.contracts]
            first = max(month_of(min(starts)), self._window_start(month))
            opening = found.opening_month
            if opening is not None:
                # Months before the opening count nothing; its credit starts the ledger
                # (unless the ledger's window starts later: then the credit is history).
                first = max(first, opening)
            months = [m for m in months_between(first, month) if self._terms(key, m)]
            if month not in months:
                continue
            terms = {m: t for m in months if (t := self._terms(key, m)) is not None}
            mine = [b for b in bookings if b.customer == key]
            frozen = self.store.posted_statements(self.tracker.name, key)
            effective, adjustments = _apply_frozen(key, mine, frozen, months)
            credit = ZERO
            if opening is not None and opening >= self._window_start(month):
                credit = found.opening_credit
            ledger = build_ledger(key, months, terms, effective, adjustments, credit)
            statement = ledger.statements[-1]
            compliance = self._compliance(key, month, now)
            results.append(CustomerMonth(
                key, self.config.customer(key).name, statement,
                ledger.statements[-HISTORY:], compliance.pop(RESPONSE, {}),
                month in frozen, compliance,
            ))
        return results

    def _window_start(self, month: str) -> str:
        history = self.config.settings.hours.history_months
        day = first_of(month)
        return month_of(month_start(day, -history))

    def _compliance(
        self, customer: str, month: str, now: datetime
    ) -> dict[str, dict[str, tuple[int, int, int]]]:
        """Per metric (the response and sla.metrics) and class: issues received in the
        month, met in time, breached."""
        counts: dict[str, dict[str, list[int]]] = {
            name: {} for name in (RESPONSE, *self.config.settings.sla.metrics)}
        rules = judging_rules(self.rules, self.store, self.tracker.name)
        for record in self.store.all_records(self.tracker.name):
            ticket = record.ticket
            if month_of(self.config.contract_day(ticket.received)) != month:
                continue
            decision = assess(ticket, record.journal, record, rules, now)
            evaluation = decision.evaluation
            if evaluation is None or decision.classification.customer != customer:
                continue
            statuses = {RESPONSE: evaluation.status,
                        **{name: m.status for name, m in decision.metrics.items()}}
            for name, status in statuses.items():
                if status is SlaStatus.NO_TARGET and name != RESPONSE:
                    continue  # no target agreed for this class: nothing to count
                row = counts[name].setdefault(evaluation.incident_class, [0, 0, 0])
                row[0] += 1
                row[1] += status is SlaStatus.MET
                row[2] += status is SlaStatus.BREACHED
        return {name: {k: (v[0], v[1], v[2]) for k, v in sorted(by_class.items())}
                for name, by_class in counts.items()}

    def check_post_places(self, month: str, customer: str | None) -> None:
        """Stop (UsageError) if a customer with a statement for `month` has no place in
        hours.post_to: checked before anything is read or posted, so that a run does not
        stop half-way with some months posted and frozen, the rest not."""
        keys = [customer] if customer else list(self.config.customers)
        for key in keys:
            self.config.customer(key)  # an unknown one: a UsageError naming the known ones
        self._missing_places([key for key in keys if self._terms(key, month) is not None
                              and month >= (self.config.customer(key).opening_month or month)])

    def _missing_places(self, customers: list[str]) -> None:
        missing = [key for key in customers if key not in self.config.settings.hours.post_to]
        if missing:
            raise UsageError("hours.post_to has no place for customer"
                             f"{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing))}: nothing was posted")

    def post(self, results: list[CustomerMonth], now: datetime) -> list[str]:
        """Post each statement to its configured place, once; re-posting updates it."""
        targets = self.config.settings.hours.post_to
        self._missing_places([r.customer for r in results])
        posted = []
        for result in results:
            target = targets[result.customer]
            title = f"SLA statement {result.name} {result.statement.month}"
            location = self.store.statement_location(
                self.tracker.name, result.customer, result.statement.month)
            text = statement_textile(result)
            where = self.tracker.post_statement(target, title, text, location)
            entries = self._frozen_entries(result.customer, result.statement.month)
            self.store.freeze_statement(self.tracker.name, result.customer,
                                        result.statement.month, entries, where, now)
            posted.append(where)
        return posted

    def _frozen_entries(self, customer: str, month: str) -> dict[str, str]:
        bookings, _ = self.bookings()
        return {b.entry_id: str(b.hours) for b in bookings
                if b.customer == customer and month_of(b.day) == month}


def _apply_frozen(
    customer: str, bookings: list[Booking], frozen: dict[str, dict[str, str]],
    months: list[str],
) -> tuple[list[Booking], dict[str, tuple[Adjustment, ...]]]:
    """Posted months keep their posted hours; later changes go to the next open month."""
    open_months = [m for m in months if m not in frozen]
    effective: list[Booking] = []
    changes: dict[str, list[Adjustment]] = {}
    seen: dict[str, set[str]] = {m: set() for m in frozen}
    for booking in bookings:
        month = month_of(booking.day)
        if month not in frozen:
            effective.append(booking)
            continue
        seen[month].add(booking.entry_id)
        was = frozen[month].get(booking.entry_id)
        if was is not None:
            effective.append(replace(booking, hours=Decimal(was)))
        delta = booking.hours - (Decimal(was) if was is not None else ZERO)
        if delta:
            changes.setdefault(month, []).append(Adjustment(booking.entry_id, month, delta))
    for month, entries in frozen.items():
        for entry_id, hours in entries.items():
            if entry_id not in seen.get(month, set()):
                changes.setdefault(month, []).append(
                    Adjustment(entry_id, month, -Decimal(hours)))
                # The frozen statement still shows the hours as posted.
                effective.append(Booking(entry_id, customer, first_of(month), Decimal(hours)))
    adjustments: dict[str, list[Adjustment]] = {}
    for month, found in changes.items():
        target = next((m for m in open_months if m > month), None)
        if target is None:
            target = next_month(month)
        adjustments.setdefault(target, []).extend(found)
    return effective, {m: tuple(a) for m, a in adjustments.items()}


def _money(value: Decimal | None) -> Any:
    return None if value is None else f"{value:.2f}"


def _h(value: Decimal) -> str:
    return f"{value:.2f}"


def statement_dict(result: CustomerMonth) -> dict[str, Any]:
    """The JSON shape of one statement."""
    s = result.statement
    return {
        "customer": result.customer, "name": result.name, "tier": s.tier, "month": s.month,
        "included": _h(s.included), "used": _h(s.used), "credit_in": _h(s.credit_in),
        "credit_out": _h(s.credit_out), "lapsed": _h(s.lapsed),
        "billable_hours": _h(s.billable_hours), "surcharge_hours": _h(s.surcharge_hours),
        "adjustments": [{"entry": a.entry_id, "month": a.month, "hours": _h(a.hours)}
                        for a in s.adjustments],
        "fee": _money(s.fee), "extra_amount": _money(s.extra_amount),
        "surcharge_amount": _money(s.surcharge_amount), "posted": result.posted,
        "sla": {k: {"received": v[0], "in_time": v[1], "breached": v[2]}
                for k, v in result.compliance.items()},
        "sla_metrics": {
            metric: {k: {"received": v[0], "in_time": v[1], "breached": v[2]}
                     for k, v in by_class.items()}
            for metric, by_class in result.metric_compliance.items()},
    }


def statement_textile(result: CustomerMonth) -> str:
    """The statement as a Textile / Jira wiki table, for posting to the tracker."""
    s = result.statement
    cap = "1 month's" if s.credit_cap_months == 1 else f"{s.credit_cap_months} months'"
    rows: list[tuple[str, Decimal]] = [
        ("Included hours", s.included), ("Credit from earlier months", s.credit_in),
        ("Hours used", s.used), ("Credit carried to next month", s.credit_out),
        (f"Lapsed (credit above {cap} hours)", s.lapsed),
        ("Billable extra hours", s.billable_hours),
        (f"Hours with {percent(s.surcharge).replace(' ', '')} surcharge" if s.surcharge
         else "Hours with surcharge", s.surcharge_hours),
    ]
    lines = [f"|Tier|{s.tier}|"] + [f"|{label}|{_h(value)}|" for label, value in rows]
    for adjustment in s.adjustments:
        lines.append(f"|Adjustment {adjustment.month} (entry {adjustment.entry_id})|"
                     f"{_h(adjustment.hours)}|")
    for incident_class, (received, in_time, breached) in result.compliance.items():
        lines.append(f"|SLA {incident_class}: received / in time / breached|"
                     f"{received} / {in_time} / {breached}|")
    for metric, by_class in result.metric_compliance.items():
        for incident_class, (received, in_time, breached) in by_class.items():
            lines.append(f"|SLA {metric} {incident_class}: received / in time / breached|"
                         f"{received} / {in_time} / {breached}|")
    key = f"statement:{result.customer}:{s.month}"
    return "\n".join(lines) + f"\n\n[slabridge {key}]"


def unattributed_dict(month: str, entries: list[Unattributed]) -> dict[str, Any]:
    """The JSON shape of the month's hours no customer rule claims (customer null)."""
    return {
        "customer": None, "unattributed": True, "month": month,
        "used": _h(sum((e.hours for e in entries), ZERO)),
        "entries": [{"entry": e.entry_id, "day": e.day.isoformat(), "hours": _h(e.hours),
                     "project": e.project, "issue": e.ticket_key} for e in entries],
    }


def statements_json(results: list[CustomerMonth], month: str | None = None,
                    unattributed: list[Unattributed] | None = None) -> str:
    """All statements as a JSON list; hours no rule claims are one more item at the end."""
    items = [statement_dict(r) for r in results]
    if unattributed and month is not None:
        items.append(unattributed_dict(month, unattributed))
    return json.dumps(items, indent=2, ensure_ascii=False)


def first_working_day(config: Config, month: str) -> date:
    """The first day of `month` with service hours on the default tier's calendar."""
    calendar = config.tier(config.settings.default_tier).calendar
    day = first_of(month)
    while not calendar.weekly[day.weekday()] or calendar.day_off(day) is not None:
        day = date.fromordinal(day.toordinal() + 1)
    return day


def previous_month(month: str) -> str:
    """The month before `month`."""
    return shift_month(month, -1)


def monthly_summary(service: HoursService, today: date, now: datetime) -> list[str] | None:
    """On the first working day of a month, post last month's statements once.

    Returns where they were posted, or None when today is not the day or it was done.
    Customers without an `hours.post_to` place are summarised in the log only.
    """
    month = month_of(today)
    if today != first_working_day(service.config, month):
        return None
    last = previous_month(month)
    name = service.tracker.name
    if service.store.mark(name, f"monthly-summary:{last}"):
        return None
    service.tracker.prepare()
    service.refresh(today)
    results = service.statements(last, None, now)
    targets = service.config.settings.hours.post_to
    posted = service.post([r for r in results if r.customer in targets], now)
    service.store.set_mark(name, f"monthly-summary:{last}", now.isoformat())
    return posted
