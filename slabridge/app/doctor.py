"""`slabridge doctor`: what slabridge needs of the tracker, the checks' value and their output.

This module is pure: `needs_of` reads the configuration, `render_text` and `render_json`
format checks, and the helpers both trackers' checks share (`Unanswered`, `unreachable`,
`statement_targets`) make them. The checks themselves read the tracker (GET only) in
`slabridge/adapters/redmine/doctor.py` and `slabridge/adapters/jira/doctor.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slabridge.config.loader import Config
from slabridge.config.models import FieldNameSettings
from slabridge.domain.model import Handling


@dataclass(frozen=True, slots=True)
class Check:
    """One thing slabridge needs of the tracker, whether it holds, and what to do if not."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    hint: bool = False
    """advice only (e.g. what the API cannot show): never fails the run"""

    @property
    def failed(self) -> bool:
        """Whether this check makes doctor exit 1."""
        return not self.ok and not self.hint


@dataclass(frozen=True, slots=True)
class Needs:
    """What the configuration makes slabridge read and write in the tracker."""

    projects: tuple[str, ...]
    written_fields: Mapping[str, str] = field(default_factory=dict)
    """config role (e.g. sla_status) -> field name; empty on Jira: the issue property"""
    read_fields: tuple[str, ...] = ()
    """fields slabridge only reads: the receipt field and those the rules match on"""
    receipt_field: str | None = None
    moves_issues: bool = False
    """Fastlane (or standard_critical: move) puts issues into the current sprint"""
    adds_watchers: bool = False
    private_notes: bool = False
    """notes.private: Redmine needs 'Set notes as private', else its notes go public"""
    reassigns: bool = False
    post_to: Mapping[str, str] = field(default_factory=dict)
    """customer -> where its statement goes (hours.post_to)"""
    board_id: int | None = None
    field_lengths: Mapping[str, int] = field(default_factory=dict)
    """config role -> length of the longest value slabridge writes there"""


def needs_of(config: Config, rule_fields: Sequence[str] = ()) -> Needs:
    """What the loaded configuration needs of its tracker (which must be configured)."""
    settings = config.settings
    tracker = settings.tracker
    assert tracker is not None  # noqa: S101 - build_tracker has refused a config without one
    if tracker.fields is not None or tracker.kind == "redmine":
        # The metrics' fields too (`<metric>_due`, `<metric>_status`).
        names = (tracker.fields or FieldNameSettings()).roles()
        written = {role: name for role, name in names.items() if name}
    else:
        written = {}
    read = dict.fromkeys(rule_fields)
    if tracker.receipt_field:
        read[tracker.receipt_field] = None
    moves = any(
        terms.handling is Handling.FASTLANE or (
            terms.handling is Handling.CURRENT_SPRINT
            and settings.handling.standard_critical == "move")
        for tier in settings.tiers.values() for terms in tier.classes.values()
    )
    steps = [step for ladder in settings.escalation.ladders.values() for step in ladder]
    longest_class = max((len(name) for name in settings.classes), default=0)
    return Needs(
        projects=tracker.projects,
        written_fields=written,
        read_fields=tuple(name for name in read if name not in written.values()),
        receipt_field=tracker.receipt_field,
        moves_issues=moves,
        adds_watchers=any(step.watchers for step in steps),
        private_notes=settings.notes.private,
        reassigns=any(step.reassign for step in steps),
        post_to=dict(settings.hours.post_to),
        board_id=tracker.board_id,
        field_lengths={
            # ISO 8601 UTC to the second; the longest status and handling values.
            "response_due": len("2026-01-31T14:00:00Z"),
            "sla_class": longest_class,
            "sla_status": len("no_target"),
            "sla_handling": len("current_sprint_surcharge"),
            **{f"{metric}_{part}": len("2026-01-31T14:00:00Z" if part == "due" else "no_target")
               for metric in settings.sla.metrics for part in ("due", "status")},
        },
    )


class Unanswered(Exception):  # noqa: N818 - not an error the user sees: a check that failed
    """A request whose failure is already a failed check; the run stops there."""

    def __init__(self, check: Check) -> None:
        self.check = check
        super().__init__(check.name)


def unreachable(tracker: str, where: str, exc: Exception) -> Unanswered:
    """The stop of a run whose request to the tracker (Redmine, Jira) got no answer."""
    return Unanswered(Check(
        f"{tracker} reachable", False, f"{where}: {type(exc).__name__}: {exc}",
        "check tracker.url, the network and proxy (HTTPS_PROXY, NO_PROXY), and TLS "
        "(REQUESTS_CA_BUNDLE or tracker.verify_tls)"))


def statement_targets(needs: Needs, place: str) -> list[tuple[str, str]]:
    """(check title, target) of each place statements go to (hours.post_to), once per
    target with the customers it serves; `place` is what a target is (wiki, issue)."""
    customers: dict[str, list[str]] = {}
    for customer, target in needs.post_to.items():
        customers.setdefault(target, []).append(customer)
    return [(f"statement {place} {target!r} (hours.post_to of {', '.join(names)})", target)
            for target, names in customers.items()]


def failures(checks: Sequence[Check]) -> list[Check]:
    """The checks that make doctor exit 1."""
    return [check for check in checks if check.failed]


def _label(check: Check) -> str:
    if check.hint:
        return "hint"
    return "ok" if check.ok else "FAIL"


def render_text(checks: Sequence[Check]) -> str:
    """One line per check (`ok`, `FAIL` with what to do, or `hint`), then a summary line."""
    lines = []
    for check in checks:
        line = f"{_label(check):<4} {check.name}"
        if check.detail:
            line += f": {check.detail}"
        if check.fix and (check.hint or not check.ok):
            line += f" -> fix: {check.fix}"
        lines.append(line)
    failed = len(failures(checks))
    counted = sum(1 for check in checks if not check.hint)
    lines.append(f"doctor: {failed} of {counted} checks failed" if failed
                 else f"doctor: all {counted} checks passed")
    return "\n".join(lines)


def render_json(checks: Sequence[Check]) -> str:
    """The checks as a JSON list of objects (check, status, ok, detail, fix)."""
    return json.dumps([
        {"check": check.name, "status": _label(check).lower(), "ok": not check.failed,
         "detail": check.detail, "fix": check.fix if check.hint or not check.ok else ""}
        for check in checks
    ], indent=2, ensure_ascii=False)
