"""A month of 100,000 time entries aggregated into 12-month hour ledgers, timed locally.

Run: `.venv/bin/python benchmarks/hours_ledger.py [--entries N] [--customers C] [--runs R]`.

Seeded random Booking records for one month (quarter hours from 0.25 h to 4 h, mostly
short; a few critical issues fixed in the current sprint), spread unevenly over the
customers. Each customer's ledger covers the 12 months ending in that month, on Advanced
terms (or Standard, hourly, for every fifth customer). Timed, best of R runs:

1. slabridge, one pass: bookings partitioned by customer once, then `build_ledger` per
   customer with its own bookings (how the service should call it);
2. slabridge, naive: `build_ledger` per customer over all bookings (it filters them);
3. the alternative a user would pick: pandas groupby if installed, else an in-memory
   sqlite3 table with a GROUP BY over customer and month. Its figure is the load plus the
   query only (no credit, lapse or billing arithmetic), which favours it.

The totals of all paths are checked against each other. Target: under 2 s for the month.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import random
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from slabridge.domain.hours import Booking, Ledger, MonthTerms, build_ledger, months_between

MONTH = "2026-11"
MONTHS = months_between("2025-12", MONTH)
TARGET_SECONDS = 2.0
ADVANCED = MonthTerms(
    tier="advanced", model="monthly_flat", included=Decimal(40), credit_cap_months=3,
    surcharge=Decimal(0), extra_hourly_rate=Decimal(95), monthly_fee=Decimal(4200),
)
STANDARD = MonthTerms(
    tier="standard", model="hourly", included=Decimal(0), credit_cap_months=0,
    surcharge=Decimal("0.20"), hourly_rate=Decimal(110), surcharged_classes=frozenset({"critical"}),
)
CLASSES = ("critical", "minor", "trivial", None)
CLASS_WEIGHTS = (5, 60, 15, 20)
Totals = dict[str, tuple[Decimal, int, Decimal]]
"""Per customer: hours, entries and critical current-sprint hours of the month."""


def customers(count: int) -> list[str]:
    """Customer keys."""
    return [f"customer-{index:02d}" for index in range(count)]


def generate(entries: int, names: Sequence[str], seed: int = 20261123) -> list[Booking]:
    """Seeded random time entries of MONTH, a few customers booking most of the hours."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(names))]
    who = rng.choices(names, weights, k=entries)
    classes = rng.choices(CLASSES, CLASS_WEIGHTS, k=entries)
    year, number = (int(part) for part in MONTH.split("-"))
    return [
        Booking(
            entry_id=f"TE-{index}", customer=customer, day=date(year, number, rng.randint(1, 30)),
            hours=Decimal(max(1, min(16, round(rng.triangular(1, 16, 3))))) / 4,
            incident_class=incident_class, current_sprint=rng.random() < 0.3,
            ticket_key=str(rng.randint(1, 5_000)),
        )
        for index, (customer, incident_class) in enumerate(zip(who, classes, strict=True))
    ]


def terms_for(names: Sequence[str]) -> dict[str, dict[str, MonthTerms]]:
    """Each customer's terms per month: Standard for every fifth, else Advanced."""
    return {name: dict.fromkeys(MONTHS, STANDARD if index % 5 == 0 else ADVANCED)
            for index, name in enumerate(names)}


def ledgers_one_pass(
    bookings: Sequence[Booking], terms: dict[str, dict[str, MonthTerms]],
) -> dict[str, Ledger]:
    """Partition the bookings by customer once, then one ledger per customer."""
    by_customer: defaultdict[str, list[Booking]] = defaultdict(list)
    for booking in bookings:
        by_customer[booking.customer].append(booking)
    return {name: build_ledger(name, MONTHS, terms[name], by_customer.get(name, ()))
            for name in terms}


def ledgers_naive(
    bookings: Sequence[Booking], terms: dict[str, dict[str, MonthTerms]],
) -> dict[str, Ledger]:
    """One ledger per customer, each scanning all bookings."""
    return {name: build_ledger(name, MONTHS, terms[name], bookings) for name in terms}


def totals_of(ledgers: dict[str, Ledger]) -> Totals:
    """The statement month's figures per customer."""
    found: Totals = {}
    for name, ledger in ledgers.items():
        statement = ledger.month(MONTH)
        assert statement is not None
        found[name] = (statement.used, statement.bookings, statement.surcharge_hours)
    return found


def sqlite_load(bookings: Sequence[Booking]) -> sqlite3.Connection:
    """An in-memory sqlite3 table holding the bookings (hours as REAL, as a user would)."""
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE booking (entry_id TEXT, customer TEXT, day TEXT, hours REAL, "
        "incident_class TEXT, current_sprint INTEGER, ticket_key TEXT)")
    connection.executemany(
        "INSERT INTO booking VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((b.entry_id, b.customer, b.day.isoformat(), float(b.hours), b.incident_class,
          int(b.current_sprint), b.ticket_key) for b in bookings))
    return connection


def sqlite_query(connection: sqlite3.Connection) -> Totals:
    """GROUP BY customer and month over the loaded table."""
    rows = connection.execute(
        "SELECT customer, substr(day, 1, 7) AS month, SUM(hours), COUNT(*), "
        "SUM(CASE WHEN incident_class = 'critical' AND current_sprint THEN hours "
        "ELSE 0 END) FROM booking GROUP BY customer, month").fetchall()
    return {customer: (Decimal(repr(hours)), count, Decimal(repr(surcharge)))
            for customer, month, hours, count, surcharge in rows if month == MONTH}


def sqlite_group_by(bookings: Sequence[Booking]) -> Totals:
    """Load the bookings into sqlite3 and GROUP BY: what a user would time end to end."""
    connection = sqlite_load(bookings)
    try:
        return sqlite_query(connection)
    finally:
        connection.close()


def pandas_group_by(bookings: Sequence[Booking]) -> Totals:  # pragma: no cover - optional
    """Build a DataFrame of the bookings and groupby customer and month."""
    pandas = importlib.import_module("pandas")
    frame = pandas.DataFrame({
        "customer": [b.customer for b in bookings],
        "month": [f"{b.day.year:04d}-{b.day.month:02d}" for b in bookings],
        "hours": [float(b.hours) for b in bookings],
        "surcharge": [float(b.hours) if b.incident_class == "critical" and b.current_sprint
                      else 0.0 for b in bookings],
    })
    grouped = frame.groupby(["customer", "month"]).agg(
        hours=("hours", "sum"), entries=("hours", "size"), surcharge=("surcharge", "sum"))
    return {customer: (Decimal(repr(float(row.hours))), int(row.entries),
                       Decimal(repr(float(row.surcharge))))
            for (customer, month), row in grouped.iterrows() if month == MONTH}


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The shortest wall time of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def normalised(totals: Totals, with_surcharge: set[str]) -> Totals:
    """Totals comparable across paths: the ledger counts surcharge only on Standard terms."""
    return {name: (hours.normalize(), count,
                   surcharge.normalize() if name in with_surcharge else Decimal(0))
            for name, (hours, count, surcharge) in totals.items()}


def report(label: str, seconds: float, entries: int) -> None:
    """One timing line."""
    print(f"  {label:<50} {seconds * 1000:9.1f} ms  {entries / seconds:12,.0f} entries/s")


def main() -> None:
    """Generate, time, check and print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="time entries")
    parser.add_argument("--customers", type=int, default=40, help="customers")
    parser.add_argument("--runs", type=int, default=5, help="runs per path; best is shown")
    args = parser.parse_args()

    names = customers(args.customers)
    terms = terms_for(names)
    started = time.perf_counter()
    bookings = generate(args.entries, names)
    generated = time.perf_counter() - started
    use_pandas = importlib.util.find_spec("pandas") is not None
    alternative_label = "pandas groupby (DataFrame build + groupby)" if use_pandas else (
        "sqlite3 :memory: (load + GROUP BY)")
    alternative = pandas_group_by if use_pandas else sqlite_group_by

    ours = ledgers_one_pass(bookings, terms)
    standard = {name for name, months in terms.items() if months[MONTH].model == "hourly"}
    expected = normalised(totals_of(ours), standard)
    assert normalised(totals_of(ledgers_naive(bookings, terms)), standard) == expected
    assert normalised(alternative(bookings), standard) == expected, "totals differ"
    assert sum(count for _, count, _ in expected.values()) == args.entries

    one_pass = best_of(args.runs, lambda: ledgers_one_pass(bookings, terms))
    naive = best_of(max(1, min(args.runs, 3)), lambda: ledgers_naive(bookings, terms))
    other = best_of(args.runs, lambda: alternative(bookings))

    hours = sum((h for h, _, _ in expected.values()), Decimal(0))
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"sqlite {sqlite3.sqlite_version}, pandas {'yes' if use_pandas else 'not installed'}")
    print(f"{args.entries:,} time entries in {MONTH} ({hours:,} h) over {args.customers} "
          f"customers, 12-month ledgers; generated in {generated:.2f} s; best of "
          f"{args.runs} runs")
    report("slabridge build_ledger, one pass", one_pass, args.entries)
    report("slabridge build_ledger, naive (all per customer)", naive, args.entries)
    report(alternative_label, other, args.entries)
    if not use_pandas:
        connection = sqlite_load(bookings)
        try:
            query = best_of(args.runs, lambda: sqlite_query(connection))
        finally:
            connection.close()
        report("sqlite3 GROUP BY alone (table already loaded)", query, args.entries)
    print(f"  ratio {alternative_label.split(' (')[0]} / slabridge one pass: "
          f"{other / one_pass:.2f}x  (>1: slabridge faster)")
    verdict = "met" if one_pass < TARGET_SECONDS else "MISSED"
    print(f"  target < {TARGET_SECONDS:.0f} s for the month: {verdict} ({one_pass:.3f} s)")
    print("  totals per customer agree across all paths")
    if one_pass >= TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
