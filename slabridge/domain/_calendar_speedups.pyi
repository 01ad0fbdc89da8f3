"""Types of the C speedup (see _calendar_speedups.c)."""

from datetime import datetime

def add_micros(table: tuple[object, ...], start: datetime, micros: int) -> datetime | None:
    """The due time, or None where the pure-Python path must decide."""
