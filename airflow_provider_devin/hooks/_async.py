"""The async path used on the triggerer.

A triggerer may hold hundreds of Devin waits in one event loop. Instead of one TCP+TLS connection
per poll, every trigger of a loop that uses the same connection settings (and the same trust and
proxy, see ``ConnectionSettings.route``) leases one shared transport: one ``aiohttp.ClientSession``
with its keep-alive pool (``_async_transport``). The last lease to leave closes it, so nothing
outlives its users and no socket leaks when triggers start, finish or are cancelled at any time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Unpack, cast

from airflow_provider_devin.api_types import SessionDetails, SessionResponse, SessionSummary
from airflow_provider_devin.hooks._async_transport import AsyncTransport, TransportError
from airflow_provider_devin.hooks._backoff import BackoffGate, backoff_gate
from airflow_provider_devin.hooks._dialect import ApiDialect, Page, SnapshotReader
from airflow_provider_devin.hooks._http import (
    ApiRequest,
    connection_error,
    interpret_response,
    log_response,
)
from airflow_provider_devin.hooks._listing import SessionListQuery, session_page_request
from airflow_provider_devin.hooks._resolve import DialectResolver
from airflow_provider_devin.hooks._retry import acall_with_retries
from airflow_provider_devin.hooks._settings import ConnectionSettings
from airflow_provider_devin.hooks._v3 import MAX_PAGE_SIZE
from airflow_provider_devin.session import MessagePosition, SessionSnapshot, SessionView

#: Sessions per batch read (v3's largest page, ``first=200``).
BATCH_SIZE = MAX_PAGE_SIZE


class _SharedClient:
    __slots__ = ("client", "users")

    def __init__(self, client: AsyncTransport) -> None:
        self.client = client
        self.users = 0


_shared_clients: dict[tuple[Any, ...], _SharedClient] = {}


def open_client_count() -> int:
    """How many shared async clients are open in this process (for tests and benchmarks)."""
    return len(_shared_clients)


@asynccontextmanager
async def lease_client(settings: ConnectionSettings) -> AsyncIterator[AsyncTransport]:
    """Lease the event loop's shared transport for ``settings``; closed when the last lease ends."""
    loop = asyncio.get_running_loop()
    route = settings.route()
    key = (
        id(loop),
        settings.conn_id,
        settings.base_url,
        hash(settings.api_key),
        settings.timeout,
        settings.connect_timeout,
        settings.async_pool_size,
        route,
    )
    shared = _shared_clients.get(key)
    if shared is None or shared.client.is_closed:
        # No await between the lookup and the insert: concurrent triggers cannot build two clients.
        shared = _SharedClient(AsyncTransport(settings, route))
        _shared_clients[key] = shared
    shared.users += 1
    try:
        yield shared.client
    finally:
        shared.users -= 1
        if shared.users == 0:
            if _shared_clients.get(key) is shared:
                del _shared_clients[key]
            await shared.client.aclose()


class AsyncDevinAPI:
    """Async Devin calls over a leased client; obtained from :meth:`DevinHook.async_api`.

    The same dialects build the requests as on the sync path, under the same retry policy and
    error mapping; :class:`~airflow_provider_devin.hooks._dialect.SnapshotReader` assembles
    :meth:`read_session` exactly as the sync hook does.

    :param settings: The connection settings.
    :param client: The leased shared transport.
    :param logger: Where retries are logged.
    :param sleep: The coroutine used to wait between retries (tests pass a fake clock).
    :param resolver: The hook's dialect resolver (the v3 org is resolved once per hook instance).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        client: AsyncTransport,
        logger: Any,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        resolver: DialectResolver | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._log = logger
        self._sleep = sleep
        self._resolver = resolver or DialectResolver(settings)
        #: The connection's read timeout in seconds (one request's own bound).
        self.timeout: float = settings.timeout
        #: ``"v1"`` or ``"v3"``.
        self.api_version: str = settings.api_version

    @property
    def gate(self) -> BackoffGate:
        """The connection's shared backoff gate in this event loop (every request passes through it;
        :func:`~airflow_provider_devin.hooks._backoff.backoff_gate` keeps one per loop and credential)."""
        return backoff_gate(self._settings)

    async def dialect(self) -> ApiDialect:
        """The connection's dialect; on v3 without an ``org_id`` extra, ``GET /v3/self`` the first time."""
        return await self._resolver.aget(self.call)

    async def org_id(self) -> str | None:
        """The v3 organization (``None`` on v1 without the extra), resolved without blocking the loop."""
        if self._settings.api_version == "v1":
            return self._settings.org_id
        return cast(str, getattr(await self.dialect(), "org_id", None))

    def session_view(self, body: Mapping[str, Any]) -> SessionView:
        """A session body as the normalised view (no I/O).

        :param body: What ``get_session`` / ``list_sessions`` returned.
        """
        return self._resolver.validating().read_session(body)

    async def _send(self, build: Callable[[ApiDialect], ApiRequest]) -> Any:
        if self._resolver.resolved is None:
            build(self._resolver.validating())  # bad input fails before any request, /v3/self included
        return await self.call(build(await self.dialect()))

    async def get_session(self, session_id: str) -> SessionDetails | SessionResponse:
        """Fetch a session as Devin returns it (v1 details; v3 ``SessionResponse``).

        :param session_id: The session id as Devin returned it (``devin-…``).
        """
        return cast(SessionDetails | SessionResponse, await self._send(lambda d: d.get_session(session_id)))

    async def read_session(self, session_id: str, position: MessagePosition | None = None) -> SessionSnapshot:
        """The normalised view plus the messages new since ``position`` (as ``DevinHook.read_session``).

        :param session_id: The session id as Devin returned it.
        :param position: Where the previous read stopped (``None``: from the first message).
        """
        self._resolver.validating().get_session(session_id)
        reader = SnapshotReader(await self.dialect(), session_id, position)
        reader.feed_session(await self.call(reader.session_request()))
        return await self._read_messages(reader)

    async def read_listed_session(
        self,
        session_id: str,
        body: Mapping[str, Any],
        position: MessagePosition | None = None,
        *,
        read_messages: bool = True,
    ) -> SessionSnapshot:
        """:meth:`read_session` from a session body a list already returned (a batch poll).

        :param session_id: The session id.
        :param body: Its item from :meth:`list_sessions_by_id`.
        :param position: Where the previous read stopped.
        :param read_messages: Fetch the messages new since ``position`` (``False``: the snapshot
            carries none and keeps ``position``; for a session the caller saw unchanged).
        """
        reader = SnapshotReader(await self.dialect(), session_id, position)
        reader.feed_session(body)
        if not read_messages:
            reader.skip_messages()
        return await self._read_messages(reader)

    async def _read_messages(self, reader: SnapshotReader) -> SessionSnapshot:
        while (request := reader.next_message_request()) is not None:
            reader.feed_messages(await self.call(request))
        return reader.snapshot()

    async def list_sessions_by_id(self, session_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Several sessions in one request (v3 ``session_ids=``, pages followed), keyed by ``devin-`` id.

        Keys are ``devin-`` prefixed whether or not Devin sent the prefix (see ``_v3.devin_id``).

        The batch read behind coalesced polling. A session Devin did not return is simply absent
        (the caller reads it on its own). Up to :data:`BATCH_SIZE` ids per call, in one request
        unless Devin pages smaller.

        :param session_ids: The sessions to read (1 to ``BATCH_SIZE`` ids).
        :raises ValueError: on v1 (its list cannot filter by id), or for more than ``BATCH_SIZE`` ids.
        """
        if self._settings.api_version != "v3":
            raise ValueError("list_sessions_by_id needs Devin API v3 (the v1 list cannot filter by session id).")
        if not 0 < len(session_ids) <= BATCH_SIZE:
            raise ValueError(f"session_ids must hold 1 to {BATCH_SIZE} ids, got {len(session_ids)}.")
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        for _ in range(len(session_ids) + 1):  # every page holds at least one session, or it is the last
            page = await self.list_sessions_page(limit=BATCH_SIZE, cursor=cursor, session_ids=session_ids)
            for item in page.items:
                sid = item.get("session_id") if isinstance(item, dict) else None
                if isinstance(sid, str) and sid:  # an item without an id cannot be matched: ignored
                    found[sid if sid.startswith("devin-") else f"devin-{sid}"] = item
            if page.next_cursor is None or not page.items:
                break
            cursor = page.next_cursor
        return found

    async def list_sessions(self, **query: Unpack[SessionListQuery]) -> list[SessionSummary | SessionResponse]:
        """One page of sessions (as ``DevinHook.list_sessions``, every argument keyword-only).

        :param tags: Only sessions carrying these tags.
        :param user_email: Only sessions created by this user (v1 only).
        :param limit: Page size (v3: 1-200).
        :param offset: Items to skip (v1 only).
        :param cursor: A previous page's ``next_cursor`` (see :meth:`list_sessions_page`).
        :param filters: v3 only: ``session_ids`` (up to 200 sessions in one call, for batch
            polling), ``created_after``/``created_before``/``updated_after``/``updated_before``
            (epoch seconds), ``is_archived``.
        """
        page = await self.list_sessions_page(**query)
        return cast(list[SessionSummary | SessionResponse], page.items)

    async def list_sessions_page(self, **query: Unpack[SessionListQuery]) -> Page:
        """:meth:`list_sessions` with the next page's cursor (``None`` on the last page), as
        ``DevinHook.list_sessions_page``: the same keyword arguments, the same request and reading."""
        build, read = session_page_request(query)
        body = await self._send(build)
        return read(await self.dialect(), body)

    async def terminate_session(self, session_id: str, *, archive: bool | None = None) -> str | None:
        """Terminate a session (irreversible); returns Devin's ``detail`` on v1, ``None`` on v3.

        :param session_id: The session to end.
        :param archive: (v3) Also archive it.
        """
        body = await self._send(lambda d: d.terminate_session(session_id, archive=archive))
        return (await self.dialect()).read_detail(body)

    async def call(self, request: ApiRequest) -> Any:
        """Send ``request`` under the shared retry policy and return the decoded body."""
        return await acall_with_retries(
            request, self._settings.retry, self._log, self._sleep, lambda: self._send_once(request)
        )

    async def _send_once(self, request: ApiRequest) -> Any:
        # Under a 429/5xx storm the gate holds every request of this connection back (see _backoff).
        async with self.gate.admit():
            started = time.monotonic()
            try:
                response = await self._client.send(request)
            except TransportError as err:
                raise connection_error(request, err.reason, request_sent=err.request_sent, is_tls=err.is_tls) from None
            log_response(self._log, request, response.status_code, started)
            return interpret_response(request, response.status_code, response.headers, response.content)
