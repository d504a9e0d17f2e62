"""The async path used on the triggerer.

A triggerer may hold hundreds of Devin waits in one event loop. Instead of one TCP+TLS connection
per poll, every trigger of a loop that uses the same connection settings leases one shared
transport (keep-alive connections, see ``_async_transport``); the last lease to leave closes it,
so nothing outlives its users and no socket leaks when triggers start, finish or are cancelled at
any time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from airflow_provider_devin.api_types import SessionDetails, SessionSummary
from airflow_provider_devin.hooks import _endpoints as endpoints
from airflow_provider_devin.hooks._async_transport import AsyncTransport, TransportError, choose_transport
from airflow_provider_devin.hooks._http import (
    ApiRequest,
    connection_error,
    interpret_response,
    log_response,
)
from airflow_provider_devin.hooks._retry import acall_with_retries
from airflow_provider_devin.hooks._settings import ConnectionSettings


class _SharedClient:
    __slots__ = ("client", "users")

    def __init__(self, client: AsyncTransport) -> None:
        self.client = client
        self.users = 0


_shared_clients: dict[tuple[int, str, str, int, str], _SharedClient] = {}


def open_client_count() -> int:
    """How many shared async clients are open in this process (for tests and benchmarks)."""
    return len(_shared_clients)


@asynccontextmanager
async def lease_client(settings: ConnectionSettings) -> AsyncIterator[AsyncTransport]:
    """Lease the event loop's shared transport for ``settings``; closed when the last lease ends."""
    loop = asyncio.get_running_loop()
    key = (id(loop), settings.conn_id, settings.base_url, hash(settings.api_key), str(settings.verify))
    shared = _shared_clients.get(key)
    if shared is None or shared.client.is_closed:
        # No await between the lookup and the insert: concurrent triggers cannot build two clients.
        shared = _SharedClient(choose_transport(settings))
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

    :param settings: The connection settings.
    :param client: The leased shared transport.
    :param logger: Where retries are logged.
    :param sleep: The coroutine used to wait between retries (tests pass a fake clock).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        client: AsyncTransport,
        logger: Any,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._client = client
        self._log = logger
        self._sleep = sleep

    async def get_session(self, session_id: str) -> SessionDetails:
        """Fetch a session's details (``GET /v1/sessions/{session_id}``).

        :param session_id: The session id as Devin returned it (``devin-…``).
        """
        return cast(SessionDetails, await self.call(endpoints.get_session(session_id)))

    async def list_sessions(
        self, tags: list[str] | None = None, user_email: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SessionSummary]:
        """List sessions, optionally filtered by tags and creator email.

        :param tags: Only sessions carrying these tags.
        :param user_email: Only sessions created by this user.
        :param limit: Page size.
        :param offset: Items to skip.
        """
        body = await self.call(endpoints.list_sessions(tags, user_email, limit, offset))
        return cast(list[SessionSummary], (body or {}).get("sessions", []))

    async def terminate_session(self, session_id: str) -> str | None:
        """Terminate a session (irreversible); returns Devin's ``detail``.

        :param session_id: The session to end.
        """
        return endpoints.read_detail(await self.call(endpoints.terminate_session(session_id)))

    async def call(self, request: ApiRequest) -> Any:
        """Send ``request`` under the shared retry policy and return the decoded body."""
        return await acall_with_retries(
            request, self._settings.retry, self._log, self._sleep, lambda: self._send_once(request)
        )

    async def _send_once(self, request: ApiRequest) -> Any:
        started = time.monotonic()
        try:
            response = await self._client.send(request)
        except TransportError as err:
            raise connection_error(request, err.reason, request_sent=err.request_sent) from None
        log_response(self._log, request, response.status_code, started)
        return interpret_response(request, response.status_code, response.headers, response.content)
