"""Plain records the core works on: classes of handling, SLA states, tickets and their history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Handling(StrEnum):
    """How an incident class is handled on a tier, as the contract sheet words it."""

    FASTLANE = "fastlane"
    """Fix at once if simple, else into the current sprint."""
    CURRENT_SPRINT = "current_sprint"
    """Into the current sprint as capacity allows."""
    JOINT_PLANNING = "joint_planning"
    """Fix at once if simple, else prioritised jointly in the next sprint planning."""
    NEXT_SPRINT = "next_sprint"
    """Next sprint as capacity allows."""


HANDLING_TEXT = {
    Handling.FASTLANE: "fix at once if simple, else into the current sprint (Fastlane)",
    Handling.CURRENT_SPRINT: "into the current sprint as capacity allows",
    Handling.JOINT_PLANNING: (
        "fix at once if simple, else prioritised jointly in the next sprint planning"
    ),
    Handling.NEXT_SPRINT: "next sprint as capacity allows",
}


class SlaStatus(StrEnum):
    """Where a ticket stands against its response target."""

    RUNNING = "running"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"
    PAUSED = "paused"
    NO_TARGET = "no_target"


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What classification rules may look at, tracker-neutral."""

    project: str
    tracker: str = ""
    priority: str = ""
    status: str = ""
    labels: frozenset[str] = frozenset()
    custom_fields: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A ticket's status changed at `at` (from and to are tracker status names)."""

    at: datetime
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Note:
    """A comment on a ticket."""

    at: datetime
    author: str
    public: bool = True


@dataclass(frozen=True, slots=True)
class ClassChange:
    """The incident class of a ticket became `new` at `at`."""

    at: datetime
    new: str


@dataclass(frozen=True, slots=True)
class TicketHistory:
    """What SLA evaluation needs of a ticket: receipt, status changes, notes, class changes."""

    received: datetime
    reporter: str
    initial_status: str
    status_changes: tuple[StatusChange, ...] = ()
    notes: tuple[Note, ...] = ()
    class_changes: tuple[ClassChange, ...] = ()
