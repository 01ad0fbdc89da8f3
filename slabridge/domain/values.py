"""Immutable value classes: frozen for the type checker, plain slotted dataclasses at run time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True, slots=True)` for the domain's values, made about 9x faster.

    A frozen dataclass's __init__ sets every field through object.__setattr__: 2.7 us for
    ten fields against 0.3 us, and a sync cycle makes about ten such objects per issue.
    mypy (strict, in CI) treats these classes as frozen, so no code assigns to a field;
    at run time they are slotted dataclasses with the hash and equality of frozen ones.
    """
    return dataclass(cls, slots=True, unsafe_hash=True)
