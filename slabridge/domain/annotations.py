"""The notes slabridge writes: rendering from templates, and the marker that recognises them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from slabridge.domain.values import value

MARKER_PATTERN = re.compile(r"\[slabridge ((?:[A-Za-z0-9_.:@/-]+ ?)+)\]")


def marker(keys: tuple[str, ...]) -> str:
    """The short visible marker that ends every note slabridge writes."""
    return f"[slabridge {' '.join(keys)}]"


def note_keys_in(text: str) -> frozenset[str]:
    """Keys of all slabridge markers in a note's text."""
    return frozenset(
        key for found in MARKER_PATTERN.findall(text or "") for key in found.split()
    )


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@value
class NoteTemplates:
    """Templates by kind (classified, classified_no_target, at_risk, breached, met)."""

    texts: Mapping[str, str]
    handling: Mapping[str, str]
    """How each handling is worded in this language."""

    def render(self, kind: str, values: Mapping[str, str], keys: tuple[str, ...]) -> str:
        """The note for `kind` with `values` filled in, ending with the marker for `keys`."""
        return self.finish(self.line(kind, values), keys)

    def word(self, key: str, english: str, **values: str) -> str:
        """A word or phrase in this language (template `key`), else the English one."""
        text = self.texts.get(key)
        return text.format_map(_Missing(values)).strip() if text else english

    def line(self, kind: str, values: Mapping[str, str]) -> str:
        """One template filled in, without a marker (parts of a combined note)."""
        return self.texts[kind].format_map(_Missing(values)).strip()

    @staticmethod
    def finish(text: str, keys: tuple[str, ...]) -> str:
        """A note body with the marker for `keys` appended."""
        return f"{text}\n\n{marker(keys)}"
