"""Adapters: concrete trackers and state stores behind the ports."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def tracker_url(url: str) -> str:
    """A tracker's base URL as slabridge names it (and keys its state by): scheme and host
    in lower case, no default port, no trailing slash, so that one tracker written two
    ways is still one tracker."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a port: left as written, for the request to fail on
        return url.strip().rstrip("/")
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))
