"""What a sync cycle reports: counts, problems, the issues no rule classified."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slabridge.domain.plan import Decision, TicketUpdate


@dataclass(frozen=True)
class Unclassified:
    """An open issue no rule classified, and why (named, not only counted)."""

    key: str
    subject: str
    project: str
    reason: str

    @classmethod
    def of(cls, decision: Decision) -> Unclassified:
        """The unclassified decision's issue, its reason with the facts rules look at."""
        ticket = decision.ticket
        facts = ticket.facts
        return cls(ticket.key, ticket.subject, facts.project,
                   f"{decision.reason} (project {facts.project}, tracker {facts.tracker}, "
                   f"priority {facts.priority})")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"issue": self.key, "subject": self.subject, "project": self.project,
                "reason": self.reason}


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
