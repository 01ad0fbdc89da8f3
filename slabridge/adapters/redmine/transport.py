"""The HTTP side of the Redmine adapter: python-redmine's requests session, tuned (timeouts,
retries of reads, TLS and CA bundle, proxies read once), JSON reads and pages, and the fast
channel that writes go through."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any, cast

import orjson
import requests
import urllib3
from redminelib import Redmine
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slabridge.adapters.redmine.error_map import ErrorMap
from slabridge.errors import TrackerError

JSON_HEADERS = {"Content-Type": "application/json"}
PAGE = 100  # Redmine caps `limit` at 100
NO_CONTENT = int(HTTPStatus.NO_CONTENT)  # a plain int: compared after every write


class TimeoutAdapter(HTTPAdapter):
    """An HTTPAdapter with a default timeout: python-redmine sets `session.timeout`, which
    requests ignores, so without this a hung Redmine would hold a cycle forever."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send with the default timeout unless the caller gave one."""
        return super().send(request, stream, self.timeout if timeout is None else timeout,
                            verify, cert, proxies)


def ca_bundle_from_environment(verify_tls: bool) -> bool | str:
    """`verify` for requests: the CA bundle that REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE names
    (as requests itself would take it), else the flag."""
    if not verify_tls:
        return False
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


@dataclass(frozen=True)
class WriteChannel:
    """Where and how writes go: see RedmineTransport._send_put."""

    adapter: TimeoutAdapter
    pool: urllib3.HTTPConnectionPool
    prefix: str  # what comes before /issues/<id>.json in the request line
    headers: dict[str, str]
    retries: Retry
    timeout: urllib3.Timeout


class RedmineTransport:
    """Requests to one Redmine: counted, with their failures translated by `errors`."""

    def __init__(self, name: str, api_key: str, errors: ErrorMap, *, verify_tls: bool,
                 timeout: float, retries: int) -> None:
        self.name = name
        self.errors = errors
        self.requests_made = 0
        self.last_date: str | None = None
        """The Date header of the last answer counted by the session (not of writes)."""
        self.redmine = Redmine(
            name, key=api_key,
            requests={"verify": ca_bundle_from_environment(verify_tls), "timeout": timeout},
        )
        session = self.session
        # requests reads the proxy variables, ~/.netrc and the CA-bundle variables from the
        # environment again on every request (0.3-0.9 ms of CPU each, more than all of
        # slabridge's own work per issue): read them once, here, and tell it not to.
        session.proxies.update(requests.utils.get_environ_proxies(name))
        session.trust_env = False
        # Only reads are retried here: a write that timed out may have been applied, and
        # the next cycle checks the journal before writing again.
        retry = Retry(
            total=retries, connect=retries, read=retries, status=retries,
            backoff_factor=0.5, status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}), respect_retry_after_header=True,
            raise_on_status=False,
        )
        session.mount("http://", TimeoutAdapter(timeout, max_retries=retry))
        session.mount("https://", TimeoutAdapter(timeout, max_retries=retry))
        session.hooks["response"].append(self._count)
        self._channel: WriteChannel | None = None

    @property
    def session(self) -> requests.Session:
        """python-redmine's requests session, which every read goes through."""
        session: requests.Session = self.redmine.engine.session
        return session

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count an answer from Redmine and keep its clock (for the listing's watermark)."""
        self.requests_made += 1
        self.last_date = response.headers.get("Date")

    # --- reads -----------------------------------------------------------------------------

    def raw_request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    data: Any = None) -> Any:
        """python-redmine's request to a REST path (e.g. /users/current.json), its failures
        raised as python-redmine raises them."""
        return self.redmine.engine.request(method, f"{self.name}{path}", params=params,
                                           data=data)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                data: Any = None, issue: str | None = None) -> Any:
        """raw_request with its failures translated (for `issue`, if one is named)."""
        return self.errors.call(
            partial(self.raw_request, method, path, params=params, data=data), issue)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET a JSON document as python-redmine's engine.request does, parsed by orjson.

        Parsing the issue pages with the standard library's json (python-redmine's
        response.json()) took a tenth of a first cycle's local time; orjson takes a third
        of that. Every answer but a plain 200 with JSON goes to python-redmine's own
        processing, so errors are raised as they always were.
        """
        engine = self.redmine.engine
        response = engine.session.request("get", f"{self.name}{path}", params=params)
        if response.status_code == 200 and not response.history:
            with suppress(orjson.JSONDecodeError):
                return orjson.loads(response.content)
        return engine.process_response(response)

    def pages(self, path: str, container: str, params: Mapping[str, Any],
              first_answered: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged Redmine list, PAGE to a request; `first_answered` runs
        once the first page is in."""
        offset = 0
        while True:
            page = self.errors.call(partial(
                self.get_json, path, {**params, "limit": PAGE, "offset": offset}))
            if offset == 0 and first_answered is not None:
                first_answered()
            items = page.get(container, [])
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_count", 0)):
                return

    def probe(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """A GET of a REST path, its answer unjudged (for `slabridge doctor`)."""
        return self.session.get(f"{self.name}{path}", params=dict(params or {}))

    # --- writes ----------------------------------------------------------------------------

    def put_issue(self, key: str, path: str, body: bytes) -> None:
        """PUT an encoded JSON document to an issue, as python-redmine's issue.update does
        (its values are plain JSON here), its failures translated as `request` does.

        Sent through requests' connection pool for this Redmine but not through the session:
        see _send_put. Redmine answers a successful PUT with 204; that is all that runs
        between two writes (where the interpreter is cold again), so anything else is
        judged apart (_judge_answer).
        """
        try:
            answer = self._send_put(path, body)
            self.requests_made += 1  # its Date is not kept: only a listing's is (_count)
            if answer.status != NO_CONTENT:
                self._judge_answer(key, path, body, answer)
        except Exception as exc:
            self.errors.raise_translated(exc, key)

    def _judge_answer(self, key: str, path: str, body: bytes,
                      answer: urllib3.BaseHTTPResponse) -> None:
        """A write's answer other than 204. A redirect is an error that names where to: a
        write is not sent on to another address. Anything else (a 200 login page from a
        proxy, an error) becomes requests' response, read in full, and goes to
        python-redmine to judge, as issue.update would have."""
        channel = self._write_channel()
        request = requests.Request("PUT", f"{self.name}{path}", data=body,
                                   headers=channel.headers).prepare()
        response = channel.adapter.build_response(request, answer)
        _ = response.content  # read, so the connection goes back to the pool
        if response.is_redirect:
            raise TrackerError(
                f"issue #{key}: Redmine at {self.name} redirects writes (HTTP "
                f"{response.status_code}) to {response.headers.get('Location', '?')}: set "
                "tracker.url to that address"
            )
        self.redmine.engine.process_response(response)

    def _send_put(self, path: str, body: bytes) -> urllib3.BaseHTTPResponse:
        """One PUT through the urllib3 pool that requests' adapter keeps for this Redmine.

        The same TLS verification and CA bundle, proxy, timeout, connection retries and
        headers (API key, credentials in the URL) as through the session, without
        requests' per-request layers (settings merged, cookies parsed and sent back, hooks,
        redirects): a write measured 2.0-2.4 ms of CPU through the session and 1.0-1.1 ms
        this way on the local Redmine, several times slabridge's own work per issue
        (benchmarks/redmine_sync.py). A write that reached the server is never sent again.
        urllib3's errors are raised as requests' own, which `put_issue` maps. Any answer but a
        204 is returned unread, for requests to read.
        """
        channel = self._channel or self._write_channel()
        try:
            answer = channel.pool.urlopen(
                "PUT", channel.prefix + path, body=body, headers=channel.headers,
                redirect=False, assert_same_host=False, preload_content=False,
                decode_content=False, retries=channel.retries, timeout=channel.timeout,
            )
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.MaxRetryError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
                    reason, urllib3.exceptions.NewConnectionError):
                raise requests.Timeout(error) from None
            raise requests.ConnectionError(error) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise requests.ConnectionError(error) from None
        if answer.status == NO_CONTENT:
            # Nothing to read (drain_conn swallows a broken connection): the connection goes
            # back to the pool for the next write.
            answer.drain_conn()
            answer.release_conn()
        return answer

    def _write_channel(self) -> WriteChannel:
        """The pool, URL prefix, headers, retries and timeout of writes, taken from the
        session at the first write (python-redmine sets its headers when it is built; a
        pool that requests' pool manager drops stays open under urllib3 2)."""
        if self._channel is not None:
            return self._channel
        session = self.session
        settings = self.redmine.engine.requests
        # Prepared by the session: its headers and any credentials in the URL, as reads get.
        template = session.prepare_request(requests.Request("PUT", f"{self.name}/issues.json"))
        adapter = session.get_adapter(self.name)
        if not isinstance(adapter, TimeoutAdapter):
            raise TypeError(f"unexpected transport adapter for {self.name}: {adapter!r}")
        verify, cert = settings.get("verify", True), settings.get("cert")
        pool = adapter.get_connection_with_tls_context(template, verify,
                                                       proxies=session.proxies, cert=cert)
        adapter.cert_verify(pool, self.name, verify, cert)
        # The path with Redmine's own prefix (/redmine/issues.json), or the whole URL
        # without credentials when a plain-HTTP proxy forwards it.
        target = adapter.request_url(template, session.proxies)
        if not target.endswith("/issues.json"):
            raise TrackerError(f"cannot tell where to send writes for {self.name}: requests "
                               f"would send them to {target}")
        # Text throughout: python-redmine's headers and requests' own are str.
        headers = cast(dict[str, str], {
            name: value for name, value in template.headers.items()
            if name.lower() not in ("cookie", "content-length")})
        self._channel = WriteChannel(
            adapter=adapter, pool=pool, prefix=target.removesuffix("/issues.json"),
            headers={**headers, **JSON_HEADERS},
            # Only connecting is tried again: whatever reached Redmine may have been applied.
            retries=adapter.max_retries.new(read=False, status=0, other=0, redirect=0),
            timeout=urllib3.Timeout(connect=adapter.timeout, read=adapter.timeout),
        )
        return self._channel
