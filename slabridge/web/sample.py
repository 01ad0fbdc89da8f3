"""Demo-like state without a tracker: the demo's customers and issues, any number of them.

For what needs a full state store but no Redmine: the board benchmark (10,000 open issues),
the browser tests and the README's screenshots. The records are what a sync of the demo
Redmine stores (customer projects, priorities, a reply that accepts, a pause for feedback),
spread over receipt times so that every SLA status shows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from slabridge.app.rules import OWN_AUTHORS
from slabridge.config.loader import Config
from slabridge.domain.model import (
    IssueRecord,
    Journal,
    StatusChange,
    Ticket,
    TicketFacts,
    TimeEntry,
)
from slabridge.ports import HoursStore

TRACKER = "http://127.0.0.1:3000"

# The example configuration's customers (config/slabridge.example.yaml), by project.
CONFIG = """\
include: [{example}]
tracker:
  url: http://127.0.0.1:3000
  api_key: ${{REDMINE_API_KEY}}
state:
  path: state.sqlite3
"""

# project, customer field, subject, tracker, priority (the demo's issues, demo.py ISSUES)
ISSUES = (
    ("acme-shop", "", "Checkout: payment impossible", "Bug", "Urgent"),
    ("acme-shop", "", "Some products missing from the category page", "Bug", "High"),
    ("acme-shop", "", "Typo on the imprint page", "Feature", "Low"),
    ("acme-web", "", "Website unreachable since this morning", "Bug", "Immediate"),
    ("globex", "", "Interface to the ERP down", "Bug", "Urgent"),
    ("globex", "", "Search noticeably slower than agreed", "Bug", "Normal"),
    ("globex", "", "Pixel error in the footer on Safari", "Feature", "Low"),
    ("initech", "Initech", "Data export produces wrong totals", "Bug", "Urgent"),
    ("initech", "Initech", "Error message names the wrong field", "Bug", "High"),
    ("internal", "", "Update the team wiki", "Support", "Normal"),
)


def sample_record(number: int, config: Config, now: datetime) -> IssueRecord:
    """The `number`th open issue: the demo's issues in turn, received 0 to 40 service
    hours before `now` on their tier, some accepted, some waiting for feedback."""
    project, customer, subject, kind, priority = ISSUES[number % len(ISSUES)]
    calendar = config.tier("advanced").calendar
    # Service time before now, spread so that new, at-risk and breached issues all occur.
    hours_ago = (number * 7919 % 160) / 10
    received = now
    step = timedelta(minutes=30)
    while calendar.between(received, now) < timedelta(hours=hours_ago):
        received -= step
    fields = {"Customer": customer} if customer else {}
    ticket = Ticket(
        str(number + 1), TicketFacts(project, kind, priority, "New", custom_fields=fields),
        subject if number < len(ISSUES) else f"{subject} ({number + 1})", received, received,
        "New", False, "carla.acme",
    )
    changes: tuple[StatusChange, ...] = ()
    if number % 11 == 1:  # staff took it up: accepted, met (or breached, if late)
        changes = (StatusChange(received + timedelta(minutes=20), "New", "In Progress"),)
    elif number % 13 == 5:  # waiting for the customer: paused
        changes = (StatusChange(received + timedelta(minutes=10), "New", "Feedback"),)
    if changes:
        ticket = Ticket(ticket.key, TicketFacts(project, kind, priority, changes[-1].new,
                                                custom_fields=fields),
                        ticket.subject, received, changes[-1].at, changes[-1].new, False,
                        "carla.acme")
    return IssueRecord(ticket, Journal("New", changes), changes[-1].at if changes else received)


def fill(store: HoursStore, config: Config, now: datetime, count: int,
         tracker: str = TRACKER) -> None:
    """`count` open issues and a year of time entries on the demo's customer projects."""
    store.put_many(tracker, [sample_record(n, config, now) for n in range(count)])
    store.set_mark(tracker, OWN_AUTHORS, json.dumps(["slabridge"]))
    entries = []
    for day in range(365):
        started = now - timedelta(days=day)
        if started.weekday() >= 5:
            continue
        for index, project in enumerate(("acme-shop", "globex", "initech")):
            if (day + index) % 3 == 0:
                entries.append(TimeEntry(
                    f"{day}-{index}", None, "sam.staff", started,
                    (1 + (day * 37 + index * 11) % 5) * 1800, now, project=project))
    store.replace_time_entries(tracker, entries)
