"""`slabridge web` and the daemon's pages: the web app wired to the configured store."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping

import structlog

from slabridge.bootstrap import build_store, build_tracker
from slabridge.config.loader import Config
from slabridge.daemon.health import HealthServer
from slabridge.errors import SlabridgeError
from slabridge.web.app import WebApp, Wiring
from slabridge.web.auth import check_servable, refusal, web_users

log = structlog.get_logger("slabridge.web")


def wire(config: Config, environ: Mapping[str, str] | None = None) -> Wiring:
    """The tracker (for its name and issue links; never called), a store per request and
    the users, from the configuration and the environment."""
    environ = dict(os.environ if environ is None else environ)
    # dry_run: a state file that does not exist yet is not created by looking at the board.
    return Wiring(config, build_tracker(config, environ),
                  lambda: build_store(config, environ, dry_run=True),
                  web_users(config, environ))


def daemon_pages(config: Callable[[], Config], host: str) -> WebApp:
    """The pages on the daemon's health listener; without users on a non-loopback address
    they answer 403 with the reason (the probes' /healthz and /metrics stay)."""
    users = web_users(config())  # a missing password variable stops the start (exit 2)
    reason = refusal(host, users)
    if reason is not None:
        log.warning("web_pages_refused", host=host, reason=reason)
    return WebApp(config, wire, host)


def _say(text: str) -> None:
    print(text, flush=True)  # at once: scripts and tests wait for this line


def serve(config: Config, host: str, port: int, ready: Callable[[str], None] = _say) -> int:
    """Serve the pages from the state store until SIGINT or SIGTERM; no cycles run."""
    wiring = wire(config)  # a bad tracker section or a missing password stops here
    check_servable(host, wiring.users)
    app = WebApp(lambda: config, lambda _: wiring, host)
    try:
        server = HealthServer(None, host, port, pages=app)
    except OSError as error:
        raise SlabridgeError(f"cannot serve the pages on {host}:{port}: {error.strerror}") \
            from None
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set())
                for number in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    bound_host, bound_port = server.address
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    ready(f"slabridge web: the board is at http://{shown}:{bound_port}/ (Ctrl-C stops)")
    try:
        stop.wait()
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
