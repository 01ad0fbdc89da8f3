"""The sync use case: one cycle of gather (what each decision needs), decide, write, read back."""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn

import structlog

from slabridge.app.delivery import Delivery
from slabridge.app.gather import Gatherer
from slabridge.app.report import SyncReport, Unclassified
from slabridge.app.rules import judging_rules
from slabridge.app.writeback import read_back_writes, say_receipt_problem, say_unavailable_fields
from slabridge.domain.model import FieldRole, IssueRecord, Journal, Ticket
from slabridge.domain.plan import (
    NO_CONTEXT,
    UNWRITABLE,
    Rules,
    TicketUpdate,
    decide,
    needs_of,
    next_check,
)
from slabridge.domain.values import value
from slabridge.errors import (
    IssueError,
    NotificationError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
)
from slabridge.ports import Notifier, StateStore, Tracker

log = structlog.get_logger("slabridge.sync")


# Issues decided before their writes are made; their records are stored in one transaction.
DECISIONS_PER_BATCH = 100

# Redmine's times have whole seconds: an issue changed again within the second of the
# update time a cycle saw keeps that time. So a journal read (or known to be empty) by a
# listing that began less than this after the issue's update time may lack a change; it
# is read again in the next cycle. A second for the resolution, and one more because the
# listing's time (the Date of its first page, also in whole seconds) is taken after the
# page's query ran.
SAME_TIME_MARGIN = timedelta(seconds=2)

SLA_STATUS_ROLE = FieldRole.SLA_STATUS.value
BREACHED_KEY_SUFFIX = ":breached"
"""A note key `<customer>:<class>:breached` is written exactly once per issue entering breach."""

# State-store marks: the scope and the terms of the last cycle.
SCOPE = "scope"
TERMS = "terms"

@value
class _Write:
    """A write decided in the first pass of a cycle, done in the second."""

    ticket: Ticket
    stored: IssueRecord | None
    record: IssueRecord
    update: TicketUpdate
    done: frozenset[str]
    send: Callable[[], None]
    """The update prepared by the tracker (Tracker.prepare_update)."""


@dataclass
class _Cycle:
    """What one cycle is: its tracker, watermark, kind, and the rules it judges by."""

    name: str
    watermark: datetime | None
    full: bool
    dry_run: bool
    rules: Rules
    report: SyncReport


class Syncer:
    """Runs sync cycles of one tracker against one state store."""

    def __init__(
        self, tracker: Tracker, store: StateStore, rules: Rules, overlap: timedelta,
        notifiers: Mapping[str, Notifier] | None = None, scope: str = "", terms: str = "",
    ) -> None:
        self.tracker = tracker
        self.scope = scope
        """A fingerprint of the projects and classification rules (Config.scope_fingerprint):
        when it differs from the last cycle's, the next cycle reconciles every open issue."""
        self.terms = terms
        """A fingerprint of what decides due times (Config.terms_fingerprint): when it
        differs from the last cycle's, the next cycle re-evaluates every open issue and
        notes each due time that moved."""
        self.store = store
        self.rules = rules
        self.overlap = overlap
        self.delivery = Delivery(notifiers or {}, store, tracker)
        self.notifiers = self.delivery.notifiers
        self.channels = self.delivery.channels
        self._prepared = False
        self.gatherer = Gatherer(tracker, store)
        self._unsaved: list[IssueRecord] = []
        self._written: list[tuple[_Write, frozenset[str]]] = []
        self._log: Any = log
        self._log_writes = True
        self._journals_settled_before = datetime.min.replace(tzinfo=UTC)
        self._issue_errors: dict[str, str] = {}
        """The last error logged per issue (an issue failing again the same way is not
        logged again)."""
        self._open_statuses: dict[str, str] | None = None
        """Open classified issues' SLA status by key: from the store once, then kept."""
        self._retry_dropped = False
        self._retried: dict[str, frozenset[str]] = {}
        """Per issue, the dropped values this full cycle sends again (see _read_back)."""

    def cycle(
        self, now: datetime, *, dry_run: bool = False, full: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> SyncReport:
        """One cycle: list what changed, read journals where needed, decide, write.

        `should_stop` is asked between issues: a daemon told to stop finishes the write in
        progress and leaves the rest (and the watermark) for the next run.
        """
        started = time.perf_counter()
        requests_before = self.tracker.requests_made
        if not self._prepared:
            self.tracker.prepare()
            self._prepared = True
        cycle = self._begin(now, dry_run, full)
        listed, newest = self._list(cycle)
        keys, known, stored_listed = self._work_list(cycle, listed, now)
        stopped = self._run(cycle, keys, listed, known, stored_listed, now, should_stop)
        self._finish(cycle, newest, stopped)
        report = cycle.report
        report.requests = self.tracker.requests_made - requests_before
        report.seconds = time.perf_counter() - started
        self.delivery.end_cycle(report, self._log)
        report.open_statuses = dict(Counter((self._open_statuses or {}).values()))
        self._log.info("cycle_done", **report.counts())
        return report

    def _begin(self, now: datetime, dry_run: bool, full: bool) -> _Cycle:
        """What this cycle is: full or incremental (a changed scope makes it full), and the
        rules it judges by (slabridge's own accounts, changed terms)."""
        name = self.tracker.name
        watermark = self.store.watermark(name)
        scope_changed = (bool(self.scope) and watermark is not None and not full
                         and self.store.mark(name, SCOPE) != self.scope)
        full = full or scope_changed
        report = SyncReport(mode="full" if full or watermark is None else "incremental",
                            dry_run=dry_run)
        if scope_changed:
            # A project or rule added later: its untouched issues would never be listed by
            # an incremental cycle.
            report.problems.append("the configuration's scope (projects or classification) "
                                   "changed since the last cycle: this cycle reconciles "
                                   "every open issue")
            log.info("scope_changed", reconcile="full")
        # Bound once per cycle: the module's lazy proxy binds anew on every call (several
        # microseconds per issue), and a logging setup changed between cycles still counts.
        self._log = log.bind()
        self._log_writes = self._log.is_enabled_for(logging.INFO)
        rules = judging_rules(self.rules, self.store, name, self.tracker.own_authors(),
                              remember=not dry_run)
        # A full cycle sends again the values the tracker dropped before (an administrator
        # may have fixed the role or the workflow since); one dropped again is not
        # reported again.
        self._retry_dropped = full
        self._retried = {}
        terms_changed = (bool(self.terms) and watermark is not None
                         and self.store.mark(name, TERMS) != self.terms)
        if terms_changed:
            rules = replace(rules, terms_changed=True)
            log.info("terms_changed", reevaluate="every open issue")
        return _Cycle(name, watermark, full, dry_run, rules, report)

    def _list(self, cycle: _Cycle) -> tuple[dict[str, Ticket], datetime | None]:
        """The issues the tracker lists for this cycle, and the newest update time."""
        watermark = cycle.watermark
        since = None if cycle.report.mode == "full" or watermark is None \
            else watermark - self.overlap
        listed: dict[str, Ticket] = {}
        newest = watermark
        for ticket in self.tracker.list_issues(since, open_only=cycle.full
                                               and watermark is not None):
            listed.setdefault(ticket.key, ticket)
            newest = ticket.updated if newest is None else max(newest, ticket.updated)
        cycle.report.seen = len(listed)
        # Issues the tracker listed but could not read, skipped there (JiraTracker.unreadable).
        for problem in getattr(self.tracker, "unreadable", ()):
            cycle.report.errors += 1
            cycle.report.problems.append(problem)
        return listed, newest

    def _work_list(
        self, cycle: _Cycle, listed: dict[str, Ticket], now: datetime,
    ) -> tuple[list[str], dict[str, IssueRecord], dict[str, IssueRecord]]:
        """The keys to look at (listed, or stored and due for a look), the stored records
        due, and those of the other listed issues; a full cycle marks closed what is
        no longer listed open."""
        name = cycle.name
        self.gatherer.start_cycle(listed)
        # What is read from here on cannot miss a change made SAME_TIME_MARGIN before the
        # listing began (the tracker's clock where it says, else ours).
        self._journals_settled_before = (self.tracker.listing_started or now) - SAME_TIME_MARGIN
        # Incremental cycles look again only at records whose status time alone can change
        # now; everything else waits for a change in the tracker (or the full reconcile).
        due_by = None if cycle.report.mode == "full" or cycle.rules.terms_changed else now
        if self._open_statuses is None:
            self._open_statuses = {
                r.ticket.key: r.ticket.sla_fields[SLA_STATUS_ROLE]
                for r in self.store.open_records(name)
                if r.ticket.sla_fields.get(SLA_STATUS_ROLE)}
        known = {r.ticket.key: r for r in self.store.open_records(name, due_by)}
        if cycle.full and cycle.watermark is not None:
            # Open before, absent from the list of open issues now: closed, deleted or moved.
            for key, record in known.items():
                if key not in listed:
                    self._open_statuses.pop(key, None)
                if key not in listed and not cycle.dry_run:
                    self.store.put(name, replace(record, ticket=replace(record.ticket,
                                                                        closed=True)))
            known = {k: v for k, v in known.items() if k in listed}
        keys = list(dict.fromkeys([*listed, *known]))
        stored_listed = self.store.get_many(name, [key for key in listed if key not in known])
        return keys, known, stored_listed

    def _run(
        self, cycle: _Cycle, keys: list[str], listed: dict[str, Ticket],
        known: dict[str, IssueRecord], stored_listed: dict[str, IssueRecord], now: datetime,
        should_stop: Callable[[], bool],
    ) -> bool:
        """Decide and write, in batches; True if told to stop before the end.

        In batches of two passes: decide up to DECISIONS_PER_BATCH issues (reading journals
        where needed) and prepare their writes, then send them. One issue's failure costs
        only that issue; an auth error ends the cycle. Decisions run back to back, not in
        the gaps between slow writes where the interpreter is cold again (measured: 7x
        slower per decision), and none waits long for its write.
        """
        report, dry_run = cycle.report, cycle.dry_run
        self._unsaved, self._written = [], []
        try:
            for first in range(0, len(keys), DECISIONS_PER_BATCH):
                writes: list[_Write] = []
                for key in keys[first:first + DECISIONS_PER_BATCH]:
                    if should_stop():
                        return True
                    stored = known.get(key) or stored_listed.get(key)
                    current = listed.get(key) or (stored.ticket if stored else None)
                    if current is None:
                        continue
                    if (report.mode == "incremental" and stored is not None
                            and key not in known and stored.ticket == current
                            and (stored.journal_as_of is not None or stored.journal is None)):
                        # Listed again (the overlap) but unchanged since decided, and not
                        # due for a look. The nightly full cycle decides it anyway.
                        report.unchanged += 1
                        continue
                    try:
                        write = self._plan(current, stored, cycle.rules, now, dry_run, report)
                    except TrackerAuthError:
                        raise
                    except Exception as error:
                        self._turn_failed(current, stored, dry_run, report, error)
                    else:
                        if write is not None:
                            writes.append(write)
                # The previous batch's written records (and this batch's that need no
                # write) are stored now, while the interpreter is warm from deciding, not
                # after the last slow write: nothing is written to the tracker in between,
                # and a crash before is covered by the note marker, as during the writes.
                self._flush_records(report)
                for write in writes:
                    if should_stop():
                        return True
                    try:
                        self._write(write, report)
                    except TrackerAuthError:
                        raise
                    except Exception as error:
                        self._turn_failed(write.ticket, write.stored, dry_run, report, error)
            return False
        finally:
            # Whatever ends the cycle (an auth error, a stop), what was written is recorded
            # and nothing decided is left over for the next cycle.
            self._flush_records(report)

    def _finish(self, cycle: _Cycle, newest: datetime | None, stopped: bool) -> None:
        """Move the watermark and remember the scope and terms judged by, unless stopped
        (the rest is left for the next cycle) or a dry run."""
        if stopped:
            cycle.report.problems.append("stopped before the cycle was complete")
        # The tracker's clock at the start of the listing, where it says so: everything
        # changed since has a later update time, and a quiet tracker's window empties.
        started_at = self.tracker.listing_started
        if started_at is not None:
            newest = started_at if newest is None else max(newest, started_at)
        if cycle.dry_run or newest is None or stopped:
            return
        name = cycle.name
        self.store.set_watermark(name, newest)
        if self.scope and self.store.mark(name, SCOPE) != self.scope:
            self.store.set_mark(name, SCOPE, self.scope)
        if self.terms and self.store.mark(name, TERMS) != self.terms:
            self.store.set_mark(name, TERMS, self.terms)

    def _keep_for_retry(self, ticket: Ticket, stored: IssueRecord | None, dry_run: bool) -> None:
        """Remember an issue whose turn failed, so the next cycle tries it again.

        The watermark moves on past it; without a record, an issue whose first write
        failed would wait for the nightly reconciliation. The journal is kept as of its
        last read, so a changed issue's journal is read again.
        """
        if dry_run or (ticket.closed and stored is None):
            return
        kept = replace(stored, ticket=ticket) if stored is not None else IssueRecord(ticket)
        try:
            # Notifications sent in this turn were recorded meanwhile: keep them as done.
            latest = self.store.get(self.tracker.name, ticket.key)
            done = kept.done_keys | (latest.done_keys if latest else frozenset())
            # Due for a look at once: incremental cycles only re-evaluate records that are due.
            self.store.put(self.tracker.name,
                           replace(kept, done_keys=done, next_check=ticket.created))
        except Exception:
            self._log.exception("retry_record_failed", issue=ticket.key)

    def _turn_failed(self, ticket: Ticket, stored: IssueRecord | None, dry_run: bool,
                     report: SyncReport, error: Exception) -> None:
        """Report what went wrong in one issue's turn and keep the issue for retry."""
        if isinstance(error, IssueError | TrackerUnavailableError | TrackerError
                      | NotificationError):
            report.errors += 1
            report.problems.append(str(error))
            # Logged when the error appears or changes, not every cycle it lasts.
            if self._issue_errors.get(ticket.key) != str(error):
                self._issue_errors[ticket.key] = str(error)
                self._log.warning("issue_failed", issue=ticket.key, error=str(error))
        else:
            # Data no rule foresaw (an absurd date, say) is a bug to report, per issue.
            report.errors += 1
            report.problems.append(f"issue {ticket.key}: unexpected {type(error).__name__}: "
                                   f"{error}")
            # The traceback goes in as text so the secret redaction sees it.
            self._log.error("issue_failed", issue=ticket.key, kind="bug",
                            error=f"{type(error).__name__}: {error}",
                            traceback="".join(traceback.format_exception(error)))
        self._keep_for_retry(ticket, stored, dry_run)

    def _store_later(self, record: IssueRecord) -> None:
        """Keep a record to store with others in one transaction (see _flush_records)."""
        self._unsaved.append(record)

    def _flush_records(self, report: SyncReport) -> None:
        """Store the kept records and those of the writes done (counted here), in one
        transaction.

        A record that cannot be stored (a broken value, say) costs only its own issue: the
        batch is then stored record by record and that issue reported; its next cycle
        finds what was written by the note marker and the field values.
        """
        records, self._unsaved = self._unsaved, []
        written, self._written = self._written, []
        report.writes += sum(1 for write, _ in written if write.update.writes_tracker)
        read_back = read_back_writes([w.update for w, _ in written], self.tracker,
                                     self._retried, report, self._log)
        for write, done in written:
            made, update = write.record, write.update
            report.notes += 1 if update.note else 0
            ticket = made.ticket
            if update.fields:
                stored, dropped = read_back.get(update.ticket_key, (update.fields, frozenset()))
                ticket = ticket.with_sla_fields(
                    {role: stored.get(role, "") for role in update.fields})
                done = done | dropped
            report.breaches += any(k.endswith(BREACHED_KEY_SUFFIX) for k in update.note_keys)
            # A notification a channel has not confirmed: looked at again next cycle.
            next_look = (write.ticket.created if update.ticket_key in self.delivery.unconfirmed
                         else made.next_check)
            records.append(IssueRecord(  # all fields: replace() costs three times as much
                ticket, made.journal, made.journal_as_of, made.class_changes,
                made.accepted_at, done.union(update.note_keys), next_look,
            ))
        if not records:
            return
        if self._issue_errors:
            for record in records:  # its turn went through
                if self._issue_errors.pop(record.ticket.key, None) is not None:
                    self._log.info("issue_recovered", issue=record.ticket.key)
        try:
            self.store.put_many(self.tracker.name, records)
        except Exception:
            self._log.warning("batch_not_stored", records=len(records), retry="one by one")
        else:
            return
        for record in records:
            try:
                self.store.put(self.tracker.name, record)
            except Exception as error:
                report.errors += 1
                report.problems.append(f"issue {record.ticket.key}: state not stored: "
                                       f"{type(error).__name__}: {error}")
                self._log.error("record_not_stored", issue=record.ticket.key,
                                error=f"{type(error).__name__}: {error}")

    def _plan(
        self, ticket: Ticket, record: IssueRecord | None, rules: Rules, now: datetime,
        dry_run: bool, report: SyncReport,
    ) -> _Write | None:
        """Decide one issue; the write it needs, if any (records without one are kept)."""
        if self._retry_dropped and record is not None:
            dropped = frozenset(k for k in record.done_keys if k.startswith(UNWRITABLE))
            if dropped:
                self._retried[ticket.key] = dropped
                record = replace(record, done_keys=record.done_keys - dropped)
        journal = record.journal if record else None
        journal_as_of = record.journal_as_of if record else None
        fresh_journal = False
        if ticket.pristine and journal_as_of != ticket.updated:
            # Never changed since it was created: its history is known to be empty.
            journal, journal_as_of, fresh_journal = (
                Journal(initial_status=ticket.status), ticket.updated, True
            )
        needs = needs_of(ticket, record, rules)
        if needs.journal and journal_as_of != ticket.updated:
            # Acceptance (status change or public note) is only in the journal. Even after
            # slabridge's own write it is read again: someone's note can have come between
            # the listing that decided the write and the write (a first cycle writes for
            # minutes), and Redmine cannot say so without the journal.
            journal, journal_as_of, fresh_journal = (
                self.tracker.journal(ticket.key), ticket.updated, True
            )
        if journal_as_of is not None and journal_as_of > self._journals_settled_before:
            # Changed just before the listing: a change later in the same second would
            # leave the update time as it is, so this journal is read again next cycle.
            journal_as_of = None
        context = (self.gatherer.context(ticket, needs, rules, report, dry_run, self._log)
                   if needs.sprint or needs.emergency_count else NO_CONTEXT)
        decision = decide(ticket, journal, record, rules, now, context)
        report.evaluated += 1
        if self._open_statuses is not None:
            if decision.evaluation is None or ticket.closed:
                self._open_statuses.pop(ticket.key, None)
            else:
                self._open_statuses[ticket.key] = decision.evaluation.status.value
        if decision.evaluation is None:
            report.unclassified += 1
            if not ticket.closed:
                report.unclassified_issues.append(Unclassified.of(decision))
            unclassified = IssueRecord(ticket, journal, journal_as_of)
            if not dry_run and unclassified != record:
                self._store_later(unclassified)
            return None
        report.classified += 1
        status = decision.evaluation.status.value
        report.statuses[status] = report.statuses.get(status, 0) + 1
        done = (record.done_keys if record else frozenset()) | (
            journal.own_note_keys if journal else frozenset()
        )
        if ticket.receipt_problem and not ticket.closed:
            done = say_receipt_problem(ticket, done, report, self._log)
        tracked = ticket.tracked_fields
        if tracked is not None and not ticket.closed and not tracked.issuperset(
                decision.desired_fields):
            done = say_unavailable_fields(ticket, decision, done, report, self.tracker,
                                          self._log)
        new_record = IssueRecord(
            ticket, journal, journal_as_of, decision.class_changes,
            decision.evaluation.accepted_at, done, next_check(decision, rules),
        )
        update = decision.update
        if update is not None and update.note and not fresh_journal:
            # The store may lag a write that succeeded just before a crash, or be new: ask
            # the tracker (a dry run too, so it promises only the notes a run would write).
            written = self.tracker.journal(ticket.key).own_note_keys
            if set(update.note_keys) <= written:
                done |= written
                update = replace(update, note=None, note_keys=())
                new_record = replace(new_record, done_keys=done)
        if update is not None and not update.empty:
            report.planned.append(update)
            if dry_run:
                report.notes += 1 if update.note else 0
                return None
            # Prepared now, with the batch's decisions: between two slow writes the
            # interpreter is cold, so what runs there is kept to sending.
            return _Write(ticket, record, new_record, update, done, self._prepare(update))
        if not dry_run and new_record != record:
            # Unchanged records are not written again: a steady cycle writes nothing at all.
            self._store_later(new_record)
        return None

    def _prepare(self, update: TicketUpdate) -> Callable[[], None]:
        """The tracker's prepared write; one that cannot be prepared fails when it is sent.

        So it costs what a failed write costs and no more: the update's notifications,
        sent just before its write, still go out. An auth error ends the cycle at once.
        """
        try:
            return self.tracker.prepare_update(update)
        except TrackerAuthError:
            raise
        except Exception as error:
            return partial(_fail, error)

    def _write(self, write: _Write, report: SyncReport) -> None:
        """Update the issue, then notify each channel on its own, and keep what was done
        for the next stored batch. The tracker write never waits for a channel, and a
        channel that fails keeps neither the tracker nor the other channels waiting."""
        update = write.update
        try:
            write.send()
        except TrackerAuthError:
            raise
        except Exception:
            if update.writes_tracker:
                report.write_errors += 1
            if update.notifications:
                self._notify(write, report)  # recorded as each is sent (see _keep_for_retry)
            raise
        done = self._notify(write, report) if update.notifications else write.done
        if update.superseded:
            done = done | frozenset(update.superseded)
            for key in update.superseded:
                report.problems.append(
                    f"issue {update.ticket_key}: {key} was not delivered before the next "
                    "escalation step, whose notifications replace it")
                self._log.warning("notification_superseded", issue=update.ticket_key, key=key)
        if self._log_writes and update.writes_tracker:  # between slow writes even a dropped
            # log line cost ~35 us
            self._log.info("issue_updated", issue=update.ticket_key,
                           fields=sorted(update.fields), note_keys=list(update.note_keys))
        # Counted and recorded with the next batch: if the process dies first, the next
        # cycle finds the note by its marker (see _plan) and the fields by their values, so
        # nothing is written twice. Between two slow writes the interpreter is cold, so the
        # work after each one is kept to this.
        self._written.append((write, done))

    def _notify(self, write: _Write, report: SyncReport) -> frozenset[str]:
        return self.delivery.send(write.update, write.ticket, write.stored, write.done,
                                  report, self._log)

def _fail(error: Exception) -> NoReturn:
    """Raise an error kept for later (see Syncer._prepare)."""
    raise error
