"""The rules every judgement of an issue uses (sync, board, explain, statements), in one place."""

from __future__ import annotations

import json
from dataclasses import replace

from slabridge.domain.plan import Rules
from slabridge.ports import StateStore

# State-store mark: slabridge's own accounts, recorded by the sync for the offline commands.
OWN_AUTHORS = "own_authors"


def judging_rules(rules: Rules, store: StateStore, tracker_name: str,
                  own_authors: frozenset[str] | None = None, *,
                  remember: bool = False) -> Rules:
    """The rules as every judgement of an issue must use them (sync, board, explain,
    statements): slabridge's own accounts never accept an issue.

    `own_authors` come from the tracker where it is asked (sync, explain); commands that
    read only the state store use the accounts the last sync recorded there.
    """
    stored_text = store.mark(tracker_name, OWN_AUTHORS)
    stored = frozenset(json.loads(stored_text)) if stored_text else frozenset()
    if own_authors is None:
        own_authors = stored
    elif remember and own_authors != stored:
        store.set_mark(tracker_name, OWN_AUTHORS, json.dumps(sorted(own_authors)))
    return replace(rules, ignored_authors=rules.ignored_authors | own_authors)


