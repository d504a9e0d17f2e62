"""The triggers the benchmark compares, each behind one factory function.

- ``baseline``: ``HttpSensorTrigger`` from apache-airflow-providers-http, pointed at the fake
  endpoint's ``/404/...`` route (it fires on anything but a 404, so it keeps polling while
  downloading the same session body).
- ``ours``: :class:`airflow_provider_devin.triggers.devin.DevinSessionTrigger` (its async path is
  one shared ``aiohttp.ClientSession`` per event loop, with or without a proxy; the earlier
  ``ours-httpx`` proxy fallback and the hand-written h11 transport are gone).
- ``httpx-gated``, ``h11-asyncio`` and ``raw-asyncio``: references, not products. The least a
  trigger can do per poll with one shared ``httpx.AsyncClient`` (behind a semaphore), with h11 over
  asyncio streams, and with a bare keep-alive HTTP/1.1 client on asyncio streams; all parse the
  JSON and compare a status. They show how far
  ``ours`` is from the floor, and what a change to the hook would buy, when a target is missed.

A factory takes the session id and the poll interval and returns a ``BaseTrigger`` (or anything
with an async-generator ``run()`` and an async ``cleanup()``). Connections come from
``AIRFLOW_CONN_*`` variables set by :func:`connection_env`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

HTTP_CONN_ID = "bench_http"
DEVIN_CONN_ID = "bench_devin"
API_KEY = "apk_user_benchmark_key_0123456789"

TriggerFactory = Callable[[str, float], Any]

IMPLEMENTATIONS = ("baseline", "ours", "httpx-gated", "h11-asyncio", "raw-asyncio")


def connection_env(https_port: int, ca_file: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables (JSON form) for both triggers, pointing at the fake endpoint.

    The Devin connection names the run-time CA in its ``verify`` extra (a CA bundle path); the
    HTTP connection has no such extra for aiohttp, so the driver also sets ``SSL_CERT_FILE``.
    """
    http_conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "schema": "https",
        "port": https_port,
        # HttpAsyncHook turns the extras into request headers.
        "extra": {"Authorization": f"Bearer {API_KEY}"},
    }
    devin_conn = {
        "conn_type": "devin",
        "host": f"https://127.0.0.1:{https_port}",
        "password": API_KEY,
        "extra": {"verify": ca_file},
    }
    return {
        f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps(http_conn),
        f"AIRFLOW_CONN_{DEVIN_CONN_ID.upper()}": json.dumps(devin_conn),
    }


def baseline_trigger(session_id: str, poll_interval: float) -> Any:
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    # A "finished" session answers 200 on the plain route, so the baseline fires like ours does.
    prefix = "" if "finished" in session_id else "/404"
    return HttpSensorTrigger(
        endpoint=f"{prefix}/v1/sessions/{session_id}",
        http_conn_id=HTTP_CONN_ID,
        method="GET",
        poke_interval=poll_interval,
    )


def ours_trigger(session_id: str, poll_interval: float) -> Any:
    """The one place that knows how to build a ``DevinSessionTrigger``."""
    from airflow_provider_devin.triggers.devin import DevinSessionTrigger

    return DevinSessionTrigger(
        session_id=session_id,
        devin_conn_id=DEVIN_CONN_ID,
        poll_interval=poll_interval,
    )


class _SharedResource:
    """A per-process resource opened by the first trigger and closed by the last one to leave."""

    def __init__(self, opener: Callable[[], Any], closer: Callable[[Any], Any]) -> None:
        self._opener = opener
        self._closer = closer
        self.value: Any = None
        self.users = 0

    def acquire(self) -> Any:
        if self.value is None:
            self.value = self._opener()
        self.users += 1
        return self.value

    async def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.value is not None:
            value, self.value = self.value, None
            await self._closer(value)


class _HttpxGatedTrigger:
    """Reference: one shared ``httpx.AsyncClient``, at most 32 requests inside it at a time.

    The semaphore matters: httpcore's pool rescans every queued request against every connection on
    each assignment, so hundreds of requests queued inside one client cost O(N x connections) each.
    """

    resource: _SharedResource | None = None
    gate: asyncio.Semaphore | None = None

    def __init__(self, session_id: str, poll_interval: float, base_url: str) -> None:
        self.session_id = session_id
        self.poll_interval = poll_interval
        self.base_url = base_url

    @classmethod
    def _shared(cls, base_url: str) -> _SharedResource:
        if cls.resource is None:
            import httpx

            def opener() -> Any:
                limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
                return httpx.AsyncClient(
                    base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, limits=limits
                )

            cls.resource = _SharedResource(opener, lambda client: client.aclose())
            cls.gate = asyncio.Semaphore(32)
        return cls.resource

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        shared = self._shared(self.base_url)
        client = shared.acquire()
        gate = type(self).gate
        assert gate is not None
        try:
            while True:
                async with gate:
                    response = await client.get(f"/v1/sessions/{self.session_id}")
                details = json.loads(response.content)
                if details.get("status_enum") in ("finished", "expired"):
                    yield {"status": details["status_enum"], "session_id": self.session_id}
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            await shared.release()

    async def cleanup(self) -> None:
        return None


class _RawPool:
    """Keep-alive HTTP/1.1 GETs over asyncio streams: the cheapest a Python trigger can poll.

    Benchmark reference only (Content-Length bodies, no redirects, no chunking, no retries).
    """

    def __init__(self, port: int) -> None:
        import ssl

        self._port = port
        self._ssl = ssl.create_default_context()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._headers = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {API_KEY}\r\nAccept: application/json\r\n"

    async def get(self, path: str) -> bytes:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self._port, ssl=self._ssl, server_hostname="127.0.0.1"
            )
        try:
            writer.write(f"GET {path} HTTP/1.1\r\n{self._headers}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        self._idle.append((reader, writer))
        return body

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            try:
                await writer.wait_closed()
            except OSError:
                pass


class _H11Pool(_RawPool):
    """Like :class:`_RawPool`, but h11 (already installed with httpx) parses the responses, so
    chunked bodies, keep-alive rules and malformed responses are handled by a real HTTP library."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._h11_headers = [
            ("Host", f"127.0.0.1:{port}"),
            ("Authorization", f"Bearer {API_KEY}"),
            ("Accept", "application/json"),
        ]
        self._h11_idle: list[tuple[Any, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> bytes:
        import h11

        if self._h11_idle:
            conn, reader, writer = self._h11_idle.pop()
        else:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self._port, ssl=self._ssl, server_hostname="127.0.0.1"
            )
            conn = h11.Connection(h11.CLIENT)
        try:
            writer.write(conn.send(h11.Request(method="GET", target=path, headers=self._h11_headers)))
            conn.send(h11.EndOfMessage())
            parts: list[bytes] = []
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Data):
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("server closed the connection mid-response")
        except BaseException:
            writer.close()
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._h11_idle.append((conn, reader, writer))
        else:
            writer.close()
        return b"".join(parts)

    async def aclose(self) -> None:
        idle, self._h11_idle = self._h11_idle, []
        for _, _, writer in idle:
            writer.close()
        for _, _, writer in idle:
            try:
                await writer.wait_closed()
            except OSError:
                pass


class _RawTrigger:
    """Reference: :class:`_RawPool` shared per process, ``json.loads``, compare a status."""

    resource: _SharedResource | None = None

    pool_class: type[_RawPool] = _RawPool

    def __init__(self, session_id: str, poll_interval: float, port: int) -> None:
        self.session_id = session_id
        self.poll_interval = poll_interval
        self.port = port

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        cls = type(self)
        if cls.resource is None:
            port, pool_class = self.port, cls.pool_class
            cls.resource = _SharedResource(lambda: pool_class(port), lambda pool: pool.aclose())
        shared = cls.resource
        pool = shared.acquire()
        try:
            while True:
                details = json.loads(await pool.get(f"/v1/sessions/{self.session_id}"))
                if details.get("status_enum") in ("finished", "expired"):
                    yield {"status": details["status_enum"], "session_id": self.session_id}
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            await shared.release()

    async def cleanup(self) -> None:
        return None


class _H11Trigger(_RawTrigger):
    """Reference: :class:`_H11Pool` shared per process."""

    resource = None
    pool_class = _H11Pool


def factory(name: str, https_port: int) -> TriggerFactory:
    """The trigger factory called ``name`` (one of :data:`IMPLEMENTATIONS`)."""
    if name == "baseline":
        return baseline_trigger
    if name == "ours":
        return ours_trigger
    if name == "httpx-gated":
        base_url = f"https://127.0.0.1:{https_port}"
        return lambda session_id, interval: _HttpxGatedTrigger(session_id, interval, base_url)
    if name == "h11-asyncio":
        return lambda session_id, interval: _H11Trigger(session_id, interval, https_port)
    if name == "raw-asyncio":
        return lambda session_id, interval: _RawTrigger(session_id, interval, https_port)
    raise ValueError(f"unknown trigger implementation {name!r}; expected one of {IMPLEMENTATIONS}")


def available(name: str) -> str | None:
    """None if the implementation can be imported here, else why not (e.g. not merged yet)."""
    try:
        if name == "ours":
            import airflow_provider_devin.triggers.devin as module

            getattr(module, "DevinSessionTrigger")  # noqa: B009
        elif name == "baseline":
            import airflow.providers.http.triggers.http  # noqa: F401
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
