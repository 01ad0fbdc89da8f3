"""`make demo`: show the contract terms in effect and worked due-time examples."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slabridge.cli import run

VIENNA = ZoneInfo("Europe/Vienna")

EXAMPLES = [
    ("advanced", "critical", datetime(2026, 11, 20, 14, 0, tzinfo=VIENNA),
     "Friday afternoon, over the weekend"),
    ("standard", "critical", datetime(2026, 12, 23, 14, 0, tzinfo=VIENNA),
     "Standard pauses for the Christmas closure"),
    ("advanced", "critical", datetime(2026, 12, 23, 14, 0, tzinfo=VIENNA),
     "Advanced works on 24 December"),
    ("premium", "minor", datetime(2026, 10, 23, 15, 0, tzinfo=VIENNA),
     "DST ends and 26 October is a holiday"),
    ("advanced", "critical", datetime(2026, 11, 23, 12, 0, tzinfo=VIENNA),
     "ends exactly at closing time"),
]


def main() -> None:
    """Print the terms table and a few due times."""
    print("== Contract terms in effect (slabridge terms) ==")
    run(["terms"])
    print()
    print("== Response due times (slabridge due) ==")
    for tier, incident_class, received, why in EXAMPLES:
        print(f"-- {tier} {incident_class}, received {received.isoformat()}: {why}")
        run(["due", "--tier", tier, "--class", incident_class, "--at", received.isoformat()])


if __name__ == "__main__":
    main()
