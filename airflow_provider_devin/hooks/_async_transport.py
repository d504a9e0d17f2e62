"""The triggerer's HTTP transport: keep-alive HTTP/1.1 on asyncio streams, parsed by h11.

Why not a shared ``httpx.AsyncClient``: httpcore's pool rescans every queued request against every
pooled connection on each request (with a ``getpeername`` system call per check), so hundreds of
triggers sharing one client spent 2.3x the CPU of a new TLS connection per poll and kept only 31 %
of their poll rate (docs/performance.md). Here taking and returning a connection is O(1): a stack
of idle connections behind an ``asyncio.Semaphore``. h11 is installed with httpx (and uvicorn),
which Airflow core depends on, so this adds no dependency.

What it does not do, on purpose: redirects (the async path only reads and deletes sessions),
proxies (``choose_transport`` hands those to httpx), HTTP/2, request bodies other than JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
import urllib.request
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import h11

from airflow_provider_devin.hooks._http import NO_BODY, ApiRequest
from airflow_provider_devin.hooks._settings import ConnectionSettings

T = TypeVar("T")

#: At most this many sockets per client. Few on purpose: each asyncio TLS connection holds a
#: 256 KiB buffer (Python 3.11 sslproto) and one keep-alive connection serves hundreds of 1 s polls;
#: an unbounded pool opened thousands of connections under load in the benchmarks.
MAX_CONNECTIONS = 8

#: An idle connection older than this is closed instead of reused: servers and load balancers drop
#: idle connections after a while, and a request on one that is gone costs a failed round trip.
KEEPALIVE_EXPIRY = 60.0

_READ_SIZE = 65536

if sys.version_info >= (3, 11):

    async def _within(awaitable: Awaitable[T], seconds: float) -> T:
        # asyncio.timeout arms one timer; wait_for on 3.11 wraps the awaitable in a new task.
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10 has no asyncio.timeout

    async def _within(awaitable: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(awaitable, seconds)


class TransportError(Exception):
    """No HTTP response: ``reason`` says why, ``request_sent`` whether Devin may have seen the request,
    ``is_tls`` whether the TLS layer refused the connection (a certificate or handshake problem)."""

    def __init__(self, reason: str, *, request_sent: bool, is_tls: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_sent = request_sent
        self.is_tls = is_tls


class ResponseHeaders(dict[str, str]):
    """Response headers, lower-cased, with case-insensitive lookups (``Retry-After``)."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class Response:
    """A complete response: what :func:`~airflow_provider_devin.hooks._http.interpret_response` reads."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class _Stale(Exception):
    """A reused connection failed before any response byte: the server had probably closed it."""


class _FirstByteMissing(Exception):
    """No response byte arrived: on a reused connection that means it was stale."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Connection:
    __slots__ = ("h11", "idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        # Cheap checks before reuse: the loop has already seen the server's FIN, or the connection
        # sat idle long enough that a server would have dropped it.
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < KEEPALIVE_EXPIRY

    def abort(self) -> None:
        # abort, not close: no TLS close_notify handshake to wait for, the descriptor goes at once.
        self.writer.transport.abort()


def client_ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """The TLS context for ``settings.verify`` (True, False or a CA bundle path), as httpx builds it.

    ``True`` trusts ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, else certifi's bundle (what the
    sync path, through requests, trusts too), else the system store.
    """
    verify = settings.verify
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        try:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
        except ImportError:  # pragma: no cover - certifi comes with requests and httpx
            context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def proxy_for(base_url: str) -> str | None:
    """The proxy URL that applies to ``base_url`` per the environment (honouring ``no_proxy``), or None."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname:
        return None
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy


class H11Transport:
    """``send(request)`` over at most :data:`MAX_CONNECTIONS` keep-alive connections to one base URL.

    :param settings: The connection settings (base URL, headers, TLS verification, timeouts).
    :param max_connections: How many requests may be in flight at once; the rest wait in FIFO order.
    """

    def __init__(self, settings: ConnectionSettings, max_connections: int = MAX_CONNECTIONS) -> None:
        parts = urlsplit(settings.base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = [("Host", parts.netloc), *settings.headers("async").items()]
        self._ssl = client_ssl_context(settings) if self._tls else None
        self._connect_timeout = settings.connect_timeout
        self._timeout = settings.timeout
        self._idle: list[_Connection] = []
        self._gate = asyncio.Semaphore(max_connections)
        self._opened = 0
        self.is_closed = False

    @property
    def connections_opened(self) -> int:
        """How many connections this transport has opened so far (for tests)."""
        return self._opened

    async def send(self, request: ApiRequest) -> Response:
        """Send ``request`` and read the whole response.

        :raises TransportError: when no complete response arrived.
        """
        if self.is_closed:
            raise TransportError("the client is closed", request_sent=False)
        payload = self._encode(request)
        if self._gate.locked():
            try:
                await _within(self._gate.acquire(), self._timeout)
            except asyncio.TimeoutError:
                raise TransportError(
                    f"no free connection within {self._timeout:g} s (PoolTimeout)", request_sent=False
                ) from None
        else:
            await self._gate.acquire()  # free: returns without suspending
        try:
            connection = self._take_idle()
            if connection is not None:
                try:
                    return await self._exchange(connection, payload, reused=True)
                except _Stale:
                    if not request.replay_safe:
                        raise TransportError(
                            "the server closed the kept-alive connection before answering", request_sent=True
                        ) from None
                    # The server closed the idle connection as we sent: repeating a replay-safe
                    # request once on a new connection is what every HTTP client does here.
            connection = await self._connect()
            return await self._exchange(connection, payload, reused=False)
        finally:
            self._gate.release()

    def _encode(self, request: ApiRequest) -> tuple[h11.Request, bytes]:
        target = self._prefix + request.path
        if request.params:
            target += "?" + urlencode(request.params)
        headers = self._headers
        body = b""
        if request.json_body is not NO_BODY:
            body = json.dumps(request.json_body).encode()
            headers = [*headers, ("Content-Type", "application/json")]
        if body or request.method in ("POST", "PUT", "PATCH"):
            headers = [*headers, ("Content-Length", str(len(body)))]
        return h11.Request(method=request.method, target=target, headers=headers), body

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to be gone
            if connection.usable(now):
                return connection
            connection.abort()
        return None

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await _within(
                asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                ),
                self._connect_timeout,
            )
        except asyncio.TimeoutError:
            raise TransportError(
                f"no connection within {self._connect_timeout:g} s (ConnectTimeout)", request_sent=False
            ) from None
        except OSError as err:
            # Refused, unreachable, DNS (gaierror) or the TLS handshake (certificate): nothing was sent.
            is_tls = isinstance(err, ssl.SSLError)
            raise TransportError(
                f"{'TLS' if is_tls else 'ConnectError'}: {err}", request_sent=False, is_tls=is_tls
            ) from None
        self._opened += 1
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, payload: tuple[h11.Request, bytes], *, reused: bool) -> Response:
        """One request/response on ``connection``; it goes back to the idle stack only when clean."""
        conn = connection.h11
        head, body = payload
        try:
            try:
                data = conn.send(head)
                if body:
                    data += conn.send(h11.Data(data=body))
                connection.writer.write(data + conn.send(h11.EndOfMessage()))  # type: ignore[operator]
            except (OSError, RuntimeError):
                if reused:
                    raise _Stale from None  # the transport was already gone: nothing went out
                raise TransportError(
                    "the connection closed before the request was written", request_sent=False
                ) from None
            # One deadline for the whole response (httpx applies its read timeout per read): one
            # timer per request, and Devin's JSON answers are small.
            status, headers, content = await _within(self._read_response(connection), self._timeout)
        except _FirstByteMissing as err:
            connection.abort()
            if reused:
                raise _Stale from None
            raise TransportError(err.reason, request_sent=True) from None
        except asyncio.TimeoutError:
            connection.abort()
            raise TransportError(f"no response within {self._timeout:g} s (ReadTimeout)", request_sent=True) from None
        except OSError as err:  # reset, or a TLS error (ssl.SSLError is an OSError)
            connection.abort()
            raise TransportError(f"ReadError: {err or type(err).__name__}", request_sent=True) from None
        except h11.ProtocolError as err:
            connection.abort()
            raise TransportError(f"RemoteProtocolError: {err}", request_sent=True) from None
        except BaseException:
            # Cancelled mid-request (a trigger ended): the connection is half-used, never reuse it.
            connection.abort()
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not self.is_closed:
            conn.start_next_cycle()
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            # Connection: close from the server, or a body delimited by the close.
            connection.abort()
        return Response(status, headers, content)

    async def _read_response(self, connection: _Connection) -> tuple[int, ResponseHeaders, bytes]:
        conn = connection.h11
        reader = connection.reader
        got_bytes = False
        status = 0
        headers = ResponseHeaders()
        parts: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    chunk = await reader.read(_READ_SIZE)
                except OSError as err:
                    if not got_bytes:
                        raise _FirstByteMissing(f"ReadError: {err or type(err).__name__}") from None
                    raise
                if not chunk and not got_bytes:
                    # EOF before a single response byte (h11 would call it a protocol error): on a
                    # reused connection, the server had closed it while it sat idle.
                    raise _FirstByteMissing("RemoteProtocolError: the server closed the connection without a response")
                got_bytes = True
                conn.receive_data(chunk)
            elif isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    headers[name.decode("latin-1")] = value.decode("latin-1")
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, b"".join(parts)
            # h11.InformationalResponse (1xx): nothing to keep; read on.

    async def aclose(self) -> None:
        """Close every idle connection (none is in use: the last lease has left)."""
        self.is_closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.abort()
        if idle:
            await asyncio.sleep(0)  # let the transports run connection_lost, which closes the sockets


class HttpxTransport:
    """The same ``send`` over an ``httpx.AsyncClient``: for hosts reached through a proxy.

    :param settings: The connection settings.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=settings.headers("async"),
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout, pool=settings.timeout),
            verify=settings.ssl_context(),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=KEEPALIVE_EXPIRY),
            follow_redirects=False,
            trust_env=True,  # the proxy settings are why this transport was chosen
        )

    @property
    def is_closed(self) -> bool:
        """Whether the client is closed."""
        return self._client.is_closed

    async def send(self, request: ApiRequest) -> Response:
        """Send ``request`` and read the whole response.

        :raises TransportError: when no complete response arrived.
        """
        httpx = self._httpx
        try:
            response = await self._client.request(
                request.method,
                request.path,
                params=request.params or None,
                json=None if request.json_body is NO_BODY else request.json_body,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            raise TransportError(type(err).__name__, request_sent=False) from None
        except httpx.TransportError as err:
            # Read timeout, reset or protocol error after the request went out: Devin may have acted on it.
            raise TransportError(type(err).__name__, request_sent=True) from None
        return Response(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self._client.aclose()


AsyncTransport = H11Transport | HttpxTransport


def choose_transport(settings: ConnectionSettings) -> AsyncTransport:
    """httpx when the environment routes ``settings.base_url`` through a proxy, else the h11 transport."""
    if proxy_for(settings.base_url) is not None:
        return HttpxTransport(settings)
    return H11Transport(settings)
