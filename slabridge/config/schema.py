"""The JSON Schema of a configuration file, for editors."""

from __future__ import annotations

from typing import Any

from slabridge.config.models import Settings


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors (include is allowed at the top)."""
    schema = Settings.model_json_schema(by_alias=True)
    schema["properties"]["include"] = {
        "description": "files (relative to this one) or builtin names merged before this file",
        "type": "array",
        "items": {"type": "string"},
    }
    # Any file may be merged with others (include), so a mapping's keys may come from
    # another file: none is required of one file (`slabridge check` checks the merged
    # result). Lists replace what they override, so their items must be whole.
    _drop_required(schema, _defs_in_list_items(schema))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "slabridge configuration"
    return schema


def _defs_in_list_items(schema: dict[str, Any]) -> set[str]:
    """The $defs that describe list items, or anything within one."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def refs(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {str(node["$ref"]).rsplit("/", 1)[-1]} if "$ref" in node else set()
            return found.union(*(refs(child) for child in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(child) for child in node))
        return set()

    def items_anywhere(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = refs(node["items"]) if "items" in node else set()
            return found.union(*(items_anywhere(v) for k, v in node.items() if k != "items"))
        if isinstance(node, list):
            return set().union(*(items_anywhere(child) for child in node))
        return set()

    whole = items_anywhere(schema)
    todo = list(whole)
    while todo:  # and what those refer to
        for name in refs(defs.get(todo.pop(), {})) - whole:
            whole.add(name)
            todo.append(name)
    return whole


def _drop_required(node: Any, keep: set[str], inside_items: bool = False) -> None:
    if isinstance(node, dict):
        if not inside_items:
            node.pop("required", None)
        for key, child in node.items():
            if key == "$defs":
                for name, definition in child.items():
                    _drop_required(definition, keep, name in keep)
            else:
                _drop_required(child, keep, inside_items or key == "items")
    elif isinstance(node, list):
        for child in node:
            _drop_required(child, keep, inside_items)


