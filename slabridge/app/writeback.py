"""What the tracker made of slabridge's writes: fields an issue does not carry, values
it dropped (read back after each batch), an unused receipt field; each said once."""

from __future__ import annotations

from typing import Any

from slabridge.app.report import SyncReport
from slabridge.domain.model import Ticket
from slabridge.domain.plan import Decision, TicketUpdate, unwritable_key
from slabridge.errors import TrackerError, TrackerUnavailableError
from slabridge.ports import Tracker


def say_receipt_problem(ticket: Ticket, done: frozenset[str], report: SyncReport,
                    log: Any) -> frozenset[str]:
    """Report a receipt field that is not used, once per text (kept with the notes
    done, so a turn that fails, or an issue closed or unclassified meanwhile, does not
    count as told), and the done keys with it."""
    said = f"receipt-problem:{ticket.receipt_problem}"
    if said in done:
        return done
    report.problems.append(f"issue {ticket.key}: {ticket.receipt_problem}: its creation "
                           "time is used")
    log.warning("receipt_field_not_used", issue=ticket.key,
                      problem=ticket.receipt_problem)
    return done | {said}

def say_unavailable_fields(ticket: Ticket, decision: Decision, done: frozenset[str],
                       report: SyncReport, tracker: Tracker, log: Any) -> frozenset[str]:
    """Report, once per issue and field, a field the issue does not carry."""
    tracked = ticket.tracked_fields or frozenset()
    missing = [role for role in decision.desired_fields
               if role not in tracked and f"unavailable:{role}" not in done]
    if not missing:
        return done
    names = ", ".join(tracker.field_label(role) for role in missing)
    facts = ticket.facts
    report.problems.append(
        f"issue {ticket.key}: field {names} is not available on this issue (project "
        f"{facts.project}, tracker {facts.tracker}): enable it for the project and the "
        "tracker and make it visible to slabridge's role; the other fields are written")
    log.warning("fields_not_available", issue=ticket.key, fields=missing)
    return done | {f"unavailable:{role}" for role in missing}

def read_back_writes(updates: list[TicketUpdate], tracker: Tracker,
          retried: dict[str, frozenset[str]], report: SyncReport,
          log: Any) -> dict[str, tuple[dict[str, str], frozenset[str]]]:
    """What the tracker stored of the fields just written, and the done keys of the
    values it dropped (reported once: not sent again until the value changes or a full
    cycle tries again); a sprint move it dropped is reported too."""
    keys = [update.ticket_key for update in updates if update.fields or update.sprint]
    if not keys:
        return {}
    try:
        stored = tracker.read_back(keys)
    except (TrackerUnavailableError, TrackerError) as error:
        log.warning("fields_not_read_back", error=str(error))
        return {}
    found: dict[str, tuple[dict[str, str], frozenset[str]]] = {}
    for update in updates:
        ticket = stored.get(update.ticket_key)
        if ticket is None:
            continue
        if update.sprint is not None and ticket.sprint != update.sprint.id:
            report.problems.append(
                f"issue {update.ticket_key}: the tracker did not move it into sprint "
                f"{update.sprint.name}: the target version may be read-only for "
                "slabridge's role in the workflow, or not shared with the project; "
                "move it by hand")
            log.warning("sprint_move_dropped", issue=update.ticket_key,
                              sprint=update.sprint.name)
        dropped = {role: value for role, value in update.fields.items()
                   if ticket.sla_fields.get(role, "") != value}
        known = retried.get(update.ticket_key, frozenset())
        new_drops = [r for r, v in dropped.items() if unwritable_key(r, v) not in known]
        if new_drops:
            names = ", ".join(tracker.field_label(role) for role in new_drops)
            report.problems.append(
                f"issue {update.ticket_key}: the tracker did not store field {names}: "
                "it may be read-only for slabridge's role in the workflow, or the role "
                "lacks 'Edit issues'; sent again only when its value changes or in the "
                "next full cycle")
            log.warning("fields_dropped", issue=update.ticket_key,
                              fields=sorted(new_drops))
        elif dropped:
            log.info("fields_still_dropped", issue=update.ticket_key,
                           fields=sorted(dropped))
        found[update.ticket_key] = (
            dict(ticket.sla_fields),
            frozenset(unwritable_key(r, v) for r, v in dropped.items()))
    return found
