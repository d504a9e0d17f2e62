"""DevinHook: the only code that speaks HTTP to Devin, on the v1 (legacy) or the v3 API.

The connection picks the version (extra ``api_version``: ``auto`` → ``cog_`` keys speak v3,
``apk_`` keys v1). Every public method is the same on both; what differs (paths, pagination,
bodies, response shapes) lives in the version's dialect (``_v1``, ``_v3``). Synchronous calls use
one ``requests.Session`` per hook (keep-alive, built lazily); the triggerer uses
:meth:`DevinHook.async_api` (one shared ``aiohttp.ClientSession`` per event loop). Both
paths share request building and validation (the dialects), the retry policy (``_retry``), the
error mapping (``_http``) and the snapshot assembly (``_dialect.SnapshotReader``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Unpack, cast

from airflow_provider_devin._compat import BaseHook, aget_connection, mask_secret
from airflow_provider_devin.api_types import (
    CreateSessionResponse,
    SessionDetails,
    SessionMessageV3,
    SessionResponse,
)
from airflow_provider_devin.hooks._dialect import (
    ApiDialect,
    CreateSessionFields,
    MessageFields,
    Page,
    SnapshotReader,
)
from airflow_provider_devin.hooks._http import (
    ApiRequest,
)
from airflow_provider_devin.hooks._listing import SessionListMethods
from airflow_provider_devin.hooks._resolve import DialectResolver
from airflow_provider_devin.hooks._resources import ResourceMethods
from airflow_provider_devin.hooks._settings import ConnectionSettings, settings_from_connection
from airflow_provider_devin.hooks._sync import send_with_requests
from airflow_provider_devin.session import MessagePosition, SessionSnapshot, SessionView

if TYPE_CHECKING:
    import requests

    from airflow_provider_devin.hooks._async import AsyncDevinAPI

__all__ = ["DevinHook"]


class DevinHook(SessionListMethods, ResourceMethods, BaseHook):
    """Talk to the Devin API (v1 or v3) with the key held in an Airflow connection.

    The connection (type ``devin``): **password** = API key (``cog_…`` for v3; legacy
    ``apk_user_…`` / ``apk_…`` for v1); **host** = base URL (default ``https://api.devin.ai``;
    Enterprise deployments use their own API domain; plain ``http://`` only for loopback, e.g. the
    local emulator); extras ``api_version`` (``auto``, ``v1``, ``v3``), ``org_id`` (v3, ``org-…``;
    read from ``GET /v3/self`` when empty), ``timeout``, ``connect_timeout`` (seconds),
    ``max_retries``, ``initial_retry_wait`` and ``max_retry_wait`` (seconds), ``web_url`` (where
    session pages live), ``verify`` (``false`` or a CA bundle path; ``true`` trusts
    ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``, first set
    wins, else certifi) and ``async_pool_size`` (connections the triggerer opens per event loop,
    default 100, ``0`` = no limit; a poll beyond it waits within its timeout). Both the worker and
    the triggerer take CAs and ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` from one rule
    (``ConnectionSettings.route``). A connection that cannot work as configured raises
    :class:`~airflow_provider_devin.exceptions.DevinConfigError` on first use, before any request.

    Every call validates its input before sending (a ``ValueError`` naming the field; an
    :class:`~airflow_provider_devin.hooks._dialect.UnsupportedInVersion` for an operation or
    argument the connection's version lacks), retries only when repeating it cannot duplicate
    work, and raises a :class:`~airflow_provider_devin.exceptions.DevinAPIError` subclass on failure.

    Knowledge notes and playbooks come back in one shape on both versions (each note carries
    ``id``/``note_id``, ``trigger_description``/``trigger``, ``parent_folder_id``/``folder_id``;
    each playbook ``macro`` and ``status``): see
    :class:`~airflow_provider_devin.api_types.KnowledgeEntry` and
    :class:`~airflow_provider_devin.api_types.Playbook`.

    :param devin_conn_id: The Airflow connection id.
    :param timeout: Read timeout per request in seconds (overrides the connection extra).
    :param max_retries: Retries after the first attempt (overrides the connection extra).
    """

    conn_name_attr = "devin_conn_id"
    default_conn_name = "devin_default"
    conn_type = "devin"
    hook_name = "Devin"

    def __init__(
        self,
        devin_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.devin_conn_id = devin_conn_id
        # What this hook overrides of the connection's extras (``None``: the connection decides).
        self._overrides: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
        self._settings: ConnectionSettings | None = None
        self._resolver: DialectResolver | None = None
        self._http: requests.Session | None = None
        # Injection points for tests (a fake clock); production uses the real ones.
        self._sleep = time.sleep
        self._asleep = asyncio.sleep

    def __repr__(self) -> str:
        return f"DevinHook(devin_conn_id={self.devin_conn_id!r})"

    # --- connection ---------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels for the connection form on Airflow 2.x-3.1 (3.2+ reads provider info instead)."""
        from airflow_provider_devin.hooks._form import ui_field_behaviour

        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The ``api_version`` and ``org_id`` fields of the connection form (Airflow 2.x-3.1)."""
        from airflow_provider_devin.hooks._form import connection_form_widgets

        return connection_form_widgets()

    @property
    def settings(self) -> ConnectionSettings:
        """The connection, read once (synchronously) and validated."""
        if self._settings is None:
            conn = self.get_connection(self.devin_conn_id)
            self._settings = self._settings_from(conn)
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """The connection, read without blocking the event loop (for the triggerer)."""
        if self._settings is None:
            conn = await aget_connection(self.devin_conn_id)
            self._settings = self._settings_from(conn)
        return self._settings

    def _settings_from(self, conn: Any) -> ConnectionSettings:
        settings = settings_from_connection(conn, self.devin_conn_id, **self._overrides)
        mask_secret(settings.api_key)
        return settings

    @property
    def resolver(self) -> DialectResolver:
        """Which dialect this hook speaks; resolves the v3 org at most once per hook instance."""
        if self._resolver is None:
            self._resolver = DialectResolver(self.settings)
        return self._resolver

    async def _aresolver(self) -> DialectResolver:
        if self._resolver is None:
            self._resolver = DialectResolver(await self.aget_settings())
        return self._resolver

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``https://api.devin.ai``."""
        return self.settings.base_url

    @property
    def api_version(self) -> str:
        """``"v1"`` or ``"v3"``: what this connection speaks (``auto`` resolved from the key)."""
        return self.settings.api_version

    @property
    def supports_idempotent_create(self) -> bool:
        """Whether ``create_session(idempotent=True)`` exists (v1 yes; v3 has no idempotency at all)."""
        return self.api_version == "v1"

    @property
    def org_id(self) -> str | None:
        """The v3 organization: the ``org_id`` extra, else ``GET /v3/self`` (once per hook, cached).

        On v1, the ``org_id`` extra if set (v1 paths carry no organization), else ``None``.

        :raises DevinConfigError: on v3 when neither the extra nor ``/v3/self`` gives one.
        """
        if self.api_version == "v1":
            return self.settings.org_id
        return cast(str, getattr(self.dialect, "org_id", None))

    @property
    def dialect(self) -> ApiDialect:
        """The connection's dialect (on v3 this may call ``GET /v3/self`` once)."""
        return self.resolver.get(self._call)

    def session_url(self, session_id: str) -> str:
        """The web page of a session, for when only its id is known (a reattached session).

        :param session_id: The session id; its ``devin-`` prefix is not part of the page URL.
        """
        bare = session_id[len("devin-") :] if session_id.startswith("devin-") else session_id
        return f"{self.settings.web_url}/sessions/{bare}"

    def session_view(self, body: Mapping[str, Any]) -> SessionView:
        """A session body (get, list item, create/terminate response) as the normalised view (no I/O).

        :param body: What ``get_session`` / ``list_sessions`` / ``create_session`` returned.
        """
        return self.resolver.validating().read_session(body)

    # --- the sync transport ---------------------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """The shared ``requests.Session`` (keep-alive), built on first use."""
        if self._http is None:
            import requests

            session = requests.Session()
            session.headers.update(self.settings.headers("sync"))
            session.verify = self.settings.verify
            self._http = session
        return self._http

    def close(self) -> None:
        """Close pooled connections; the hook stays usable (a new session is built on next use)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> DevinHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, build: Callable[[ApiDialect], ApiRequest], *, files: Mapping[str, Any] | None = None) -> Any:
        """Build with the connection's dialect and send. Validation runs before any request, even
        before the ``/v3/self`` that may be needed to know the organization."""
        resolver = self.resolver
        if resolver.resolved is None:
            build(resolver.validating())
        return self._call(build(self.dialect), files=files)

    def _call(self, request: ApiRequest, *, files: Mapping[str, Any] | None = None) -> Any:
        from airflow_provider_devin.hooks._retry import call_with_retries

        return call_with_retries(
            request, self.settings.retry, self.log, self._sleep, lambda: self._send_once(request, files)
        )

    def _send_once(self, request: ApiRequest, files: Mapping[str, Any] | None) -> Any:
        return send_with_requests(self.get_conn(), self.settings, request, files, self.log)

    # --- the async transport --------------------------------------------------------------------

    @asynccontextmanager
    async def async_api(self) -> AsyncIterator[AsyncDevinAPI]:
        """Lease this event loop's shared async client for the connection.

        Use it for the whole wait (``async with hook.async_api() as api: ...``): the lease is
        released in ``finally``, and the last lease to leave closes the client. The v3 org is
        resolved (``GET /v3/self``) on first use, once per hook instance, without blocking the loop.
        """
        from airflow_provider_devin.hooks._async import AsyncDevinAPI, lease_client

        settings = await self.aget_settings()
        resolver = await self._aresolver()
        async with lease_client(settings) as client:
            yield AsyncDevinAPI(settings, client, self.log, self._asleep, resolver)

    # --- sessions -------------------------------------------------------------------------------

    def create_session(
        self, prompt: str, **fields: Unpack[CreateSessionFields]
    ) -> CreateSessionResponse | SessionResponse:
        """Start a Devin session. Every argument but ``prompt`` is keyword-only and optional (typed
        by :class:`~airflow_provider_devin.hooks._dialect.CreateSessionFields`). Arguments marked
        (v1) or (v3) exist only in that version; giving one on the other raises
        ``UnsupportedInVersion`` before any request.

        For ``knowledge_ids`` and ``secret_ids``, ``None`` (omitted) means *all* of the org's and
        ``[]`` means *none*: an empty list is sent as ``[]``, never dropped. The create is sent
        once: it is repeated after an ambiguous failure only when ``idempotent=True`` (v1).

        :param prompt: The task for Devin (non-empty).
        :param idempotent: (v1) Ask Devin to return the existing session for a repeated identical
            request; also makes the call safe to retry. v3 has no idempotency (``True`` raises).
        :param title: Session title; Devin generates one when omitted.
        :param tags: Up to 50 tags.
        :param playbook_id: A playbook to follow (``playbook-…``).
        :param snapshot_id: (v1) A machine snapshot to start from.
        :param knowledge_ids: Knowledge notes to use (``None`` = all, ``[]`` = none).
        :param secret_ids: Org secrets to expose (``None`` = all, ``[]`` = none).
        :param session_secrets: Secrets that exist only in this session: a list of
            ``{"key", "value", "sensitive"}`` dicts or a ``{key: value}`` mapping (values masked).
        :param structured_output_schema: JSON Schema (Draft 7, self-contained, at most 64 KB)
            for the session's ``structured_output``.
        :param max_acu_limit: ACU ceiling for the session (> 0).
        :param unlisted: (v1) Hide the session from listings.
        :param repos: (v3) Repositories the task is about (``owner/repo``).
        :param attachment_urls: Uploaded attachment URLs (v3 ``attachment_urls``, each 1-2083
            characters; on v1 they become ``ATTACHMENT:"<url>"`` lines at the end of the prompt).
        :param structured_output_required: (v3) Whether Devin must deliver the structured output
            before its turn ends (Devin's default: true).
        :param devin_mode: (v3) ``normal``, ``fast``, ``lite``, ``ultra`` or ``fusion`` (default: the org's).
        :param create_as_user_id: (v3) Create on behalf of this org member (``ImpersonateOrgSessions``).
        :param resumable: (v3) Keep the VM state so the session can resume (Devin's default: true).
        :param platform: (v3) VM platform or outpost pool (``default`` forces the org default).
        :param bypass_approval: (v3) Auto-approve child-session creation.
        :param child_playbook_id: (v3) Playbook for child sessions.
        :param session_links: (v3) Links to related sessions.
        :return: v1 ``{"session_id", "url", "is_new_session"?}``; v3 the ``SessionResponse``.
        """
        given: dict[str, Any] = dict(fields)
        # Materialise iterables once, so validating and building see the same items.
        for name in ("tags", "knowledge_ids", "secret_ids", "repos", "attachment_urls", "session_links"):
            if given.get(name) is not None and not isinstance(given[name], (str, list)):
                given[name] = list(given[name])

        def build(dialect: ApiDialect) -> ApiRequest:
            request = dialect.create_session(prompt, **given)
            for secret in request.json_body.get("session_secrets") or []:
                mask_secret(secret["value"])
            return request

        return cast(CreateSessionResponse | SessionResponse, self._send(build))

    def check_create_session(self, prompt: str, **fields: Any) -> None:
        """Validate a :meth:`create_session` call without sending anything (not even ``/v3/self``).

        Raises what :meth:`create_session` would raise before its request (``ValueError`` naming the
        field, ``UnsupportedInVersion`` for an argument of the other API version), so an operator can
        fail before it looks anything up or uploads a file.

        :param prompt: The prompt.
        :param fields: The other :meth:`create_session` keyword arguments.
        """
        resolver = self.resolver
        (resolver.resolved or resolver.validating()).create_session(prompt, **fields)

    def get_session(self, session_id: str) -> SessionDetails | SessionResponse:
        """Fetch a session as Devin returns it (v1 details with the messages; v3 ``SessionResponse``).

        For the normalised view (status class, PRs, ACUs, new messages) use :meth:`read_session`.

        :param session_id: The session id as Devin returned it (``devin-…``).
        """
        return cast(SessionDetails | SessionResponse, self._send(lambda d: d.get_session(session_id)))

    def read_session(self, session_id: str, position: MessagePosition | None = None) -> SessionSnapshot:
        """The session's normalised view plus the messages that are new since ``position``.

        v1: one ``GET`` (the conversation is embedded); v3: ``GET`` the session, then its messages
        from the position's cursor forward. Pass the returned ``position`` (or its
        :meth:`~airflow_provider_devin.session.MessagePosition.encode` d text, across deferrals or
        a new hook) to the next read: each message is delivered once, in order. ``view.messages``
        is empty on v3.

        :param session_id: The session id as Devin returned it.
        :param position: Where the previous read stopped (``None``: from the first message).
        """
        self.resolver.validating().get_session(session_id)  # a bad id fails before any request
        reader = SnapshotReader(self.dialect, session_id, position)
        reader.feed_session(self._call(reader.session_request()))
        while (request := reader.next_message_request()) is not None:
            reader.feed_messages(self._call(request))
        return reader.snapshot()

    def send_message(self, session_id: str, message: str, **fields: Unpack[MessageFields]) -> str | None:
        """Send a message to a session (v3 resumes a suspended session). ``attachment_urls`` and
        ``message_as_user_id`` are keyword-only and optional.

        A plain POST: it is retried only when it certainly never reached Devin, so a message is
        never delivered twice by the hook.

        :param session_id: The session to write to.
        :param message: The text (non-empty).
        :param attachment_urls: Uploaded attachment URLs to include (v1: ``ATTACHMENT:"<url>"`` lines).
        :param message_as_user_id: (v3) Send as this org member.
        :return: ``None`` when delivered; on v1 Devin's ``detail`` string when it answered that the
            message was not delivered normally (e.g. the session is suspended).
        """
        given: dict[str, Any] = dict(fields)
        if given.get("attachment_urls") is not None:
            given["attachment_urls"] = list(given["attachment_urls"])
        body = self._send(lambda d: d.send_message(session_id, message, **given))
        detail = self.dialect.read_message_sent(body)
        if detail:
            self.log.warning("Devin did not deliver the message to session %s normally: %s", session_id, detail)
        return detail

    def update_session_tags(self, session_id: str, tags: Iterable[str]) -> str | None:
        """Replace a session's tags.

        :param session_id: The session.
        :param tags: The complete new tag list (at most 50; ``[]`` removes all).
        :return: Devin's ``detail`` message on v1; ``None`` on v3 (see :meth:`get_session_tags`).
        """
        tag_list = list(tags) if tags is not None and not isinstance(tags, str) else tags
        return self.dialect.read_detail(self._send(lambda d: d.update_session_tags(session_id, tag_list)))

    def get_session_tags(self, session_id: str) -> list[str]:
        """(v3) A session's tags.

        :param session_id: The session.
        """
        return _tags_of(self._send(lambda d: d.get_session_tags(session_id)))

    def append_session_tags(self, session_id: str, tags: Iterable[str]) -> list[str]:
        """(v3) Add tags (Devin de-duplicates); returns the session's tags after the change.

        :param session_id: The session.
        :param tags: Tags to add (at most 50 per call).
        """
        tag_list = list(tags) if tags is not None and not isinstance(tags, str) else tags
        return _tags_of(self._send(lambda d: d.append_session_tags(session_id, tag_list)))

    def terminate_session(self, session_id: str, *, archive: bool | None = None) -> str | None:
        """Terminate a session. Irreversible; an already-ended session may give a 4xx ``DevinAPIError``.

        :param session_id: The session to end.
        :param archive: (v3) Also archive it.
        :return: Devin's ``detail`` message on v1; ``None`` on v3 (which returns the session).
        """
        return self.dialect.read_detail(self._send(lambda d: d.terminate_session(session_id, archive=archive)))

    def archive_session(self, session_id: str) -> SessionResponse:
        """(v3) Archive a session (and put it to sleep if it is running).

        :param session_id: The session.
        """
        return cast(SessionResponse, self._send(lambda d: d.archive_session(session_id)))

    def unarchive_session(self, session_id: str) -> SessionResponse:
        """(v3) Unarchive a session (does not cascade to its child sessions).

        :param session_id: The session.
        """
        return cast(SessionResponse, self._send(lambda d: d.unarchive_session(session_id)))

    def list_messages(self, session_id: str, *, page_size: int = 100, cursor: str | None = None) -> Page:
        """(v3) One page of a session's messages, oldest first.

        :param session_id: The session.
        :param page_size: Messages per page (1-200).
        :param cursor: A previous page's ``next_cursor`` (``None``: the first page).
        :return: ``Page(items=[{event_id, source, message, created_at}], next_cursor)``;
            ``next_cursor`` is ``None`` on the last page.
        """
        items, end_cursor, has_next = self.dialect.read_message_page(
            self._send(lambda d: d.list_messages(session_id, page_size=page_size, cursor=cursor))
        )
        return Page(items, end_cursor if has_next else None)

    def iter_messages(self, session_id: str, *, page_size: int = 200) -> Iterator[SessionMessageV3]:
        """(v3) Every message of a session, oldest first, following the cursor.

        :param session_id: The session.
        :param page_size: Messages per request (1-200).
        """

        def read(dialect: ApiDialect, body: Any, cursor: str | None) -> Page:
            items, end_cursor, has_next = dialect.read_message_page(body)
            return Page(items, end_cursor if has_next else None)

        pages = self._all_pages(lambda d, c: d.list_messages(session_id, page_size=page_size, cursor=c), read)
        return cast(Iterator[SessionMessageV3], pages)

    # --- health ---------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated GET, sent once with a short timeout (no retries); never raises.

        Says which version (and organization) it reached, or what failed, starting with the kind
        of problem: ``Configuration:``, ``Host:``, ``TLS:``, ``Authentication:``,
        ``Organization:`` or ``Devin:`` (see :mod:`airflow_provider_devin.hooks._health`). v3
        without an ``org_id`` extra: the ``GET /v3/self`` that finds the organization is the request.
        """
        from airflow_provider_devin.hooks._health import check_connection

        return check_connection(self)


def _tags_of(body: Any) -> list[str]:
    tags = body.get("tags") if isinstance(body, dict) else body
    return [tag for tag in tags or [] if isinstance(tag, str)]
