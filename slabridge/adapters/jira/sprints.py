"""Sprints on Jira's agile API: the configured board's active sprint, and moving issues
into a sprint."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from slabridge.adapters.jira.reading import NUMERIC_ID, kind_of, parse_jira_time
from slabridge.adapters.jira.transport import JiraConnection
from slabridge.domain.model import Sprint
from slabridge.errors import TrackerError

log = structlog.get_logger("slabridge.jira")
SPRINT_BATCH = 50  # POST sprint/{id}/issue takes at most 50 issues


class JiraSprints:
    """The sprints of one board (tracker.board_id; one board serves the projects)."""

    def __init__(self, connection: JiraConnection, board_id: int | None) -> None:
        self._connection = connection
        self.board_id = board_id

    def active_sprint(self) -> Sprint | None:
        """The active sprint of the configured board, if any (sprints Jira sends odd are
        skipped and logged)."""
        if self.board_id is None:
            raise TrackerError("tracker.board_id is not set: no board to take the sprint from")
        data = self._connection.get(f"board/{self.board_id}/sprint", {"state": "active"},
                                    agile=True)
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, list):
            raise TrackerError(f"{self._connection.name}: Jira's sprints of board {self.board_id}: "
                               f"'values' is {kind_of(values)}, not a list")
        for value in values:
            sprint_id = value.get("id") if isinstance(value, dict) else None
            if (not isinstance(sprint_id, int | str) or isinstance(sprint_id, bool)
                    or not NUMERIC_ID.fullmatch(str(sprint_id))
                    or int(sprint_id) >= 2**63):
                log.warning("sprint_unreadable", board=self.board_id,
                            problem=f"id is {kind_of(sprint_id)}, not a sprint id")
                continue
            name, state = value.get("name"), value.get("state")
            return Sprint(str(int(sprint_id)), name if isinstance(name, str) else "",
                          state if isinstance(state, str) else "",
                          parse_jira_time(value.get("startDate")),
                          parse_jira_time(value.get("endDate")))
        return None

    def move_to_sprint(self, sprint_id: str, keys: Sequence[str]) -> int:
        """Move issues into a sprint, 50 per request; returns the number of requests."""
        batches = [list(keys[i:i + SPRINT_BATCH]) for i in range(0, len(keys), SPRINT_BATCH)]
        for batch in batches:
            self._connection.send("post", f"sprint/{sprint_id}/issue", {"issues": batch},
                                  agile=True)
        return len(batches)
