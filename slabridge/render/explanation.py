"""Rendering an explanation of an issue's SLA as JSON-ready data and as text."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from slabridge.app.explain import Explanation
from slabridge.domain.metrics import MetricEvaluation


def _iso(value: datetime | None, zone: tzinfo | None = None) -> str | None:
    """ISO 8601 to the second, in `zone` if given (the tier's: all times of one issue
    are shown in one zone)."""
    if value is None:
        return None
    return (value.astimezone(zone) if zone else value).isoformat(timespec="seconds")


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value / timedelta(hours=1), 4)


def explanation_dict(explanation: Explanation) -> dict[str, Any]:
    """Everything `slabridge explain --json` prints."""
    decision = explanation.decision
    ticket = decision.ticket
    classification = decision.classification
    data: dict[str, Any] = {
        "issue": ticket.key,
        "subject": ticket.subject,
        "project": ticket.facts.project,
        "tracker": ticket.facts.tracker,
        "priority": ticket.facts.priority,
        "status": ticket.status,
        "closed": ticket.closed,
        "customer": classification.customer,
        "customer_rule": None if classification.customer_rule is None else {
            "name": classification.customer_rule.name,
            "match": classification.customer_rule.match.describe(),
        },
        "class": classification.incident_class,
        "class_rule": None if classification.class_rule is None else {
            "name": classification.class_rule.name,
            "match": classification.class_rule.match.describe(),
        },
        "classified": decision.evaluation is not None,
        "reason": decision.reason or None,
        "received": _iso(ticket.received),
        "received_from": explanation.receipt_source,
        "fields_in_tracker": explanation.fields_in_tracker,
    }
    evaluation, tier = decision.evaluation, decision.tier
    if evaluation is None or tier is None:
        return data
    zone = tier.calendar.zone
    contract = explanation.contract
    data["received"] = _iso(ticket.received, zone)
    data.update({
        "contract": None if contract is None else {
            "tier": contract.tier, "from": contract.start.isoformat(),
            "to": contract.end.isoformat() if contract.end else None,
        },
        "tier": tier.name,
        "tier_label": tier.label,
        "timezone": tier.calendar.timezone,
        "observes_closures": tier.observes_closures,
        "effective_class": evaluation.incident_class,
        "target": None if tier.classes[evaluation.incident_class].response is None
        else str(tier.classes[evaluation.incident_class].response),
        "target_service_hours": _hours(evaluation.target),
        "response_due": _iso(evaluation.due, zone),
        # While paused the tracker is given the due time as the pause began (it does not
        # move each minute); response_due is the one if the pause ended now.
        "response_due_in_tracker": _iso(evaluation.written_due, zone),
        "sla_status": evaluation.status.value,
        "service_time_used_hours": _hours(evaluation.used),
        "service_time_left_hours": _hours(evaluation.remaining),
        "accepted_at": _iso(evaluation.accepted_at, zone),
        "acceptance": evaluation.acceptance,
        "closed_periods": [
            {"from": _iso(p.start, zone), "to": _iso(p.end, zone), "reasons": list(p.reasons)}
            for p in explanation.closed_periods
        ],
        "pauses": [
            {"from": _iso(p.start, zone), "to": _iso(p.end, zone), "ongoing": p.ongoing}
            for p in evaluation.pauses
        ],
        "reclassifications": [
            {"at": _iso(r.at, zone), "from": r.old, "to": r.new,
             "old_target_hours": _hours(r.old_target), "new_target_hours": _hours(r.new_target)}
            for r in evaluation.reclassifications
        ],
        "desired_fields": dict(decision.desired_fields),
        "metrics": {name: metric_dict(m, zone) for name, m in decision.metrics.items()},
    })
    return data


def metric_dict(metric: MetricEvaluation, zone: tzinfo | None = None) -> dict[str, Any]:
    """One metric's clock as `status --json` and `explain --json` give it."""
    return {
        "due": _iso(metric.due, zone),
        "due_in_tracker": _iso(metric.written_due, zone),
        "status": metric.status.value,
        "target_service_hours": _hours(metric.target),
        "service_time_used_hours": _hours(metric.used),
        "service_time_left_hours": _hours(metric.remaining),
        "started": _iso(metric.started, zone),
        "stopped_at": _iso(metric.stopped_at, zone),
        "reopened": metric.reopened,
        "pauses": [{"from": _iso(p.start, zone), "to": _iso(p.end, zone), "ongoing": p.ongoing}
                   for p in metric.pauses],
    }


def _metric_story(name: str, metric: dict[str, Any]) -> str:
    """One line telling a metric's clock: target, start, pauses, stop, status."""
    if metric["target_service_hours"] is None:
        return f"Metric {name}: no target agreed for this class"
    story = (f"Metric {name}: {metric['target_service_hours']:g} service hours from "
             f"{metric['started']}"
             + (f" (reopened {metric['reopened']} time(s))" if metric["reopened"] else ""))
    paused = len(metric["pauses"])
    if paused:
        story += f", {paused} period(s) not counted (waiting or stopped before a reopen)"
    if metric["stopped_at"]:
        story += f"; stopped {metric['stopped_at']}"
    story += (f"; due {metric['due']}; {metric['status']} (used "
              f"{metric['service_time_used_hours']:g} h)")
    return story


def explanation_text(data: dict[str, Any]) -> str:
    """The human-readable form of `explanation_dict`."""
    lines = [f"Issue #{data['issue']}: {data['subject']}",
             f"  project {data['project']}, tracker {data['tracker']}, priority "
             f"{data['priority']}, status {data['status']}"]
    if data["customer_rule"]:
        rule = data["customer_rule"]
        lines.append(f"Customer: {data['customer']} (rule {rule['name']!r}: {rule['match']})")
    if data["class_rule"]:
        rule = data["class_rule"]
        lines.append(f"Class: {data['class']} (rule {rule['name']!r}: {rule['match']})")
    if not data["classified"]:
        lines.append(f"Unclassified: {data['reason']}. slabridge writes nothing to this issue.")
        return "\n".join(lines)
    contract = data["contract"]
    lines += [
        (f"Contract: tier {data['tier']} ({data['tier_label']}), in force from "
         f"{contract['from']}{' to ' + contract['to'] if contract['to'] else ''}"
         if contract else
         f"Contract: none in force on the day of receipt, so the default tier {data['tier']} "
         f"({data['tier_label']})")
        + f"; service hours in {data['timezone']}, company closures "
        f"{'observed' if data['observes_closures'] else 'not observed'}",
        f"Received: {data['received']} (from {data['received_from']})",
        f"Target: {data['target'] or 'none agreed'}"
        + (f" = {data['target_service_hours']:g} service hours"
           if data["target_service_hours"] is not None else ""),
        f"Response due: {data['response_due'] or '-'}"
        + (f" if the pause ended now (the tracker shows {data['response_due_in_tracker']}, "
           "the due time as the pause began, until it ends)"
           if data["response_due_in_tracker"] != data["response_due"] else ""),
        f"SLA status: {data['sla_status']} (used {data['service_time_used_hours']:g} h"
        + (f", left {data['service_time_left_hours']:g} h" if data["service_time_left_hours"]
           is not None else "") + ")",
    ]
    if data["accepted_at"]:
        lines.append(f"Accepted: {data['accepted_at']} ({data['acceptance']})")
    for change in data["reclassifications"]:
        lines.append(f"Reclassified at {change['at']}: {change['from']} -> {change['to']} "
                     "(target recomputed from the original receipt time)")
    for pause in data["pauses"]:
        lines.append(f"Paused {pause['from']} - {pause['to']}"
                     + (" (ongoing)" if pause["ongoing"] else ""))
    for name, metric in data.get("metrics", {}).items():
        lines.append(_metric_story(name, metric))
    if data["closed_periods"]:
        lines.append("Closed periods skipped:")
        for period in data["closed_periods"]:
            lines.append(f"  {period['from']} - {period['to']}: {', '.join(period['reasons'])}")
    return "\n".join(lines)
