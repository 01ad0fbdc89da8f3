"""Deciding per ticket: classification, evaluation, and the one update (fields + note) it needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from datetime import UTC, date, datetime, timedelta, tzinfo

from slabridge.domain.annotations import NoteTemplates
from slabridge.domain.classify import Classification, Classifier, Rule
from slabridge.domain.contracts import Contract, Tier, contract_day
from slabridge.domain.escalation import Escalations, Step, due_step, step_key
from slabridge.domain.metrics import RESPONSE, MetricDefinition, MetricEvaluation, evaluate_metric
from slabridge.domain.model import (
    HANDLING_TEXT,
    ClassChange,
    FieldRole,
    Handling,
    IssueRecord,
    Journal,
    SlaStatus,
    Sprint,
    Ticket,
    TicketHistory,
)
from slabridge.domain.sla import Evaluation, SlaPolicy, evaluate
from slabridge.domain.values import value

NOTED_STATUSES = (SlaStatus.AT_RISK, SlaStatus.BREACHED, SlaStatus.MET)

# The field roles as plain strings: an enum's .value is a property lookup, per ticket.
RESPONSE_DUE = FieldRole.RESPONSE_DUE.value
RESPONSE_DUE_DATE = FieldRole.RESPONSE_DUE_DATE.value
SLA_CLASS = FieldRole.SLA_CLASS.value
SLA_STATUS = FieldRole.SLA_STATUS.value
SLA_HANDLING = FieldRole.SLA_HANDLING.value


@value
class Rules:
    """Everything the decision needs from configuration, as plain values and functions."""

    customer_rules: Sequence[Rule]
    class_rules: Sequence[Rule]
    tier_for: Callable[[str, date], Tier]
    customer_names: Mapping[str, str]
    class_labels: Mapping[str, str]
    policy: SlaPolicy
    templates: NoteTemplates
    ignored_authors: frozenset[str] = frozenset()
    contract_for: Callable[[str, date], Contract | None] = lambda customer, day: None
    contract_zone: tzinfo = UTC
    """Contracts' from and to are days in this zone (a receipt at 00:30 local time on a
    contract's first day is under that contract, though still the day before in UTC)."""
    escalations: Escalations | None = None
    standard_critical: str = "mark"
    """Critical on a tier whose handling is current_sprint: "move" into it, or "mark"."""
    emergency_classes: frozenset[str] = frozenset()
    """Classes whose incidents are emergencies (classes.<name>.emergency): outside service
    hours they count against the contract's emergency tickets and escalate at once."""
    on_call_channel: str | None = None
    """Channel for emergency escalations outside service hours on 24/7 contracts."""
    metrics: tuple[MetricDefinition, ...] = ()
    """Configured metrics beyond the response (sla.metrics), each a clock of its own."""
    metric_labels: Mapping[str, str] = field(default_factory=dict)
    """How the notes name each metric (its label in the notes' language, else its name)."""
    metric_roles: frozenset[str] = frozenset()
    """The metric field roles the tracker stores (`<metric>_due`, `<metric>_status`)."""
    terms_changed: bool = False
    """The contract terms changed since the last cycle (a reload): a due time that moves
    because of them is noted, not only written to the fields."""
    classifier: Classifier = field(init=False, repr=False, compare=False)
    """classify() with the two rule lists, remembering outcomes (made anew with the rules)."""

    _note_basics: dict[tuple[str, str, int], tuple[Tier, dict[str, str]]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classifier", Classifier(self.customer_rules, self.class_rules))
        object.__setattr__(self, "_note_basics", {})

    def contract_day(self, instant: datetime) -> date:
        """The day of `instant` as contracts count days (see contract_zone)."""
        return contract_day(instant, self.contract_zone)

    def note_basics(self, customer: str, incident_class: str, tier: Tier) -> dict[str, str]:
        """The note values that depend only on customer, class and tier (remembered)."""
        key = (customer, incident_class, id(tier))  # the tier is kept, so its id stays its own
        found = self._note_basics.get(key)
        if found is None:
            terms = tier.classes[incident_class]
            found = self._note_basics[key] = (tier, {
                "customer": self.customer_names.get(customer, customer),
                "tier": tier.label,
                "class": self.class_labels.get(incident_class, incident_class),
                "class_key": incident_class,
                "target": str(terms.response or "-"),
                "handling": self.templates.handling.get(terms.handling.value,
                                                        HANDLING_TEXT[terms.handling]),
            })
        return found[1]


HANDLING_MARK = {
    Handling.FASTLANE: "fastlane",
    Handling.CURRENT_SPRINT: "current_sprint",
    Handling.JOINT_PLANNING: "joint_planning",
    Handling.NEXT_SPRINT: "next_sprint",
}
SURCHARGE_MARK = "current_sprint_surcharge"
STATUS_WORDS = {status: status.value.replace("_", " ") for status in SlaStatus}


@value
class Notification:
    """A message to a configured channel (e-mail, webhook), sent exactly once per key."""

    channel: str
    key: str
    ticket_key: str
    subject: str
    text: str
    url: str = ""
    """The issue in the tracker (filled in by the service, which knows the tracker)."""


@value
class Context:
    """Facts from outside the ticket that the decision needs, gathered by the service."""

    current_sprint: Sprint | None = None
    emergency: tuple[int, int] | None = None
    """(this ticket's number among the month's emergency tickets, the contract's quota)."""


NO_CONTEXT = Context()


@value
class Needs:
    """What one ticket's decision needs from outside the ticket and its record (needs_of):
    the shell gathers it once, then the decision runs once."""

    journal: bool = False
    """An up-to-date journal: the response is only seen there."""
    sprint: bool = False
    """The current sprint: the ticket goes into it."""
    emergency_count: bool = False
    """The ticket's number among its customer's emergency tickets of the month."""


NO_NEEDS = Needs()


@value
class TicketUpdate:
    """One write to one ticket: changed fields, at most one note, and escalation actions."""

    ticket_key: str
    fields: Mapping[str, str]
    note: str | None = None
    note_keys: tuple[str, ...] = ()
    all_fields: Mapping[str, str] = field(default_factory=dict)
    """Every field's desired value, for trackers that store them as one document."""
    sprint: Sprint | None = None
    watchers: tuple[str, ...] = ()
    assignee: str | None = None
    priority: str | None = None
    mentions: tuple[str, ...] = ()
    notifications: tuple[Notification, ...] = ()
    superseded: tuple[str, ...] = ()
    """Keys of notifications of a lower step never delivered, given up for this step's."""

    @property
    def empty(self) -> bool:
        """Nothing to write."""
        return not (self.writes_tracker or self.notifications)

    @property
    def writes_tracker(self) -> bool:
        """Whether the tracker is written to (not only notification channels)."""
        return bool(self.fields or self.note or self.sprint or self.watchers or self.assignee
                    or self.priority)


@value
class Decision:
    """The outcome for one ticket in one cycle."""

    ticket: Ticket
    classification: Classification
    class_changes: tuple[ClassChange, ...] = ()
    tier: Tier | None = None
    evaluation: Evaluation | None = None
    update: TicketUpdate | None = None
    reason: str = ""
    """Why nothing is evaluated (unclassified), or empty."""
    desired_fields: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, MetricEvaluation] = field(default_factory=dict)
    """The configured metrics beyond the response, by name."""

    @property
    def classified(self) -> bool:
        """Whether the ticket has both a customer and a class."""
        return self.evaluation is not None


def format_local(instant: datetime | None, tier: Tier) -> str:
    """A due time as people read it in the tier's zone, e.g. 2026-11-23 11:00 CET."""
    if instant is None:
        return "-"
    # Not strftime: with %Z it costs several microseconds, three times a note.
    local = instant.astimezone(tier.calendar.zone)
    return f"{local.isoformat(' ', 'minutes')[:16]} {local.tzname()}"


def utc_text(instant: datetime) -> str:
    """ISO 8601 UTC with Z, the format of the response-due text field."""
    return instant.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def _class_changes(record: IssueRecord | None, incident_class: str, at: datetime) -> tuple[
    ClassChange, ...
]:
    known = record.class_changes if record is not None else ()
    if not known:
        return (ClassChange(at, incident_class),)
    if known[-1].new != incident_class:
        return (*known, ClassChange(at, incident_class))
    return known


def needs_of(ticket: Ticket, record: IssueRecord | None, rules: Rules) -> Needs:
    """What deciding `ticket` needs from outside it and its record, asked before the one
    decision: its journal (only there is a response seen), the current sprint, the
    emergency count.

    Judged on the record's journal: a fresher one can only settle more (a note slabridge
    wrote), so what is gathered here may go unused but is never missing.
    """
    if ticket.closed:
        return NO_NEEDS  # evaluated, never written: history only
    classification = rules.classifier(ticket.facts)
    customer, incident_class = classification.customer, classification.incident_class
    if customer is None or incident_class is None:
        return NO_NEEDS
    contract_day = rules.contract_day(ticket.received)
    tier = rules.tier_for(customer, contract_day)
    done = _done(record, record.journal if record else None)
    contract = (rules.contract_for(customer, contract_day)
                if incident_class in rules.emergency_classes else None)
    return Needs(
        journal=(tier.response_target(incident_class) is not None
                 and (record is None or record.accepted_at is None)),
        sprint=_wants_sprint(ticket, customer, incident_class, tier, done, rules),
        emergency_count=(
            contract is not None and contract.emergency_tickets > 0
            and f"classified:{customer}:{incident_class}" not in done
            and not tier.calendar.is_open(ticket.received)),
    )


def decide(
    ticket: Ticket,
    journal: Journal | None,
    record: IssueRecord | None,
    rules: Rules,
    now: datetime,
    context: Context = NO_CONTEXT,
) -> Decision:
    """Assess `ticket` and plan the update that brings the tracker up to date, in one pass
    over what the shell gathered (see needs_of).

    Closed tickets are assessed but never written to: slabridge does not annotate history.
    """
    assessment = assess(ticket, journal, record, rules, now)
    if assessment.evaluation is None or ticket.closed:
        return assessment
    update = plan(assessment, journal, record, rules, now, context)
    if update is None:
        return assessment
    a = assessment  # all fields: replace() costs three times as much, per ticket
    return Decision(a.ticket, a.classification, a.class_changes, a.tier, a.evaluation, update,
                    a.reason, a.desired_fields, a.metrics)


def assess(
    ticket: Ticket, journal: Journal | None, record: IssueRecord | None, rules: Rules,
    now: datetime,
) -> Decision:
    """Classify and evaluate `ticket` as of `now`: what the board, explain and the
    statements need, and what the plan builds on (a Decision without an update)."""
    classification = rules.classifier(ticket.facts)
    if classification.customer is None:
        return Decision(ticket, classification, reason="no customer rule matched")
    if classification.incident_class is None:
        return Decision(ticket, classification, reason="no class rule matched")
    incident_class = classification.incident_class
    received = ticket.received
    tier = rules.tier_for(classification.customer, rules.contract_day(received))
    changes = _class_changes(record, incident_class, ticket.updated)
    journal = journal or Journal(ticket.status)
    history = TicketHistory(
        received, ticket.reporter, journal.initial_status, journal.status_changes,
        tuple(n for n in journal.notes if n.author not in rules.ignored_authors)
        if journal.notes else (),
        changes[1:],
    )
    evaluation = evaluate(history, changes[0].new, tier, rules.policy, now)
    # While paused, evaluation.due moves on with every minute of the pause: written each
    # cycle it would add a journal entry each cycle. The tracker gets the due time as the
    # pause began (for the current class, receipt and tier), and the later one once the
    # pause ends.
    due = evaluation.written_due
    desired = {
        RESPONSE_DUE: utc_text(due) if due else "",
        RESPONSE_DUE_DATE: (
            due.astimezone(tier.calendar.zone).date().isoformat() if due else ""
        ),
        SLA_CLASS: incident_class,
        SLA_STATUS: evaluation.status.value,
        SLA_HANDLING: _handling_mark(tier, incident_class, rules),
    }
    if not rules.metrics:
        return Decision(ticket, classification, changes, tier, evaluation,
                        desired_fields=desired)
    metrics = {
        definition.name: evaluate_metric(
            history, definition, tier.metric_target(incident_class, definition.name),
            tier.calendar, now, pause_statuses=rules.policy.pause_statuses,
            at_risk_fraction=rules.policy.at_risk_fraction)
        for definition in rules.metrics}
    for name, metric in metrics.items():
        due = metric.written_due
        for role, text in ((f"{name}_due", utc_text(due) if due else ""),
                           (f"{name}_status", metric.status.value)):
            if role in rules.metric_roles:
                desired[role] = text
    return Decision(ticket, classification, changes, tier, evaluation,
                    desired_fields=desired, metrics=metrics)


def plan(
    assessment: Decision, journal: Journal | None, record: IssueRecord | None, rules: Rules,
    now: datetime, context: Context = NO_CONTEXT,
) -> TicketUpdate | None:
    """The one update an open, classified ticket needs: changed fields, at most one note,
    the sprint move and the escalation step due (None: nothing to write or send)."""
    ticket, tier, evaluation = assessment.ticket, assessment.tier, assessment.evaluation
    customer = assessment.classification.customer
    incident_class = assessment.classification.incident_class
    assert tier is not None and evaluation is not None  # noqa: S101 - assessed, classified
    assert customer is not None and incident_class is not None  # noqa: S101
    desired = assessment.desired_fields
    done = _done(record, journal)
    contract_day = rules.contract_day(ticket.received)
    # Only emergencies and escalations need the contract itself (not just the tier).
    contract = (rules.contract_for(customer, contract_day)
                if incident_class in rules.emergency_classes or rules.escalations is not None
                else None)
    classified_key = f"classified:{customer}:{incident_class}"
    tracked = ticket.tracked_fields
    fields = {role: value for role, value in desired.items()
              if (tracked is None or role in tracked) and ticket.sla_fields.get(role, "") != value
              and unwritable_key(role, value) not in done}
    note, keys = _note(ticket, customer, incident_class, tier, evaluation, done, rules)
    if note is None and rules.terms_changed and ticket.sla_fields.get(RESPONSE_DUE) \
            and RESPONSE_DUE in fields and evaluation.accepted_at is None:
        # (An answered issue's due time is history: the field follows, no note.)
        note, keys = _due_moved_note(ticket, customer, incident_class, tier, evaluation,
                                     fields[RESPONSE_DUE], done, rules)
    extra: list[str] = []
    for line, key in _metric_events(customer, incident_class, tier, assessment.metrics, done,
                                    rules):
        extra.append(line)
        keys = (*keys, key)
    if note is not None and context.emergency is not None and classified_key in keys:
        number, quota = context.emergency
        template = "emergency_over" if number > quota else "emergency"
        extra.append(rules.templates.line(template, {"number": str(number), "quota": str(quota)}))
    sprint = None
    if (context.current_sprint is not None
            and _wants_sprint(ticket, customer, incident_class, tier, done, rules)):
        sprint = context.current_sprint
        keys = (*keys, f"sprint:{customer}:{incident_class}")
        extra.append(rules.templates.line("moved_to_sprint", {"sprint": sprint.name}))
    escalation = _escalation(ticket, customer, incident_class, tier, evaluation,
                             assessment.metrics, contract, done, rules, now)
    if escalation is not None:
        extra.append(escalation[0])
        keys = (*keys, *escalation[1])
    note = _join_note(note, extra, keys, rules)
    unconfirmed = _unconfirmed_notifications(ticket, customer, incident_class, tier,
                                             evaluation, contract, done, rules, now)
    update = TicketUpdate(
        ticket.key, fields, note, keys, desired, sprint=sprint,
        watchers=escalation[2].watchers if escalation else (),
        assignee=escalation[2].reassign if escalation else None,
        priority=escalation[2].raise_priority if escalation else None,
        mentions=escalation[2].mention if escalation else (),
        notifications=_notifications(ticket, customer, incident_class, tier, evaluation,
                                     contract, escalation, rules, now) if escalation else
        unconfirmed,
        # A lower step's message still undelivered when a higher step comes is given up
        # (an at-risk alarm after the breach is noise), and said so.
        superseded=tuple(n.key for n in unconfirmed) if escalation else (),
    )
    return None if update.empty else update


def _done(record: IssueRecord | None, journal: Journal | None) -> frozenset[str]:
    """What slabridge has done on the ticket: the record's keys and its notes' markers."""
    own = journal.own_note_keys if journal else frozenset()
    return record.done_keys | own if record else own


def _wants_sprint(ticket: Ticket, customer: str, incident_class: str, tier: Tier,
                  done: frozenset[str], rules: Rules) -> bool:
    """The ticket should go into the current sprint, is in none and was never moved."""
    return (not ticket.closed and ticket.sprint is None
            and f"sprint:{customer}:{incident_class}" not in done
            and _moves_into_sprint(tier, incident_class, rules))


def _note(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier,
    evaluation: Evaluation, done: frozenset[str], rules: Rules,
) -> tuple[str | None, tuple[str, ...]]:
    status = evaluation.status
    classified_key = f"classified:{customer}:{incident_class}"
    status_key = f"{customer}:{incident_class}:{status.value}"
    if classified_key in done and (status not in NOTED_STATUSES or status_key in done):
        return None, ()  # the common steady case: nothing to say, nothing to format
    values = {
        **rules.note_basics(customer, incident_class, tier),
        "due": format_local(evaluation.written_due, tier),
        "received": format_local(ticket.received, tier),
        "status": status_word(status, rules.templates),
        "used_percent": (
            f"{evaluation.used_fraction:.0%}" if evaluation.used_fraction is not None else "-"
        ),
        "accepted": format_local(evaluation.accepted_at, tier),
        "acceptance": _acceptance_words(evaluation, rules.templates),
    }
    if classified_key not in done:
        kind = "classified" if evaluation.due is not None else "classified_no_target"
        keys = [classified_key]
        if status in NOTED_STATUSES:
            # Seen for the first time already at risk, breached or met: one note says both.
            kind += "_" + status.value
            keys.append(status_key)
        return rules.templates.render(kind, values, tuple(keys)), tuple(keys)
    if status in NOTED_STATUSES and status_key not in done:
        return rules.templates.render(status.value, values, (status_key,)), (status_key,)
    return None, ()


DUE_MOVED_TEXT = ("*SLA:* the response is now due by *{due}* ({target} of service time "
                  "from {received}): the contract terms changed.")


def _due_moved_note(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier, evaluation: Evaluation,
    due_text: str, done: frozenset[str], rules: Rules,
) -> tuple[str | None, tuple[str, ...]]:
    """The note for a due time moved by changed terms, once per new due time."""
    key = f"due-moved:{customer}:{incident_class}:{due_text}"
    if key in done:
        return None, ()
    values = {**rules.note_basics(customer, incident_class, tier),
              "due": format_local(evaluation.written_due, tier),
              "received": format_local(ticket.received, tier)}
    text = rules.templates.word("due_moved", DUE_MOVED_TEXT.format_map(values), **values)
    return rules.templates.finish(text, (key,)), (key,)


UNWRITABLE = "unwritable:"


def unwritable_key(role: str, value: str) -> str:
    """The done key that says the tracker dropped `value` for `role` when it was written:
    it is not sent again until the value slabridge wants changes (or a full cycle)."""
    return f"{UNWRITABLE}{role}={value}"


METRIC_EVENT_TEXT = {
    SlaStatus.AT_RISK: "*SLA {metric} at risk:* due by *{due}* ({target} of service time).",
    SlaStatus.BREACHED: "*SLA {metric} breached:* it was due by *{due}* ({target} of "
                        "service time).",
    SlaStatus.MET: "*SLA {metric} met:* {stopped}, due by {due}.",
}


def _metric_events(
    customer: str, incident_class: str, tier: Tier, metrics: Mapping[str, MetricEvaluation],
    done: frozenset[str], rules: Rules,
) -> list[tuple[str, str]]:
    """A line and its key for each metric's event (at risk, breached, met) not yet noted:
    each at most once per issue (`metric:<customer>:<class>:<metric>:<status>`)."""
    events = []
    for name, metric in metrics.items():
        if metric.status not in METRIC_EVENT_TEXT:
            continue
        key = f"metric:{customer}:{incident_class}:{name}:{metric.status.value}"
        if key in done:
            continue
        values = {"metric": rules.metric_labels.get(name, name),
                  "due": format_local(metric.written_due, tier),
                  "target": _service_time(metric.target),
                  "stopped": format_local(metric.stopped_at, tier)}
        english = METRIC_EVENT_TEXT[metric.status].format(**values)
        events.append((rules.templates.word(f"metric_{metric.status.value}", english,
                                            **values), key))
    return events


def _service_time(length: timedelta | None) -> str:
    """A target as people read it: 14h, 90m."""
    if length is None:
        return "-"
    minutes = int(length.total_seconds()) // 60
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def status_word(status: SlaStatus, templates: NoteTemplates) -> str:
    """The SLA status as the notes' language says it (template `status_<value>`)."""
    return templates.word(f"status_{status.value}", STATUS_WORDS[status])


def _acceptance_words(evaluation: Evaluation, templates: NoteTemplates) -> str:
    accepted = evaluation.accepted_by
    if accepted is None:
        return "-"
    if accepted.kind == "status":
        return templates.word("accepted_by_status", accepted.describe(), status=accepted.detail)
    return templates.word("accepted_by_note", accepted.describe(), author=accepted.detail)


def _handling_mark(tier: Tier, incident_class: str, rules: Rules) -> str:
    handling = tier.classes[incident_class].handling
    if handling is Handling.CURRENT_SPRINT and tier.billing.critical_current_sprint_surcharge:
        return SURCHARGE_MARK
    return HANDLING_MARK[handling]


def _moves_into_sprint(tier: Tier, incident_class: str, rules: Rules) -> bool:
    handling = tier.classes[incident_class].handling
    return handling is Handling.FASTLANE or (
        handling is Handling.CURRENT_SPRINT and rules.standard_critical == "move"
    )


def _escalation(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier, evaluation: Evaluation,
    metrics: Mapping[str, MetricEvaluation], contract: Contract | None, done: frozenset[str],
    rules: Rules, now: datetime,
) -> tuple[str, tuple[str, ...], Step] | None:
    if rules.escalations is None:
        return None
    found = rules.escalations.ladder_for(tier.name, incident_class)
    if found is None:
        return None
    ladder, steps = found
    keys = {s.name: step_key(customer, incident_class, ladder, s) for s in steps}
    clocks: dict[str, tuple[SlaStatus, datetime | None]] = {
        RESPONSE: (evaluation.status, evaluation.due),
        **{name: (m.status, m.due) for name, m in metrics.items()}}
    step, passed = due_step(steps, {name: clock[0] for name, clock in clocks.items()}, keys,
                            done)
    if step is None:
        return None
    if incident_class not in rules.emergency_classes and not tier.calendar.is_open(now):
        return None  # other escalations wait for the tier's service hours
    mentions = " ".join(f"@{person}" for person in step.mention)
    status, due = clocks.get(step.metric, clocks[RESPONSE])
    text = rules.templates.line("escalation", {
        "step": step.name, "mentions": mentions,
        "status": status_word(status, rules.templates)
        + ("" if step.metric == RESPONSE
           else f" ({rules.metric_labels.get(step.metric, step.metric)})"),
        "due": format_local(due, tier),
    })
    return text, (*passed, keys[step.name]), step


def _unconfirmed_notifications(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier, evaluation: Evaluation,
    contract: Contract | None, done: frozenset[str], rules: Rules, now: datetime,
) -> tuple[Notification, ...]:
    """The notifications of the last step taken that a channel has not confirmed: a channel
    that failed is tried again (each still exactly once), the note is not written again."""
    if rules.escalations is None:
        return ()
    found = rules.escalations.ladder_for(tier.name, incident_class)
    if found is None:
        return ()
    ladder, steps = found
    taken = [(step, key) for step in steps
             if (key := step_key(customer, incident_class, ladder, step)) in done]
    if not taken:
        return ()
    step, key = taken[-1]
    if not step.notify or (incident_class not in rules.emergency_classes
                           and not tier.calendar.is_open(now)):
        return ()
    sent = _notifications(ticket, customer, incident_class, tier, evaluation, contract,
                          ("", (key,), step), rules, now)
    # The step's own channels only: the on-call channel depends on the hour it was taken.
    return tuple(n for n in sent if n.key not in done and n.channel in step.notify)


def _notifications(
    ticket: Ticket, customer: str, incident_class: str, tier: Tier, evaluation: Evaluation,
    contract: Contract | None, escalation: tuple[str, tuple[str, ...], Step] | None,
    rules: Rules, now: datetime,
) -> tuple[Notification, ...]:
    if escalation is None:
        return ()
    _, keys, step = escalation
    channels = list(step.notify)
    after_hours = not tier.calendar.is_open(now)
    if (after_hours and incident_class in rules.emergency_classes and contract is not None
            and contract.reachability_24x7 and rules.on_call_channel):
        channels.append(rules.on_call_channel)
    subject = (f"[SLA {evaluation.status.value.replace('_', ' ')}] {ticket.key} "
               f"{rules.customer_names.get(customer, customer)}: {ticket.subject}")
    text = (f"{ticket.subject}\nIssue {ticket.key}, {incident_class} on {tier.label}.\n"
            f"Response due {format_local(evaluation.due, tier)}; status "
            f"{evaluation.status.value}. Escalation step: {step.name}.")
    return tuple(
        Notification(channel, f"notified:{keys[-1]}:{channel}", ticket.key, subject, text)
        for channel in dict.fromkeys(channels)
    )


def _join_note(note: str | None, extra: list[str], keys: tuple[str, ...],
               rules: Rules) -> str | None:
    if not extra:
        return note
    body = note.rsplit("\n\n[slabridge ", 1)[0] if note else ""
    text = "\n\n".join(part for part in (body, *extra) if part)
    return rules.templates.finish(text, keys)


def next_check(decision: Decision, rules: Rules) -> datetime | None:
    """When time alone next changes the ticket's SLA status: at risk, then due.

    Running and paused tickets are looked at again then (paused ones every cycle, since
    the pause ends with a status change); settled ones only when the tracker changes them.
    """
    evaluation, tier = decision.evaluation, decision.tier
    if evaluation is None or tier is None or decision.ticket.closed:
        return None
    if evaluation.status is SlaStatus.PAUSED:
        return decision.ticket.updated
    if evaluation.status not in (SlaStatus.RUNNING, SlaStatus.AT_RISK):
        return None
    due = evaluation.due
    if due is None or evaluation.target is None:
        return None
    if evaluation.status is SlaStatus.RUNNING:
        # Pauses only move this later: looking a little early is harmless.
        at_risk = tier.calendar.add(decision.ticket.received,
                                    evaluation.target * rules.policy.at_risk_fraction)
        return min(at_risk, due)
    # Just after the due time the ticket is breached; look then.
    return due + timedelta(seconds=1)


