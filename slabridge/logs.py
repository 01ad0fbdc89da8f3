"""structlog configuration: JSON in production, readable in a terminal, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRETS: set[str] = set()
REDACTED = "***"
MIN_SECRET_LENGTH = 4


def register_secret(value: str | None) -> None:
    """Never let `value` appear in a log line."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _SECRETS.add(value)


_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^@\s/]+@")


def scrub_text(text: str) -> str:
    """`text` with every registered secret, and any password in a URL, replaced."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, bytes):
        return scrub_text(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    # Exceptions and other objects become text later, in the renderer: scrub that text now.
    text = repr(value) if isinstance(value, BaseException) else str(value)
    return scrub_text(text) if any(secret in text for secret in _SECRETS) else value


def redact_secrets(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor replacing registered secrets anywhere in the event."""
    for key in list(event):
        event[key] = _scrub(event[key])
    return event


def scrub_rendered(logger: Any, method: str, rendered: Any) -> Any:
    """Last processor: whatever the renderer produced (tracebacks too) is scrubbed again."""
    return scrub_text(rendered) if isinstance(rendered, str) else rendered


def configure(json_output: bool | None = None, level: str = "INFO") -> None:
    """Console output on a terminal, JSON lines otherwise (or as asked); to stderr."""
    if json_output is None:
        json_output = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *([structlog.processors.format_exc_info] if json_output else []),
            redact_secrets,
            renderer,
            scrub_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
