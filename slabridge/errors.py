"""slabridge's own error tree; every expected failure is one of these.

    SlabridgeError              expected failure: one line for the user, exit 1
    ├── UsageError              bad command-line input: exit 2
    ├── ConfigError             bad configuration (carries file, line, dotted path): exit 2
    └── TrackerError            the tracker failed us
        ├── TrackerAuthError    credentials rejected: stop the run
        ├── TrackerUnavailableError  5xx, timeouts, connection errors: retry later
        ├── IssueError          one issue cannot be read or written (403, 404, 422)
        └── SprintUnavailableError  no sprint can take Fastlane issues in a project (a reason)
    NotificationError           an e-mail or webhook could not be delivered: retried next cycle

Anything else reaching the top is a bug: it gets a traceback in the log and exit 3.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


def running_user() -> str:
    """The account this process runs as, for messages about file permissions."""
    uid = os.getuid()
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


class SlabridgeError(Exception):
    """An expected failure with a message meant for the user."""

    exit_code = 1
    hint = ""
    """what to do next, shown by the CLI below the message"""


class UsageError(SlabridgeError):
    """The command line asked for something impossible."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One mistake in the configuration and where it is."""

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        at = f" at {self.path}" if self.path else ""
        return f"{where}:{at}: {self.message}" if at else f"{where}: {self.message}"


class ConfigError(SlabridgeError):
    """The configuration is invalid; lists every problem found."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class TrackerError(SlabridgeError):
    """The tracker answered with an error or not at all."""


class TrackerAuthError(TrackerError):
    """The tracker rejected our credentials."""


class TrackerUnavailableError(TrackerError):
    """The tracker is down, slow or overloaded; worth retrying later."""

    hint = ("`slabridge doctor` checks the connection and says what to fix (tracker.url, "
            "the network, a proxy; in a container, 127.0.0.1 is the container itself)")


class IssueError(TrackerError):
    """One issue cannot be read or written; the others go on."""


class SprintUnavailableError(TrackerError):
    """Fastlane issues of a project cannot go into a sprint now (e.g. slabridge's role may
    not set the target version); they stay where they are, and the reason is said once."""


class NotificationError(SlabridgeError):
    """A notification channel failed; the escalation step is retried next cycle."""
