"""Due-time computations per second: slabridge vs businesstimedelta on the Advanced calendar.

Run: `make bench` (or `.venv/bin/python benchmarks/due_times.py [--cases N]`).

Both libraries compute the same due times (Advanced tier: Mon-Fri 09:00-16:00 Vienna,
Austrian public holidays) for the same seeded random receipt times. Where they disagree, a
brute-force minute-by-minute oracle, independent of both, says which one is right.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import businesstimedelta
import holidays
import pytz

from slabridge.config.loader import load_config
from slabridge.domain import calendar as calendar_module

ZONE = ZoneInfo("Europe/Vienna")
TARGETS = {"critical": timedelta(hours=4), "minor": timedelta(hours=21)}


def receipt_times(count: int, seed: int = 20261123) -> list[datetime]:
    """Seeded random receipt times in 2026-2027, whole minutes, Vienna time."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=ZONE)
    return [
        (start + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))).astimezone(ZONE)
        for _ in range(count)
    ]


def per_second(work: Callable[[], int], min_seconds: float = 1.0) -> float:
    """Calls of `work` (which returns how many computations it did) until min_seconds passed."""
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < min_seconds:
        done += work()
    return done / elapsed


def oracle(received: datetime, target: timedelta, public: holidays.HolidayBase) -> datetime:
    """Minute-by-minute walk through the service hours: slow, obvious, independent."""
    remaining = int(target / timedelta(minutes=1))
    instant = received.astimezone(ZONE).replace(second=0, microsecond=0)
    utc = instant.astimezone(ZoneInfo("UTC"))
    while remaining:
        local = utc.astimezone(ZONE)
        day = local.date()
        minute_of_day = local.hour * 60 + local.minute
        if day.weekday() < 5 and day not in public and 9 * 60 <= minute_of_day < 16 * 60:
            remaining -= 1
        utc += timedelta(minutes=1)
    return utc.astimezone(ZONE)


def main() -> None:
    """Measure, compare, check and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000, help="receipt times to compute")
    parser.add_argument("--btd-cases", type=int, default=3_000,
                        help="receipt times for the (slow) businesstimedelta run")
    args = parser.parse_args()

    config = load_config(None)
    calendar = config.tier("advanced").calendar
    received = receipt_times(args.cases)
    public = holidays.country_holidays("AT", years=range(2025, 2030), categories=("public",))

    # Warm: the first call expands the years' service windows; measured runs reuse them.
    for instant in received:
        config.response_due("advanced", "critical", instant)

    def ours() -> int:
        for instant in received:
            config.response_due("advanced", "critical", instant)
        return len(received)

    received_utc = [r.astimezone(UTC) for r in received]

    def ours_utc() -> int:
        for instant in received_utc:
            config.response_due("advanced", "critical", instant)
        return len(received_utc)

    target_us = TARGETS["critical"] // timedelta(microseconds=1)
    epoch = [int(r.timestamp()) * 1_000_000 for r in received]

    def ours_epoch() -> int:
        add = calendar.add_us
        for instant_us in epoch:
            add(instant_us, target_us)
        return len(epoch)

    tz = pytz.timezone("Europe/Vienna")
    rules = businesstimedelta.Rules([
        businesstimedelta.WorkDayRule(
            start_time=clock(9), end_time=clock(16), working_days=[0, 1, 2, 3, 4], tz=tz
        ),
        businesstimedelta.HolidayRule(public, tz=tz),
    ])
    btd_deltas = {name: businesstimedelta.BusinessTimeDelta(rules, hours=t / timedelta(hours=1))
                  for name, t in TARGETS.items()}
    btd_received = [tz.normalize(r.astimezone(tz)) for r in received[: args.btd_cases]]

    def theirs() -> int:
        delta = btd_deltas["critical"]
        for instant in btd_received:
            _ = instant + delta
        return len(btd_received)

    ours_rate = per_second(ours, 2.0)
    utc_rate = per_second(ours_utc, 2.0)
    epoch_rate = per_second(ours_epoch, 2.0)
    theirs_rate = per_second(theirs, 2.0)
    # The same calls on the pure-Python path, as on a machine where the C speedup could not
    # be built (no compiler at install time).
    speedup, calendar_module._c_add_micros = calendar_module._c_add_micros, None
    try:
        python_rate = per_second(ours, 2.0)
        python_utc_rate = per_second(ours_utc, 2.0)
    finally:
        calendar_module._c_add_micros = speedup

    agree = disagree = ours_right = theirs_right = neither = 0
    examples: list[str] = []
    for name, target in TARGETS.items():
        for instant, btd_instant in zip(received, btd_received, strict=False):
            mine = config.response_due("advanced", name, instant)
            other = btd_instant + btd_deltas[name]
            if mine == other:
                agree += 1
                continue
            disagree += 1
            truth = oracle(instant, target, public)
            if mine == truth:
                ours_right += 1
            if other == truth:
                theirs_right += 1
            if truth not in (mine, other):
                neither += 1
            if len(examples) < 5:
                examples.append(f"    {name:<8} received {instant.isoformat()}: slabridge "
                                f"{mine and mine.isoformat()}, businesstimedelta "
                                f"{other.isoformat()}, oracle {truth.isoformat()}")

    # The oracle also checks a sample of the cases where both agree.
    sample = received[: min(300, len(received))]
    oracle_ok = sum(
        config.response_due("advanced", name, r) == oracle(r, t, public)
        for name, t in TARGETS.items() for r in sample
    )

    print("Due-time computations, Advanced tier (Mon-Fri 09-16 Vienna, AT public holidays)")
    print(f"  cases: {len(received)} receipt times 2026-2027 (seeded), target 4h; "
          f"businesstimedelta on the first {len(btd_received)}")
    print(f"  C speedup in use: {calendar_module.SPEEDUPS}")
    print(f"  slabridge Config.response_due:      {ours_rate:>12,.0f} /s "
          f"({1e6 / ours_rate:.2f} us each)")
    print(f"  ... with UTC inputs (as trackers send): {utc_rate:>9,.0f} /s "
          f"({1e6 / utc_rate:.2f} us each)")
    print(f"  ... pure-Python path (no compiler): {python_rate:>12,.0f} /s Vienna inputs, "
          f"{python_utc_rate:,.0f} /s UTC inputs")
    print(f"  slabridge BusinessCalendar.add_us:  {epoch_rate:>12,.0f} /s "
          f"({1e6 / epoch_rate:.2f} us each)")
    print(f"  businesstimedelta 1.0.1:            {theirs_rate:>12,.0f} /s "
          f"({1e6 / theirs_rate:.2f} us each)")
    print(f"  ratio (response_due / businesstimedelta): {ours_rate / theirs_rate:,.0f}x "
          f"(UTC inputs {utc_rate / theirs_rate:,.0f}x, "
          f"epoch API {epoch_rate / theirs_rate:,.0f}x)")
    print(f"Agreement on {agree + disagree} computations (4h and 21h targets): "
          f"{agree} agree, {disagree} differ")
    print(f"  where they differ, the minute-by-minute oracle sides with slabridge "
          f"{ours_right}x, with businesstimedelta {theirs_right}x, with neither {neither}x")
    for line in examples:
        print(line)
    print(f"  oracle check of slabridge on {2 * len(sample)} sampled cases: "
          f"{oracle_ok}/{2 * len(sample)} equal")
    for label, rate in (("response_due, Vienna inputs", ours_rate),
                        ("response_due, UTC inputs", utc_rate), ("add_us, epoch", epoch_rate)):
        verdict = "met" if rate >= 500_000 and rate / theirs_rate >= 50 else "NOT met"
        print(f"Targets (>= 500,000/s and >= 50x businesstimedelta), {label}: {verdict}")


if __name__ == "__main__":
    main()
