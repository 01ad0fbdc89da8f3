"""Use cases: one sync cycle (gather, decide, apply), the status board, an explanation."""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn

import structlog

from slabridge.app.board import Unclassified
from slabridge.app.rules import judging_rules
from slabridge.domain.emergency import emergency_count
from slabridge.domain.model import FieldRole, IssueRecord, Journal, Sprint, Ticket
from slabridge.domain.plan import (
    NO_CONTEXT,
    UNWRITABLE,
    Context,
    Decision,
    Needs,
    Rules,
    TicketUpdate,
    decide,
    needs_of,
    next_check,
    unwritable_key,
)
from slabridge.domain.values import value
from slabridge.errors import (
    IssueError,
    NotificationError,
    SprintUnavailableError,
    TrackerAuthError,
    TrackerError,
    TrackerUnavailableError,
)
from slabridge.ports import Notifier, StateStore, Tracker

log = structlog.get_logger("slabridge.sync")

# Sprints change rarely: the daemon asks again after this long (a one-shot run asks once).
SPRINT_TTL_SECONDS = 600

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
RETRY_FIRST_SECONDS = 60.0
RETRY_MAX_SECONDS = 900.0

# State-store marks: the scope and the terms of the last cycle.
SCOPE = "scope"
TERMS = "terms"

@dataclass
class SyncReport:
    """What one cycle saw and did."""

    mode: str
    dry_run: bool
    seen: int = 0
    evaluated: int = 0
    unchanged: int = 0
    classified: int = 0
    unclassified: int = 0
    writes: int = 0
    notes: int = 0
    notifications: int = 0
    write_errors: int = 0
    """Tracker writes that failed (single issues; the cycle went on)."""
    breaches: int = 0
    """Issues newly entering breached whose breach note was written in this cycle."""
    channels: dict[str, list[int]] = field(default_factory=dict)
    """Per notification channel: [sent, failed] in this cycle."""
    open_statuses: dict[str, int] = field(default_factory=dict)
    """All open classified issues by SLA status after the cycle (not only those evaluated)."""
    channels_failing: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Channels failing after the cycle: since when (Unix time), and the last error."""
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    planned: list[TicketUpdate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unclassified_issues: list[Unclassified] = field(default_factory=list)
    """The open issues this cycle saw that no rule classified, with the reason."""
    statuses: dict[str, int] = field(default_factory=dict)

    def channel_counts(self, channel: str) -> list[int]:
        """[sent, failed] of one channel in this cycle, to count on."""
        return self.channels.setdefault(channel, [0, 0])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            **self.counts(),
            "problems": self.problems,
            "unclassified_issues": [u.as_dict() for u in self.unclassified_issues],
            "planned": [
                {"issue": u.ticket_key, "fields": dict(u.fields), "note": u.note,
                 "note_keys": list(u.note_keys)}
                for u in self.planned
            ],
        }

    def counts(self) -> dict[str, Any]:
        """The summary without the problems and planned writes, as logged per cycle."""
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "seen": self.seen,
            "evaluated": self.evaluated,
            "unchanged": self.unchanged,
            "classified": self.classified,
            "unclassified": self.unclassified,
            "writes": self.writes,
            "notes": self.notes,
            "notifications": self.notifications,
            "write_errors": self.write_errors,
            "breaches": self.breaches,
            "channels": {name: {"sent": sent, "failed": failed}
                         for name, (sent, failed) in sorted(self.channels.items())},
            "channels_failing": sorted(self.channels_failing),
            "errors": self.errors,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "statuses": self.statuses,
        }


class ChannelHealth:
    """Which notification channels fail, since when, and when each is tried again
    (backoff from RETRY_FIRST_SECONDS, doubling, at most RETRY_MAX_SECONDS)."""

    def __init__(self) -> None:
        self._failing: dict[str, tuple[float, str]] = {}
        self._retry: dict[str, tuple[int, float]] = {}
        self._wanted: set[str] = set()

    def due(self, channel: str, monotonic: float) -> bool:
        """Whether the channel may be tried now (it has something to send)."""
        self._wanted.add(channel)
        retry = self._retry.get(channel)
        return retry is None or monotonic >= retry[1]

    def end_cycle(self) -> list[str]:
        """Forget failing channels nothing wanted to use in this cycle: with nothing left
        to send they are not known to fail (health would call them failing for ever).
        Returns those forgotten."""
        idle = [channel for channel in self._failing if channel not in self._wanted]
        for channel in idle:
            self._failing.pop(channel, None)
            self._retry.pop(channel, None)
        self._wanted.clear()
        return idle

    def failed(self, channel: str, error: str, monotonic: float, wall: float) -> bool:
        """Record a failure; True if the channel was not failing before or its error is
        new (say it once per change, not every cycle)."""
        failures = self._retry.get(channel, (0, 0.0))[0] + 1
        delay = min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
        self._retry[channel] = (failures, monotonic + delay)
        since, last = self._failing.get(channel, (wall, ""))
        self._failing[channel] = (since, error)
        return error != last

    def succeeded(self, channel: str) -> bool:
        """Record a success; True if the channel had been failing."""
        self._retry.pop(channel, None)
        return self._failing.pop(channel, None) is not None

    def failing(self) -> dict[str, tuple[float, str]]:
        """Failing channels: since when (Unix time) and the last error."""
        return dict(self._failing)


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
        self.notifiers = dict(notifiers or {})
        self._prepared = False
        # project -> (current sprint, monotonic time looked up); see SPRINT_TTL_SECONDS
        self._sprints: dict[str, tuple[Sprint | None, float]] = {}
        self._all_records: list[IssueRecord] | None = None
        self._listed: dict[str, Ticket] = {}
        self._unsaved: list[IssueRecord] = []
        self._written: list[tuple[_Write, frozenset[str]]] = []
        self._log: Any = log
        self._log_writes = True
        self._journals_settled_before = datetime.min.replace(tzinfo=UTC)
        self.channels = ChannelHealth()
        self._unconfirmed: set[str] = set()
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
        name = self.tracker.name
        watermark = self.store.watermark(name)
        scope_changed = (bool(self.scope) and watermark is not None and not full
                         and self.store.mark(name, SCOPE) != self.scope)
        full = full or scope_changed
        mode = "full" if full or watermark is None else "incremental"
        report = SyncReport(mode=mode, dry_run=dry_run)
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
        since = None if mode == "full" or watermark is None else watermark - self.overlap
        listed: dict[str, Ticket] = {}
        newest = watermark
        for ticket in self.tracker.list_issues(since, open_only=full and watermark is not None):
            listed.setdefault(ticket.key, ticket)
            newest = ticket.updated if newest is None else max(newest, ticket.updated)
        report.seen = len(listed)
        # Issues the tracker listed but could not read, skipped there (JiraTracker.unreadable).
        for problem in getattr(self.tracker, "unreadable", ()):
            report.errors += 1
            report.problems.append(problem)

        self._all_records = None
        self._listed = listed
        # What is read from here on cannot miss a change made SAME_TIME_MARGIN before the
        # listing began (the tracker's clock where it says, else ours).
        self._journals_settled_before = (self.tracker.listing_started or now) - SAME_TIME_MARGIN
        # Incremental cycles look again only at records whose status time alone can change
        # now; everything else waits for a change in the tracker (or the full reconcile).
        due_by = None if mode == "full" or terms_changed else now
        if self._open_statuses is None:
            self._open_statuses = {
                r.ticket.key: r.ticket.sla_fields[SLA_STATUS_ROLE]
                for r in self.store.open_records(name)
                if r.ticket.sla_fields.get(SLA_STATUS_ROLE)}
        known = {r.ticket.key: r for r in self.store.open_records(name, due_by)}
        if full and watermark is not None:
            # Open before, absent from the list of open issues now: closed, deleted or moved.
            for key, record in known.items():
                if key not in listed:
                    self._open_statuses.pop(key, None)
                if key not in listed and not dry_run:
                    self.store.put(name, replace(record, ticket=replace(record.ticket,
                                                                        closed=True)))
            known = {k: v for k, v in known.items() if k in listed}
        keys = list(dict.fromkeys([*listed, *known]))
        stored_listed = self.store.get_many(name, [key for key in listed if key not in known])
        self._unsaved, self._written = [], []
        stopped = False
        try:
            # In batches of two passes: decide up to DECISIONS_PER_BATCH issues (reading
            # journals where needed) and prepare their writes, then send them. One issue's
            # failure costs only that issue; an auth error ends the cycle. Decisions run
            # back to back, not in the gaps between slow writes where the interpreter is
            # cold again (measured: 7x slower per decision), and none waits long for its
            # write.
            for first in range(0, len(keys), DECISIONS_PER_BATCH):
                writes: list[_Write] = []
                for key in keys[first:first + DECISIONS_PER_BATCH]:
                    if should_stop():
                        stopped = True
                        break
                    stored = known.get(key) or stored_listed.get(key)
                    current = listed.get(key) or (stored.ticket if stored else None)
                    if current is None:
                        continue
                    if (mode == "incremental" and stored is not None and key not in known
                            and stored.ticket == current
                            and (stored.journal_as_of is not None or stored.journal is None)):
                        # Listed again (the overlap) but unchanged since decided, and not
                        # due for a look. The nightly full cycle decides it anyway.
                        report.unchanged += 1
                        continue
                    try:
                        write = self._plan(current, stored, rules, now, dry_run, report)
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
                    if stopped or should_stop():
                        stopped = True
                        break
                    try:
                        self._write(write, report)
                    except TrackerAuthError:
                        raise
                    except Exception as error:
                        self._turn_failed(write.ticket, write.stored, dry_run, report, error)
                if stopped:
                    break
        finally:
            # Whatever ends the cycle (an auth error, a stop), what was written is recorded
            # and nothing decided is left over for the next cycle.
            self._flush_records(report)
        if stopped:
            report.problems.append("stopped before the cycle was complete")
        # The tracker's clock at the start of the listing, where it says so: everything
        # changed since has a later update time, and a quiet tracker's window empties.
        started_at = self.tracker.listing_started
        if started_at is not None:
            newest = started_at if newest is None else max(newest, started_at)
        if not dry_run and newest is not None and not stopped:
            self.store.set_watermark(name, newest)
            if self.scope and self.store.mark(name, SCOPE) != self.scope:
                self.store.set_mark(name, SCOPE, self.scope)
            if self.terms and self.store.mark(name, TERMS) != self.terms:
                self.store.set_mark(name, TERMS, self.terms)
        report.requests = self.tracker.requests_made - requests_before
        report.seconds = time.perf_counter() - started
        for channel in self.channels.end_cycle():
            self._log.info("channel_idle", channel=channel,
                           note="nothing left to send on a channel that had failed")
        report.channels_failing = self.channels.failing()
        report.open_statuses = dict(Counter(self._open_statuses.values()))
        self._unconfirmed.clear()
        self._log.info("cycle_done", **report.counts())
        return report

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
        read_back = self._read_back(written, report)
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
            next_look = (write.ticket.created if update.ticket_key in self._unconfirmed
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
        context = (self._context(ticket, needs, rules, report, dry_run)
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
            done = self._say_receipt_problem(ticket, done, report)
        tracked = ticket.tracked_fields
        if tracked is not None and not ticket.closed and not tracked.issuperset(
                decision.desired_fields):
            done = self._say_unavailable_fields(ticket, decision, done, report)
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

    def _say_receipt_problem(self, ticket: Ticket, done: frozenset[str],
                             report: SyncReport) -> frozenset[str]:
        """Report a receipt field that is not used, once per text (kept with the notes
        done, so a turn that fails, or an issue closed or unclassified meanwhile, does not
        count as told), and the done keys with it."""
        said = f"receipt-problem:{ticket.receipt_problem}"
        if said in done:
            return done
        report.problems.append(f"issue {ticket.key}: {ticket.receipt_problem}: its creation "
                               "time is used")
        self._log.warning("receipt_field_not_used", issue=ticket.key,
                          problem=ticket.receipt_problem)
        return done | {said}

    def _say_unavailable_fields(self, ticket: Ticket, decision: Decision,
                                done: frozenset[str], report: SyncReport) -> frozenset[str]:
        """Report, once per issue and field, a field the issue does not carry."""
        tracked = ticket.tracked_fields or frozenset()
        missing = [role for role in decision.desired_fields
                   if role not in tracked and f"unavailable:{role}" not in done]
        if not missing:
            return done
        names = ", ".join(self.tracker.field_label(role) for role in missing)
        facts = ticket.facts
        report.problems.append(
            f"issue {ticket.key}: field {names} is not available on this issue (project "
            f"{facts.project}, tracker {facts.tracker}): enable it for the project and the "
            "tracker and make it visible to slabridge's role; the other fields are written")
        self._log.warning("fields_not_available", issue=ticket.key, fields=missing)
        return done | {f"unavailable:{role}" for role in missing}

    def _read_back(self, written: list[tuple[_Write, frozenset[str]]],
                   report: SyncReport) -> dict[str, tuple[dict[str, str], frozenset[str]]]:
        """What the tracker stored of the fields just written, and the done keys of the
        values it dropped (reported once: not sent again until the value changes or a full
        cycle tries again); a sprint move it dropped is reported too."""
        keys = [write.update.ticket_key for write, _ in written
                if write.update.fields or write.update.sprint]
        if not keys:
            return {}
        try:
            stored = self.tracker.read_back(keys)
        except (TrackerUnavailableError, TrackerError) as error:
            self._log.warning("fields_not_read_back", error=str(error))
            return {}
        found: dict[str, tuple[dict[str, str], frozenset[str]]] = {}
        for write, _ in written:
            update = write.update
            ticket = stored.get(update.ticket_key)
            if ticket is None:
                continue
            if update.sprint is not None and ticket.sprint != update.sprint.id:
                report.problems.append(
                    f"issue {update.ticket_key}: the tracker did not move it into sprint "
                    f"{update.sprint.name}: the target version may be read-only for "
                    "slabridge's role in the workflow, or not shared with the project; "
                    "move it by hand")
                self._log.warning("sprint_move_dropped", issue=update.ticket_key,
                                  sprint=update.sprint.name)
            dropped = {role: value for role, value in update.fields.items()
                       if ticket.sla_fields.get(role, "") != value}
            known = self._retried.get(update.ticket_key, frozenset())
            new_drops = [r for r, v in dropped.items() if unwritable_key(r, v) not in known]
            if new_drops:
                names = ", ".join(self.tracker.field_label(role) for role in new_drops)
                report.problems.append(
                    f"issue {update.ticket_key}: the tracker did not store field {names}: "
                    "it may be read-only for slabridge's role in the workflow, or the role "
                    "lacks 'Edit issues'; sent again only when its value changes or in the "
                    "next full cycle")
                self._log.warning("fields_dropped", issue=update.ticket_key,
                                  fields=sorted(new_drops))
            elif dropped:
                self._log.info("fields_still_dropped", issue=update.ticket_key,
                               fields=sorted(dropped))
            found[update.ticket_key] = (
                dict(ticket.sla_fields),
                frozenset(unwritable_key(r, v) for r, v in dropped.items()))
        return found

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

    def _context(self, ticket: Ticket, needs: Needs, rules: Rules, report: SyncReport,
                 dry_run: bool) -> Context:
        """Look up what the decision needs: the current sprint, the emergency count."""
        sprint = None
        if needs.sprint:
            project = ticket.facts.project
            cached = self._sprints.get(project)
            if cached is None or time.monotonic() - cached[1] > SPRINT_TTL_SECONDS:
                why = f"project {project} has no current sprint: Fastlane issues stay " \
                      "where they are"
                try:
                    found = self.tracker.current_sprint(project)
                except SprintUnavailableError as error:
                    found, why = None, str(error)
                self._sprints[project] = (found, time.monotonic())
                missing = found is None
                first_time = (dry_run and missing) or (not dry_run and self.store.flag_once(
                    self.tracker.name, f"no-sprint:{project}", missing
                ))
                if first_time:
                    report.problems.append(why)
                    self._log.warning("no_current_sprint", project=project, reason=why)
            sprint = self._sprints[project][0]
        emergency = None
        if needs.emergency_count:
            emergency = self._emergency_number(ticket, rules, report)
        return Context(current_sprint=sprint, emergency=emergency)

    def _emergency_number(self, ticket: Ticket, rules: Rules,
                          report: SyncReport) -> tuple[int, int]:
        """This ticket's place among its customer's emergency tickets of the month: the
        stored tickets and this cycle's (stored or not yet) counted by the domain."""
        if self._all_records is None:
            self._all_records = self.store.all_records(self.tracker.name)
        others = [r.ticket for r in self._all_records if r.ticket.key not in self._listed]
        count = emergency_count(ticket, [*others, *self._listed.values()], rules)
        if count.number > count.quota:
            report.problems.append(
                f"customer {count.customer} is over its emergency-ticket quota in "
                f"{count.month}: {count.number} of {count.quota} ({ticket.key})")
            self._log.warning("emergency_quota_exceeded", customer=count.customer,
                              month=count.month, number=count.number, quota=count.quota)
        return count.number, count.quota

    def _notifier(self, channel: str) -> Notifier:
        notifier = self.notifiers.get(channel)
        if notifier is None:
            raise NotificationError(f"no channel named {channel!r}")
        return notifier

    def _notify(self, write: _Write, report: SyncReport) -> frozenset[str]:
        """Send the update's notifications not yet sent, each channel on its own, recording
        each at once; a channel that fails is tried again in a later cycle, with backoff.

        The record stored after each one adds only the sent key to what was stored before
        and is due at once: if the process dies before the batch is stored, the next cycle
        must not take the issue for settled.
        """
        update, done = write.update, write.done
        before = write.stored or IssueRecord(write.ticket)
        for notification in update.notifications:
            if notification.key in done:
                continue
            channel = notification.channel
            if not self.channels.due(channel, time.monotonic()):
                self._unconfirmed.add(update.ticket_key)
                continue
            try:
                self._notifier(channel).send(replace(
                    notification, url=self.tracker.issue_url(notification.ticket_key)))
            except Exception as error:
                self._unconfirmed.add(update.ticket_key)
                report.channel_counts(channel)[1] += 1
                message = f"{type(error).__name__}: {error}" if not isinstance(
                    error, NotificationError) else str(error)
                if self.channels.failed(channel, message, time.monotonic(), time.time()):
                    report.problems.append(f"channel {channel} failed: {message}; the tracker "
                                           "and the other channels go on, it is tried again")
                    self._log.warning("notification_failed", channel=channel,
                                      issue=update.ticket_key, error=message)
                continue
            if self.channels.succeeded(channel):
                self._log.info("channel_recovered", channel=channel)
            done = done | {notification.key}
            self.store.put(self.tracker.name, replace(
                before, done_keys=before.done_keys | done, next_check=write.ticket.created,
            ))
            report.notifications += 1
            report.channel_counts(channel)[0] += 1
            self._log.info("notified", issue=update.ticket_key, channel=channel)
        return done


def _fail(error: Exception) -> NoReturn:
    """Raise an error kept for later (see Syncer._prepare)."""
    raise error
