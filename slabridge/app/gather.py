"""Gathering what a decision needs beyond the issue and its record (see needs_of): the
current sprint, the emergency count."""

from __future__ import annotations

import time
from typing import Any

from slabridge.app.report import SyncReport
from slabridge.domain.emergency import emergency_count
from slabridge.domain.model import IssueRecord, Sprint, Ticket
from slabridge.domain.plan import Context, Needs, Rules
from slabridge.errors import SprintUnavailableError
from slabridge.ports import StateStore, Tracker

# Sprints change rarely: the daemon asks again after this long (a one-shot run asks once).
SPRINT_TTL_SECONDS = 600


class Gatherer:
    """Looks up, for one tracker, what decisions ask for; sprints cached per project."""

    def __init__(self, tracker: Tracker, store: StateStore) -> None:
        self.tracker = tracker
        self.store = store
        # project -> (current sprint, monotonic time looked up); see SPRINT_TTL_SECONDS
        self._sprints: dict[str, tuple[Sprint | None, float]] = {}
        self._all_records: list[IssueRecord] | None = None
        self._listed: dict[str, Ticket] = {}

    def start_cycle(self, listed: dict[str, Ticket]) -> None:
        """A new cycle listed these issues (they count for the emergency numbers)."""
        self._all_records = None
        self._listed = listed

    def context(self, ticket: Ticket, needs: Needs, rules: Rules, report: SyncReport,
                dry_run: bool, log: Any) -> Context:
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
                    log.warning("no_current_sprint", project=project, reason=why)
            sprint = self._sprints[project][0]
        emergency = None
        if needs.emergency_count:
            emergency = self._emergency_number(ticket, rules, report, log)
        return Context(current_sprint=sprint, emergency=emergency)

    def _emergency_number(self, ticket: Ticket, rules: Rules, report: SyncReport,
                          log: Any) -> tuple[int, int]:
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
            log.warning("emergency_quota_exceeded", customer=count.customer,
                              month=count.month, number=count.number, quota=count.quota)
        return count.number, count.quota
