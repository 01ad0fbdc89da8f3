"""Many more generated Jira cycles than CI runs (tests/jira_openapi/test_robustness.py).

Run: `.venv/bin/python benchmarks/jira_robustness.py [--cycles N] [--seed S]`.

Each cycle is a sync against answers generated from Atlassian's schemas
(tests/jira_openapi/generated.py), every request validated against the vendored
descriptions. Prints how the cycles ended and the time per cycle; exits 1 with the failing
example if one ended in an internal error, a rejected request or an unreported skip.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.jira_openapi.generated import Outcome, jira_answers, run_cycle


def main() -> int:
    """Run the cycles and print the outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    os.environ.setdefault("JIRA_EMAIL", "sla@example.com")
    os.environ.setdefault("JIRA_API_TOKEN", "cloud-token-123456")
    outcome = Outcome()

    @seed(args.seed)
    @settings(max_examples=args.cycles, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @given(answers=jira_answers())
    def cycles(answers: dict[str, Any]) -> None:
        run_cycle(answers, outcome)

    started = time.perf_counter()
    failed = False
    try:
        cycles()
    except AssertionError as error:
        print(f"FAILED (seed {args.seed}): {error}")
        failed = True
    seconds = time.perf_counter() - started
    ran = outcome.completed + sum(outcome.stopped.values())
    print(f"{ran} generated cycles (seed {args.seed}) in {seconds:.1f} s "
          f"({1000 * seconds / max(ran, 1):.0f} ms each): {outcome.completed} completed, "
          f"stopped by expected errors: {outcome.stopped or 'none'}, "
          f"{outcome.skipped} unreadable issues skipped and reported, "
          f"{outcome.requests} requests validated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
