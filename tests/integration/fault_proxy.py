"""A loopback HTTP proxy in front of the test Redmine that injects faults, reproducibly.

`FaultProxy(upstream, rate=0.2, seed=7)` listens on 127.0.0.1 (a free port) and forwards
each request to `upstream`, except that a fraction `rate` of the requests (decided by a
seeded `random.Random`, so a run can be replayed) get a fault instead:

- `http_500`, `http_502`, `http_503`: that status, without forwarding;
- `http_429`: 429 with `Retry-After: 1`, without forwarding;
- `timeout`: the request is read, then nothing is sent for `stall_seconds` (longer than the
  client's timeout; bounded, and cut short when the proxy stops), then the connection is
  reset; the request is not forwarded;
- `reset`: the connection is reset (RST) without a response, not forwarded;
- `applied_then_reset` (writes only: PUT): the request IS forwarded and Redmine applies it,
  then the response is dropped and the connection reset, so the client cannot know that
  its write succeeded.

Which kind a fault is comes from a deck of cards, one per kind (`weights` copies each),
shuffled by the same seeded generator: a fault takes the first card its request can use
(`applied_then_reset` only fits a write, and a write takes it first while the deck has it);
an exhausted deck is refilled and reshuffled. So every kind turns up within the first few
faults instead of by luck, and the run stays reproducible. `script()` forces a fault on the
next request for one path, for deterministic scenarios.

`counts` says how many of each were injected; `events` lists every request with what became
of it (and how long Redmine took). Responses carry `Connection: close`: one request per
connection keeps "which request was faulted" unambiguous.

Use it as a context manager (or call `stop()` in a finally): stopping shuts the server
down, wakes stalled handlers and joins the serving thread, all within a few seconds.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length", "host", "date", "server",
})
WRITE_METHODS = frozenset({"PUT"})


class Fault(StrEnum):
    """What the proxy does instead of (or after) forwarding a request."""

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_429 = "http_429"
    TIMEOUT = "timeout"
    RESET = "reset"
    APPLIED_THEN_RESET = "applied_then_reset"


STATUS_FAULTS = {Fault.HTTP_500: 500, Fault.HTTP_502: 502, Fault.HTTP_503: 503,
                 Fault.HTTP_429: 429}
WRITE_ONLY = frozenset({Fault.APPLIED_THEN_RESET})
DEFAULT_WEIGHTS: Mapping[Fault, int] = dict.fromkeys(Fault, 1)


@dataclass(frozen=True)
class Event:
    """One request the proxy saw and what became of it."""

    method: str
    path: str
    fault: Fault | None
    status: int | None
    """Redmine's status (forwarded, or applied then dropped), the injected one, or None."""
    seconds: float = 0.0
    """How long Redmine took (forwarded requests), or the stall (timeouts)."""


class FaultPlan:
    """Seeded decisions: fault or not, and which kind (thread-safe)."""

    def __init__(self, rate: float, seed: int,
                 weights: Mapping[Fault, int] = DEFAULT_WEIGHTS) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be within 0..1, not {rate}")
        self.rate = rate
        self._random = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self._weights = dict(weights)
        self._deck: list[Fault] = []
        self._scripted: list[tuple[str, str, Fault]] = []
        self._lock = threading.Lock()

    def script(self, method: str, path: str, fault: Fault) -> None:
        """Inject `fault` into the next `method` request for exactly `path` (query aside)."""
        with self._lock:
            self._scripted.append((method.upper(), path, fault))

    def choose(self, method: str, path: str = "") -> Fault | None:
        """The fault for the next request with this method and path, or None to forward it."""
        write = method.upper() in WRITE_METHODS
        with self._lock:
            for index, (m, p, fault) in enumerate(self._scripted):
                if m == method.upper() and p == path.split("?", 1)[0]:
                    del self._scripted[index]
                    return fault
            if self._random.random() >= self.rate:
                return None
            return self._deal(write)

    def _deal(self, write: bool) -> Fault | None:
        """The first card this request can use (writes prefer write-only ones)."""
        for _ in range(2):
            usable = [i for i, kind in enumerate(self._deck) if write or kind not in WRITE_ONLY]
            if write:
                usable = [i for i in usable if self._deck[i] in WRITE_ONLY] or usable
            if usable:
                return self._deck.pop(usable[0])
            fresh = [kind for kind, weight in self._weights.items() for _ in range(weight)]
            self._random.shuffle(fresh)
            self._deck.extend(fresh)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy
        self._to_reset: set[int] = set()
        self._reset_lock = threading.Lock()

    def mark_reset(self, connection: socket.socket) -> None:
        """Close this connection with an RST (linger 0) instead of an orderly FIN."""
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._reset_lock:
            self._to_reset.add(id(connection))

    def shutdown_request(self, request: Any) -> None:
        with self._reset_lock:
            reset = id(request) in self._to_reset
            self._to_reset.discard(id(request))
        if reset:
            self.close_request(request)  # no shutdown(SHUT_WR): that would send a FIN first
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) is expected; anything else is kept for asserts.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            self.proxy.internal_errors.append(repr(error))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the proxy's events list says what happened."""

    def _handle(self) -> None:
        proxy = self.server.proxy
        self.close_connection = True
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy.plan.choose(self.command, self.path)
        if fault is None:
            started = time.monotonic()
            status, reason, headers, data = self._forward(body)
            proxy.record(Event(self.command, self.path, None, status,
                               time.monotonic() - started))
            self._reply(status, headers, data, reason)
            return
        if fault is Fault.APPLIED_THEN_RESET:
            # Redmine applies the write; the client never hears of it.
            started = time.monotonic()
            status, _, _, _ = self._forward(body)
            proxy.record(Event(self.command, self.path, fault, status,
                               time.monotonic() - started))
            self.server.mark_reset(self.connection)
            return
        stall = proxy.stall_seconds if fault is Fault.TIMEOUT else 0.0
        proxy.record(Event(self.command, self.path, fault, STATUS_FAULTS.get(fault), stall))
        if fault in STATUS_FAULTS:
            code = STATUS_FAULTS[fault]
            extra = [("Retry-After", "1")] if fault is Fault.HTTP_429 else []
            self._reply(code, [("Content-Type", "text/plain"), *extra],
                        f"injected {fault.value}\n".encode())
        elif fault is Fault.TIMEOUT:
            proxy.stopping.wait(proxy.stall_seconds)
            self.server.mark_reset(self.connection)
        else:  # RESET
            self.server.mark_reset(self.connection)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = proxy.upstream_netloc
        connection = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                timeout=proxy.upstream_timeout)
        try:
            send = body if body or self.command in WRITE_METHODS | {"POST"} else None
            connection.request(self.command, self.path, body=send, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as error:
            proxy.internal_errors.append(f"upstream {self.command} {self.path}: {error!r}")
            return 502, "Bad Gateway", [("Content-Type", "text/plain")], b"upstream failed\n"
        finally:
            connection.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        return response.status, response.reason, kept, data

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes,
               reason: str | None = None) -> None:
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class FaultProxy:
    """The proxy: start it, point the client at `url`, read `counts`, stop it."""

    def __init__(self, upstream: str, *, rate: float, seed: int, stall_seconds: float = 3.0,
                 upstream_timeout: float = 30.0,
                 weights: Mapping[Fault, int] = DEFAULT_WEIGHTS) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"loopback http upstreams only, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_netloc = parts.netloc
        self.upstream_timeout = upstream_timeout
        self.stall_seconds = stall_seconds
        self.plan = FaultPlan(rate, seed, weights)
        self.stopping = threading.Event()
        self.events: list[Event] = []
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        """Where clients send their requests."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def counts(self) -> Counter[Fault]:
        """Faults injected so far, by kind."""
        with self._lock:
            return Counter(event.fault for event in self.events if event.fault is not None)

    @property
    def requests(self) -> int:
        """Requests seen so far (faulted or forwarded)."""
        with self._lock:
            return len(self.events)

    def set_rate(self, rate: float) -> None:
        """Change the fault rate from now on (0 turns faults off)."""
        self.plan.rate = rate

    def record(self, event: Event) -> None:
        """Note a request and what became of it (called by the handler threads)."""
        with self._lock:
            self.events.append(event)

    def faulted(self, fault: Fault) -> list[Event]:
        """The requests that got this fault."""
        with self._lock:
            return [event for event in self.events if event.fault is fault]

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled requests, close the socket (bounded: a few seconds)."""
        self.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def summary(self) -> dict[str, int]:
        """Counts by kind (every kind listed) plus forwarded requests, for reports."""
        counts = self.counts
        result = {kind.value: counts.get(kind, 0) for kind in Fault}
        with self._lock:
            result["forwarded"] = sum(1 for event in self.events if event.fault is None)
        return result
