"""Atlassian Document Format (API v3's rich text): notes written as ADF, comments read
back as plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_BOLD = re.compile(r"\*([^*\n]+)\*")


def to_adf(text: str) -> dict[str, Any]:
    """Plain text with *bold* spans as an Atlassian Document Format document (API v3)."""
    paragraphs = []
    for block in (b for b in text.split("\n\n") if b.strip()):
        content: list[dict[str, Any]] = []
        position = 0
        flat = " ".join(block.splitlines())
        for match in _BOLD.finditer(flat):
            if match.start() > position:
                content.append({"type": "text", "text": flat[position:match.start()]})
            content.append({"type": "text", "text": match.group(1),
                            "marks": [{"type": "strong"}]})
            position = match.end()
        if position < len(flat):
            content.append({"type": "text", "text": flat[position:]})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_text(node: Any) -> str:
    """The plain text of an ADF document (or a v2 string body as is); odd nodes give ''."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        own = node.get("text")
        own = own if isinstance(own, str) else ""
        content = node.get("content")
        children = " ".join(adf_text(child) for child in content) \
            if isinstance(content, list) else ""
        return f"{own} {children}".strip()
    return ""


def adf_closing_paragraph(node: Any) -> str:
    """The text of a document's last top-level block if it is a plain paragraph (not a
    quote or a panel), where slabridge puts its marker; a v2 string body as is."""
    if isinstance(node, str):
        return node
    content = node.get("content") if isinstance(node, dict) else None
    if isinstance(content, list) and content and isinstance(content[-1], dict) \
            and content[-1].get("type") == "paragraph":
        return adf_text(content[-1])
    return ""


def with_mentions(document: dict[str, Any], people: Sequence[str]) -> dict[str, Any]:
    """Replace "@id" inside ADF text nodes with mention nodes."""
    pattern = re.compile("(" + "|".join(re.escape(f"@{p}") for p in people) + ")")
    for paragraph in document["content"]:
        content: list[dict[str, Any]] = []
        for node in paragraph["content"]:
            if node.get("marks") or "@" not in node.get("text", ""):
                content.append(node)
                continue
            for part in pattern.split(node["text"]):
                if not part:
                    continue
                if pattern.fullmatch(part):
                    content.append({"type": "mention", "attrs": {"id": part[1:]}})
                else:
                    content.append({"type": "text", "text": part})
        paragraph["content"] = content
    return document
