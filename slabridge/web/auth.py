"""Who may read the pages: HTTP basic auth against `web.users`, or loopback only without users."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from collections.abc import Mapping

from slabridge.config.environment import expand_env
from slabridge.config.loader import Config
from slabridge.errors import UsageError
from slabridge.logs import register_secret

REALM = 'Basic realm="slabridge", charset="UTF-8"'


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the listener on this machine (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def web_users(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """User -> password, each from the environment variable the config names for it."""
    environ = dict(os.environ if environ is None else environ)
    users = {}
    for name, reference in config.settings.web.users.items():
        password = expand_env(reference, ("web", "users", name), config.source, environ)
        register_secret(password)
        users[name] = password
    return users


def refusal(host: str, users: Mapping[str, str]) -> str | None:
    """Why the pages must not be served on `host`, or None: without users, only on a
    loopback address, since anyone who reaches the port could read every customer's page."""
    if users or is_loopback(host):
        return None
    return (f"the web pages are not served on {host}: without web.users they answer on a "
            "loopback address only (e.g. 127.0.0.1). Add web.users (each user's password "
            "as ${ENV_VAR}) to serve them on other addresses")


def check_servable(host: str, users: Mapping[str, str]) -> None:
    """Stop (UsageError) where `refusal` says no."""
    reason = refusal(host, users)
    if reason is not None:
        raise UsageError(reason)


def authorized(users: Mapping[str, str], header: str | None) -> bool:
    """Whether an Authorization header names a configured user with the right password
    (always true without users: then the listener is on loopback only)."""
    if not users:
        return True
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    name, _, password = decoded.partition(":")
    expected = users.get(name)
    # Compared in constant time, and a password is compared even for an unknown user, so
    # the answer's timing does not tell which user names exist.
    ok = hmac.compare_digest(password.encode(), (expected or "\0").encode())
    return ok and expected is not None
