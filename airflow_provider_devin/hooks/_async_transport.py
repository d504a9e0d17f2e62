"""The triggerer's HTTP transport: a thin adapter over one ``aiohttp.ClientSession``.

aiohttp is what Airflow's own ``HttpAsyncHook`` uses; at the triggerer's default capacity it costs
the same CPU per poll as the hand-written HTTP/1.1 client it replaced (docs/performance.md). The
adapter only sends: the retry policy (``_retry``) and the mapping of answers to errors (``_http``)
are the sync path's. What it decides itself:

* **Trust and proxy** come from :meth:`ConnectionSettings.route` (the same function the sync path
  calls), passed to aiohttp explicitly as an ``ssl.SSLContext`` and ``proxy=``; aiohttp's own
  ``trust_env`` stays off (it would not read ``REQUESTS_CA_BUNDLE``).
* **Pool**: at most ``settings.async_pool_size`` connections (``0``: no limit). A request waiting
  for a free connection waits within its own ``timeout``; when that runs out it fails as never
  sent, like a connect timeout (and the retry policy treats it so).
* **Timeouts**, as on the sync path (requests' ``(connect, read)``): ``connect_timeout`` bounds the
  TCP/TLS connect, ``timeout`` bounds getting a connection at all (queueing included) and each
  wait for response bytes.
* **Stale keep-alive connections**: aiohttp repeats an idempotent request (GET, PUT, DELETE) once
  when the server dropped the connection before answering; a POST is reported as possibly sent.
* No redirects (the async path only reads and deletes sessions).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from urllib.parse import urlencode

import aiohttp

from airflow_provider_devin.hooks._http import NO_BODY, ApiRequest
from airflow_provider_devin.hooks._settings import ConnectionSettings, Route

#: An idle connection older than this is closed instead of reused: servers and load balancers drop
#: idle connections after a while, and a request on one that is gone costs a failed round trip.
KEEPALIVE_EXPIRY = 60.0


class TransportError(Exception):
    """No HTTP response: ``reason`` says why, ``request_sent`` whether Devin may have seen the request,
    ``is_tls`` whether the TLS layer refused the connection (a certificate or handshake problem)."""

    def __init__(self, reason: str, *, request_sent: bool, is_tls: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_sent = request_sent
        self.is_tls = is_tls


class Response:
    """A complete response: what :func:`~airflow_provider_devin.hooks._http.interpret_response` reads."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # case-insensitive (Retry-After)
        self.content = content


class AsyncTransport:
    """``send(request)`` over one ``aiohttp.ClientSession`` for one connection's settings.

    Build it inside the event loop that will use it.

    :param settings: The connection settings (base URL, headers, timeouts, pool size).
    :param route: Trust and proxy for the base URL (default: ``settings.route()``).
    """

    def __init__(self, settings: ConnectionSettings, route: Route | None = None) -> None:
        self.route = route or settings.route()
        self._base = settings.base_url
        self._timeout = settings.timeout
        self._connect_timeout = settings.connect_timeout
        self._proxy = self.route.proxy
        context = self.route.ssl_context() if settings.base_url.startswith("https:") or self._proxy else False
        if isinstance(context, ssl.SSLContext):
            context.set_alpn_protocols(["http/1.1"])
        connector = aiohttp.TCPConnector(
            limit=settings.async_pool_size,
            limit_per_host=0,
            ssl=context,
            keepalive_timeout=KEEPALIVE_EXPIRY,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=settings.headers("async"),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.timeout,
                sock_connect=settings.connect_timeout,
                sock_read=settings.timeout,
            ),
            trust_env=False,
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    @property
    def is_closed(self) -> bool:
        """Whether the client is closed."""
        return self._session.closed

    @property
    def connector(self) -> aiohttp.BaseConnector:
        """The connection pool (for tests)."""
        connector = self._session.connector
        assert connector is not None
        return connector

    def _url(self, request: ApiRequest) -> str:
        target = self._base + request.path
        if request.params:
            target += "?" + urlencode(request.params)  # repeated parameters stay repeated, in order
        return target

    async def send(self, request: ApiRequest) -> Response:
        """Send ``request`` and read the whole response.

        :raises TransportError: when no complete response arrived.
        """
        headers = None
        data = None
        if request.json_body is not NO_BODY:
            data = json.dumps(request.json_body).encode()
            headers = {"Content-Type": "application/json"}
        try:
            async with self._session.request(
                request.method,
                self._url(request),
                data=data,
                headers=headers,
                proxy=self._proxy,
                allow_redirects=False,
            ) as response:
                content = await response.read()
                return Response(response.status, response.headers, content)
        except aiohttp.ClientError as err:
            raise _transport_error(err, self._timeout) from None
        except asyncio.TimeoutError:
            # Not expected (aiohttp raises its own ConnectionTimeoutError / SocketTimeoutError,
            # above); if one escapes, the request may have gone out.
            raise TransportError(f"read timeout: no response within {self._timeout:g} s", request_sent=True) from None

    async def aclose(self) -> None:
        """Close the session and its connections (none is in use: the last lease has left)."""
        await self._session.close()


def _transport_error(err: aiohttp.ClientError, timeout: float) -> TransportError:
    """What an aiohttp failure means for the caller: why, and whether Devin may have seen the request."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        detail = getattr(err.certificate_error, "verify_message", None) or err.certificate_error
        return TransportError(f"TLS: certificate verify failed ({detail})", request_sent=False, is_tls=True)
    if isinstance(err, aiohttp.ClientConnectorSSLError):
        return TransportError(f"TLS: TLS error ({err.os_error})", request_sent=False, is_tls=True)
    if isinstance(err, aiohttp.ClientProxyConnectionError):
        return TransportError(f"proxy unreachable: {err.os_error}", request_sent=False)
    if isinstance(err, aiohttp.ClientHttpProxyError):
        return TransportError(f"the proxy refused the tunnel: HTTP {err.status} {err.message}", request_sent=False)
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return TransportError("DNS lookup failed: the host name does not resolve", request_sent=False)
    if isinstance(err, aiohttp.ClientConnectorError):
        if isinstance(err.os_error, ConnectionRefusedError):
            return TransportError("connection refused: nothing listens on that host and port", request_sent=False)
        return TransportError(f"connection refused or unreachable ({err.os_error})", request_sent=False)
    if isinstance(err, aiohttp.ConnectionTimeoutError):
        return TransportError(
            f"connect timeout: no connection (or no free pooled connection) within the timeout ({timeout:g} s)",
            request_sent=False,
        )
    if isinstance(err, aiohttp.ServerTimeoutError):
        return TransportError(f"read timeout: no response within {timeout:g} s", request_sent=True)
    if isinstance(err, aiohttp.ClientSSLError):
        return TransportError(f"TLS: TLS error ({err})", request_sent=True, is_tls=True)
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return TransportError("connection dropped: the server closed it without a complete answer", request_sent=True)
    return TransportError(f"connection dropped ({type(err).__name__}: {err})", request_sent=True)
