"""The notes slabridge writes: rendering from templates, and the marker that recognises them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from slabridge.domain.values import value

# Tokens separated by single spaces, with no nested quantifier: a note quoting an unclosed
# "[slabridge ..." must not make the regex backtrack exponentially and stall a cycle.
MARKER_PATTERN = re.compile(r"\[slabridge ([A-Za-z0-9_.:@/-]+(?: [A-Za-z0-9_.:@/-]+)*) ?\]")


STATUS_KEYS = frozenset({"running", "at_risk", "breached", "met", "paused", "no_target"})
"""Keys `<customer>:<class>:<status>` end in one of these (the SLA status values)."""
_PREFIXED = ("classified", "sprint")
_PREFIX_INSIDE = ("escalated", "due-moved", "metric")
_PAIR = re.compile(r"[^:\s]+:[^:\s]+")


def _short(key: str, pair: str) -> str | None:
    """`key` without the customer:class pair it carries, or None if it has another form."""
    for kind in _PREFIXED:
        if key == f"{kind}:{pair}":
            return kind
    for kind in _PREFIX_INSIDE:
        if key.startswith(f"{kind}:{pair}:"):
            return f"{kind}:{key[len(kind) + len(pair) + 2:]}"
    if key.startswith(f"{pair}:") and key[len(pair) + 1:] in STATUS_KEYS:
        return key[len(pair) + 1:]
    return None


def _full(token: str, pair: str) -> str:
    if token in _PREFIXED:
        return f"{token}:{pair}"
    kind, _, rest = token.partition(":")
    if kind in _PREFIX_INSIDE and rest:
        return f"{kind}:{pair}:{rest}"
    return f"{pair}:{token}" if token in STATUS_KEYS else token


def marker(keys: tuple[str, ...]) -> str:
    """The short visible marker that ends every note slabridge writes.

    Keys of one customer and class write that pair once, e.g. `[slabridge acme:critical
    classified at_risk escalated:standard:at-risk]` for three keys; a single key, or keys
    of mixed forms, are written whole, as before.
    """
    if len(keys) > 1:
        parts = keys[0].split(":")
        for pair in (":".join(parts[1:3]), ":".join(parts[0:2])):
            short = [_short(key, pair) for key in keys]
            if _PAIR.fullmatch(pair) and all(short):
                return f"[slabridge {pair} {' '.join(s for s in short if s)}]"
    return f"[slabridge {' '.join(keys)}]"


def note_keys_in(text: str) -> frozenset[str]:
    """Keys of all slabridge markers in a note's text (either form, see marker)."""
    found_keys: set[str] = set()
    for found in MARKER_PATTERN.findall(text or ""):
        tokens = found.split()
        if len(tokens) > 1 and _PAIR.fullmatch(tokens[0]):
            found_keys.update(_full(token, tokens[0]) for token in tokens[1:])
        else:
            found_keys.update(tokens)
    return frozenset(found_keys)


def written_by_slabridge(text: str) -> bool:
    """Whether a note is one slabridge wrote: its last line is a marker, as slabridge ends
    every note. A reply quoting one (`> [slabridge ...]`, or the reply below the quote)
    is a person's note."""
    lines = (text or "").rstrip().splitlines()
    return bool(lines) and MARKER_PATTERN.fullmatch(lines[-1].strip()) is not None


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
