"""Which dialect a connection speaks, with the v3 organization resolved at most once per hook.

v1 needs nothing. v3 needs an org id: the connection extra ``org_id``, else ``GET /v3/self``
(once per hook instance, shared by its sync and async paths; cached). Before the org is known,
:meth:`DialectResolver.validating` gives a dialect that builds (and so validates) a request
without any I/O, so a bad argument or a version-only operation fails before even ``/v3/self``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from airflow_provider_devin.exceptions import DevinConfigError
from airflow_provider_devin.hooks._dialect import ApiDialect
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.hooks._settings import ConnectionSettings
from airflow_provider_devin.hooks._v1 import V1Dialect
from airflow_provider_devin.hooks._v3 import V3Dialect, read_self_org_id, self_request

#: Stands in for the org id while a request is only being validated (never sent).
PENDING_ORG = "org-not-yet-resolved"


class DialectResolver:
    """The connection's :class:`ApiDialect`, resolved once.

    :param settings: The connection settings (``api_version``, ``org_id``).
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings
        self._dialect: ApiDialect | None = None
        if settings.api_version == "v1":
            self._dialect = V1Dialect()
        elif settings.org_id:
            self._dialect = V3Dialect(settings.org_id)
        self._lock: asyncio.Lock | None = None
        #: How many ``GET /v3/self`` this resolver sent (0 or 1).
        self.self_calls = 0

    @property
    def resolved(self) -> ApiDialect | None:
        """The dialect if it is known without a request, or was resolved already."""
        return self._dialect

    def validating(self) -> ApiDialect:
        """A dialect to build a request with before the org is known (the request is not sent)."""
        return self._dialect or V3Dialect(PENDING_ORG)

    def get(self, call: Callable[[ApiRequest], Any]) -> ApiDialect:
        """The dialect, calling ``GET /v3/self`` through ``call`` the first time it is needed."""
        if self._dialect is None:
            self.self_calls += 1
            self._dialect = self._from_self(call(self_request()))
        return self._dialect

    async def aget(self, call: Callable[[ApiRequest], Awaitable[Any]]) -> ApiDialect:
        """:meth:`get` for the event loop: concurrent first uses share one ``GET /v3/self``."""
        if self._dialect is not None:
            return self._dialect
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._dialect is None:
                self.self_calls += 1
                self._dialect = self._from_self(await call(self_request()))
        return self._dialect

    def _from_self(self, body: Any) -> ApiDialect:
        org_id = read_self_org_id(body)
        if org_id is None:
            principal = body.get("principal_type") if isinstance(body, dict) else None
            raise DevinConfigError(
                f"Devin connection {self._settings.conn_id!r}: the v3 API needs an organization id, and "
                f"GET /v3/self gave none for this key (principal_type={principal!r}, org_id null, as for an "
                "enterprise service user): set the connection extra org_id (Settings → Devin API in the Devin "
                'web app shows it), e.g. {"org_id": "org-abc123"}.'
            )
        return V3Dialect(org_id)
