"""A prototype of the async transport the benchmarks recommend for ``DevinHook`` (impl ``ours-h11``).

Measured, not shipped: it shows what ``DevinSessionTrigger`` costs per poll when the hook's async
path keeps everything it has (request building, the tenacity retry policy, ``interpret_response``,
the status policy in the trigger) and only swaps the shared ``httpx.AsyncClient`` for keep-alive
connections on asyncio streams with h11 (already installed with httpx) parsing the responses.

Why: httpcore's connection pool rescans every queued request against every pooled connection
(``_assign_requests_to_connections``, with a ``getpeername`` syscall per connection check), so
hundreds of triggers sharing one client spend most of their CPU there and fall behind their poll
interval. An idle-connection stack per (event loop, connection settings) makes taking and
returning a connection O(1).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit


class _Headers(dict[str, str]):
    """Lower-cased response headers with a case-insensitive ``get``."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class _Response:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: _Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class H11Client:
    """``request(method, path, params=, json=)`` over a stack of idle keep-alive connections."""

    def __init__(
        self, base_url: str, headers: dict[str, str], verify: Any, timeout: float, max_connections: int = 8
    ) -> None:
        import h11

        self._h11 = h11
        parts = urlsplit(base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        host_header = parts.netloc
        self._headers = [("Host", host_header), *headers.items()]
        self._timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        if self._tls:
            if isinstance(verify, ssl.SSLContext):
                self._ssl = verify
            else:
                self._ssl = ssl.create_default_context()
                if verify is False:
                    self._ssl.check_hostname = False
                    self._ssl.verify_mode = ssl.CERT_NONE
        self._idle: list[tuple[Any, asyncio.StreamReader, asyncio.StreamWriter]] = []
        # Few connections on purpose: each asyncio TLS connection holds a 256 KiB buffer (Python
        # 3.11 sslproto), and one keep-alive connection serves hundreds of 1 s polls. The
        # semaphore is a FIFO with O(1) acquire/release, unlike httpcore's pool queue.
        self._gate = asyncio.Semaphore(max_connections)
        self.is_closed = False

    async def request(self, method: str, path: str, params: Any = None, json: Any = None) -> _Response:
        async with self._gate, asyncio.timeout(self._timeout):
            return await self._request(method, path, params, json)

    async def _request(self, method: str, path: str, params: Any, body_json: Any) -> _Response:
        h11 = self._h11
        target = self._prefix + path + (f"?{urlencode(list(params))}" if params else "")
        headers = self._headers
        body = b""
        if body_json is not None:
            body = json.dumps(body_json).encode()
            headers = [*headers, ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if self._idle:
            conn, reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._ssl, server_hostname=self._host if self._ssl else None
            )
            conn = h11.Connection(h11.CLIENT)
        try:
            data = conn.send(h11.Request(method=method, target=target, headers=headers))
            if body:
                data += conn.send(h11.Data(data=body))
            writer.write(data + conn.send(h11.EndOfMessage()))
            status = 0
            response_headers = _Headers()
            parts: list[bytes] = []
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    chunk = await reader.read(65536)
                    conn.receive_data(chunk)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    for name, value in event.headers:
                        response_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
                elif isinstance(event, h11.Data):
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("the server closed the connection before the response ended")
        except BaseException:
            writer.close()
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not self.is_closed:
            conn.start_next_cycle()
            self._idle.append((conn, reader, writer))
        else:
            writer.close()
        return _Response(status, response_headers, b"".join(parts))

    async def aclose(self) -> None:
        self.is_closed = True
        idle, self._idle = self._idle, []
        for _, _, writer in idle:
            writer.close()
        for _, _, writer in idle:
            try:
                await writer.wait_closed()
            except OSError:
                pass


_clients: dict[tuple[int, str], list[Any]] = {}


@asynccontextmanager
async def lease_h11_client(settings: Any) -> AsyncIterator[H11Client]:
    """One :class:`H11Client` per (event loop, connection), closed when its last lease ends."""
    key = (id(asyncio.get_running_loop()), repr(settings))
    entry = _clients.get(key)
    if entry is None:
        client = H11Client(settings.base_url, settings.headers("async"), settings.ssl_context(), settings.timeout)
        entry = _clients[key] = [client, 0]
    entry[1] += 1
    try:
        yield entry[0]
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            if _clients.get(key) is entry:
                del _clients[key]
            await entry[0].aclose()


def h11_trigger(session_id: str, poll_interval: float) -> Any:
    """``DevinSessionTrigger`` whose hook leases an :class:`H11Client` instead of the httpx client."""
    from airflow_provider_devin.hooks._async import AsyncDevinAPI
    from airflow_provider_devin.hooks.devin import DevinHook
    from airflow_provider_devin.triggers.devin import DevinSessionTrigger
    from benchmarks.impls import DEVIN_CONN_ID

    class H11DevinHook(DevinHook):
        @asynccontextmanager
        async def async_api(self) -> AsyncIterator[Any]:
            settings = await self.aget_settings()
            async with lease_h11_client(settings) as client:
                yield AsyncDevinAPI(settings, client, self.log, self._asleep)  # type: ignore[arg-type]

    class H11DevinSessionTrigger(DevinSessionTrigger):
        def _hook(self) -> Any:
            return H11DevinHook(devin_conn_id=self.devin_conn_id)

    return H11DevinSessionTrigger(session_id=session_id, devin_conn_id=DEVIN_CONN_ID, poll_interval=poll_interval)
