"""Service durations as written in config ("2h", "90m", "1.5d") and their exact length."""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

from slabridge.domain.values import value

_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNIT_MINUTES = {"m": 1, "h": 60}


@value
class ServiceDuration:
    """An amount of service time; a day ("d") is one service day of the tier's calendar."""

    amount: Fraction
    unit: str

    @classmethod
    def parse(cls, text: str) -> ServiceDuration:
        """Read "2h", "90m", "1.5d" or "3d"; anything else is a ValueError naming the forms."""
        match = _PATTERN.match(str(text))
        if match is None:
            raise ValueError(
                f"{text!r} is not a duration: use a number and a unit, e.g. 90m, 2h, 1.5d"
            )
        amount = Fraction(match.group(1))
        if amount <= 0:
            raise ValueError(f"{text!r}: a duration must be greater than zero")
        return cls(amount, match.group(2))

    def length(self, service_day: timedelta) -> timedelta:
        """The exact service time this stands for, given the length of one service day."""
        if self.unit == "d":
            micros = self.amount * (service_day // timedelta(microseconds=1))
        else:
            micros = self.amount * _UNIT_MINUTES[self.unit] * 60_000_000
        return timedelta(microseconds=round(micros))

    def __str__(self) -> str:
        amount = self.amount
        number = str(amount.numerator) if amount.denominator == 1 else f"{float(amount):g}"
        return f"{number}{self.unit}"
