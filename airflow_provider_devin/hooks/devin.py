"""DevinHook: the only code that speaks HTTP to Devin (v1 API).

Synchronous calls use one ``requests.Session`` per hook (keep-alive, built lazily); the triggerer
uses :meth:`DevinHook.async_api` (keep-alive HTTP/1.1 on asyncio streams; httpx behind a proxy).
Both paths share request building and validation (``_endpoints``), the retry policy (``_retry``)
and error mapping (``_http``).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from airflow_provider_devin._compat import BaseHook, aget_connection, mask_secret
from airflow_provider_devin.api_types import (
    CreateSessionResponse,
    KnowledgeEntry,
    KnowledgeListing,
    Playbook,
    SecretMetadata,
    SessionDetails,
    SessionSummary,
)
from airflow_provider_devin.hooks import _endpoints as endpoints
from airflow_provider_devin.hooks._http import (
    NO_BODY,
    ApiRequest,
    connection_error,
    interpret_response,
    log_response,
)
from airflow_provider_devin.hooks._settings import ConnectionSettings, settings_from_connection

if TYPE_CHECKING:
    import requests

    from airflow_provider_devin.hooks._async import AsyncDevinAPI

__all__ = ["DevinHook"]


class DevinHook(BaseHook):
    """Talk to the Devin v1 API with the key held in an Airflow connection.

    The connection (type ``devin``): **password** = API key (``apk_user_…`` or ``apk_…``);
    **host** = base URL (default ``https://api.devin.ai``; plain ``http://`` only for loopback,
    e.g. the local emulator); extras ``timeout``, ``connect_timeout`` (seconds), ``max_retries``,
    ``max_retry_wait`` (seconds), ``web_url`` (where session pages live) and ``verify``
    (``false`` or a CA bundle path).

    Every call validates its input before sending (a ``ValueError`` naming the field), retries only
    when repeating it cannot duplicate work, and raises a
    :class:`~airflow_provider_devin.exceptions.DevinAPIError` subclass on failure.

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
        self._timeout = timeout
        self._max_retries = max_retries
        self._settings: ConnectionSettings | None = None
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
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": "https://api.devin.ai",
                "password": "apk_user_... or apk_...",
                "extra": '{"timeout": 30, "connect_timeout": 10, "max_retries": 5, "max_retry_wait": 60}',
            },
        }

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
        settings = settings_from_connection(
            conn, self.devin_conn_id, timeout=self._timeout, max_retries=self._max_retries
        )
        mask_secret(settings.api_key)
        return settings

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``https://api.devin.ai``."""
        return self.settings.base_url

    def session_url(self, session_id: str) -> str:
        """The web page of a session, for when only its id is known (a reattached session).

        :param session_id: The session id; its ``devin-`` prefix is not part of the page URL.
        """
        bare = session_id[len("devin-") :] if session_id.startswith("devin-") else session_id
        return f"{self.settings.web_url}/sessions/{bare}"

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

    def _call(self, request: ApiRequest, *, files: Mapping[str, Any] | None = None) -> Any:
        from airflow_provider_devin.hooks._retry import call_with_retries

        return call_with_retries(
            request, self.settings.retry, self.log, self._sleep, lambda: self._send_once(request, files)
        )

    def _send_once(self, request: ApiRequest, files: Mapping[str, Any] | None) -> Any:
        import requests

        session = self.get_conn()
        settings = self.settings
        started = time.monotonic()
        try:
            response = session.request(
                request.method,
                settings.base_url + request.path,
                params=list(request.params) or None,
                json=None if request.json_body is NO_BODY else request.json_body,
                files=files,
                timeout=(settings.connect_timeout, settings.timeout),
            )
        except requests.exceptions.ConnectTimeout:
            raise connection_error(request, "connect timeout", request_sent=False) from None
        except requests.exceptions.Timeout:
            raise connection_error(request, "read timeout", request_sent=True) from None
        except requests.exceptions.ConnectionError as err:
            never_sent = _failed_before_sending(err)
            reason = "connection refused or unreachable" if never_sent else "connection dropped"
            raise connection_error(request, reason, request_sent=not never_sent) from None
        log_response(self.log, request, response.status_code, started)
        return interpret_response(request, response.status_code, response.headers, response.content)

    # --- the async transport --------------------------------------------------------------------

    @asynccontextmanager
    async def async_api(self) -> AsyncIterator[AsyncDevinAPI]:
        """Lease this event loop's shared async client for the connection.

        Use it for the whole wait (``async with hook.async_api() as api: ...``): the lease is
        released in ``finally``, and the last lease to leave closes the client.
        """
        from airflow_provider_devin.hooks._async import AsyncDevinAPI, lease_client

        settings = await self.aget_settings()
        async with lease_client(settings) as client:
            yield AsyncDevinAPI(settings, client, self.log, self._asleep)

    # --- sessions -------------------------------------------------------------------------------

    def list_sessions(
        self,
        tags: Iterable[str] | None = None,
        user_email: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[SessionSummary]:
        """List sessions (newest first, as Devin orders them).

        :param tags: Only sessions carrying these tags (sent as repeated ``tags`` parameters).
        :param user_email: Only sessions created by this user.
        :param limit: Page size (default 100).
        :param offset: Number of sessions to skip.
        """
        body = self._call(endpoints.list_sessions(tags, user_email, limit, offset))
        return cast(list[SessionSummary], (body or {}).get("sessions", []))

    def iter_sessions(
        self, tags: Iterable[str] | None = None, user_email: str | None = None, page_size: int = 100
    ) -> Iterator[SessionSummary]:
        """Iterate over every matching session, page by page, until a short page.

        :param tags: Only sessions carrying these tags.
        :param user_email: Only sessions created by this user.
        :param page_size: Sessions fetched per request.
        """
        tag_list = list(tags) if tags is not None else None
        offset = 0
        while True:
            page = self.list_sessions(tag_list, user_email, limit=page_size, offset=offset)
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def create_session(
        self,
        prompt: str,
        *,
        idempotent: bool = False,
        title: str | None = None,
        tags: Iterable[str] | None = None,
        playbook_id: str | None = None,
        snapshot_id: str | None = None,
        knowledge_ids: Iterable[str] | None = None,
        secret_ids: Iterable[str] | None = None,
        session_secrets: Any = None,
        structured_output_schema: Mapping[str, Any] | None = None,
        max_acu_limit: int | None = None,
        unlisted: bool | None = None,
    ) -> CreateSessionResponse:
        """Start a Devin session.

        For ``knowledge_ids`` and ``secret_ids``, ``None`` (omitted) means *all* of the org's and
        ``[]`` means *none*: an empty list is sent as ``[]``, never dropped.

        :param prompt: The task for Devin (non-empty).
        :param idempotent: Ask Devin to return the existing session for a repeated identical
            request; also makes the call safe to retry after an ambiguous network failure.
        :param title: Session title; Devin generates one when omitted.
        :param tags: Up to 50 tags.
        :param playbook_id: A playbook to follow (``playbook-…``).
        :param snapshot_id: A machine snapshot to start from.
        :param knowledge_ids: Knowledge notes to use (``None`` = all, ``[]`` = none).
        :param secret_ids: Org secrets to expose (``None`` = all, ``[]`` = none).
        :param session_secrets: Secrets that exist only in this session: a list of
            ``{"key", "value", "sensitive"}`` dicts or a ``{key: value}`` mapping.
        :param structured_output_schema: JSON Schema (Draft 7, self-contained, at most 64 KB)
            for the session's ``structured_output``.
        :param max_acu_limit: ACU ceiling for the session (> 0).
        :param unlisted: Hide the session from listings.
        :return: ``{"session_id", "url", "is_new_session"?}``.
        """
        request = endpoints.create_session(
            prompt,
            idempotent=idempotent,
            title=title,
            tags=tags,
            playbook_id=playbook_id,
            snapshot_id=snapshot_id,
            knowledge_ids=knowledge_ids,
            secret_ids=secret_ids,
            session_secrets=session_secrets,
            structured_output_schema=structured_output_schema,
            max_acu_limit=max_acu_limit,
            unlisted=unlisted,
        )
        for secret in request.json_body.get("session_secrets") or []:
            mask_secret(secret["value"])
        return cast(CreateSessionResponse, self._call(request))

    def get_session(self, session_id: str) -> SessionDetails:
        """Fetch a session's details: status, messages, structured output, pull request.

        :param session_id: The session id as Devin returned it (``devin-…``).
        """
        return cast(SessionDetails, self._call(endpoints.get_session(session_id)))

    def send_message(self, session_id: str, message: str) -> str | None:
        """Send a message to a session.

        A plain POST: it is retried only when it certainly never reached Devin, so a message is
        never delivered twice by the hook.

        :param session_id: The session to write to.
        :param message: The text (non-empty).
        :return: ``None`` when delivered; Devin's ``detail`` string when it answered that the
            message was not delivered normally (e.g. the session is suspended).
        """
        detail = endpoints.read_detail(self._call(endpoints.send_message(session_id, message)))
        if detail:
            self.log.warning("Devin did not deliver the message to session %s normally: %s", session_id, detail)
        return detail

    def update_session_tags(self, session_id: str, tags: Iterable[str]) -> str | None:
        """Replace a session's tags.

        :param session_id: The session.
        :param tags: The complete new tag list (at most 50; ``[]`` removes all).
        :return: Devin's ``detail`` message.
        """
        return endpoints.read_detail(self._call(endpoints.update_session_tags(session_id, tags)))

    def terminate_session(self, session_id: str) -> str | None:
        """Terminate a session. Irreversible; an already-ended session gives a 4xx ``DevinAPIError``.

        :param session_id: The session to end.
        :return: Devin's ``detail`` message.
        """
        return endpoints.read_detail(self._call(endpoints.terminate_session(session_id)))

    # --- attachments ----------------------------------------------------------------------------

    def upload_attachment(self, file: str | os.PathLike[str] | bytes | BinaryIO, *, filename: str | None = None) -> str:
        """Upload a file for Devin; reference it in a prompt or message with an ``ATTACHMENT:"<url>"`` line.

        :param file: A local path, the file's bytes, or a binary file object.
        :param filename: Name to upload under (default: the path's or file object's name; required-ish for bytes,
            which otherwise upload as ``attachment.bin``).
        :return: The attachment URL.
        """
        name, content = _read_upload(file, filename)
        request = endpoints.upload_attachment(name)
        # Bytes, not a stream: a retry (only after a refused connection) must resend the whole file.
        files = {"file": (name, content, "application/octet-stream")}
        body = self._call(request, files=files)
        return endpoints.read_attachment_url(body, b"" if body is None else str(body).encode())

    def download_attachment(self, url_or_path: str) -> bytes:
        """Download an attachment (Devin answers with a 307 to a short-lived storage URL; the key is
        not forwarded to that other host).

        :param url_or_path: The attachment URL as upload returned it, or ``"<uuid>/<name>"``.
        :return: The file's bytes.
        """
        return cast(bytes, self._call(endpoints.download_attachment(url_or_path)))

    # --- secrets --------------------------------------------------------------------------------

    def list_secrets(self) -> list[SecretMetadata]:
        """List the org's secrets (metadata only; values are never returned)."""
        return cast(list[SecretMetadata], endpoints.read_secrets(self._call(endpoints.list_secrets())))

    def create_secret(self, type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None) -> str:
        """Create an org secret; available to sessions created after it.

        :param type: ``cookie``, ``key-value`` or ``totp``.
        :param key: Its name, unique in the org.
        :param value: The secret value (masked in Airflow logs from here on).
        :param sensitive: Redact the value in Devin's logs.
        :param note: What it is for.
        :return: The new secret's id.
        """
        request = endpoints.create_secret(type, key, value, sensitive=sensitive, note=note)
        mask_secret(value)
        body = self._call(request)
        return str((body or {}).get("id"))

    def delete_secret(self, secret_id: str) -> str | None:
        """Delete an org secret.

        :param secret_id: The secret's id.
        :return: Devin's ``message``.
        """
        return endpoints.read_detail(self._call(endpoints.delete_secret(secret_id)), "message")

    # --- knowledge ------------------------------------------------------------------------------

    def list_knowledge(self) -> KnowledgeListing:
        """List knowledge notes and folders."""
        return cast(KnowledgeListing, endpoints.read_knowledge(self._call(endpoints.list_knowledge())))

    def create_knowledge(
        self,
        name: str,
        body: str,
        trigger_description: str,
        *,
        macro: str | None = None,
        parent_folder_id: str | None = None,
        pinned_repo: str | None = None,
    ) -> KnowledgeEntry:
        """Create a knowledge note.

        :param name: Display name.
        :param body: What Devin reads when the note is triggered.
        :param trigger_description: When Devin should pull the note in.
        :param macro: Optional macro.
        :param parent_folder_id: Folder to put it in.
        :param pinned_repo: ``None`` (no pinning), ``"all"`` or ``"owner/repo"``.
        """
        request = endpoints.create_knowledge(
            name, body, trigger_description, macro=macro, parent_folder_id=parent_folder_id, pinned_repo=pinned_repo
        )
        return cast(KnowledgeEntry, self._call(request))

    def update_knowledge(
        self,
        note_id: str,
        name: str,
        body: str,
        trigger_description: str,
        *,
        macro: str | None = None,
        parent_folder_id: str | None = None,
        pinned_repo: str | None = None,
    ) -> KnowledgeEntry:
        """Replace a knowledge note (a full replacement: every required field is sent).

        :param note_id: The note's id.
        :param name: Display name.
        :param body: What Devin reads.
        :param trigger_description: When Devin should pull it in.
        :param macro: Optional macro.
        :param parent_folder_id: Folder.
        :param pinned_repo: ``None``, ``"all"`` or ``"owner/repo"``.
        """
        request = endpoints.update_knowledge(
            note_id,
            name,
            body,
            trigger_description,
            macro=macro,
            parent_folder_id=parent_folder_id,
            pinned_repo=pinned_repo,
        )
        return cast(KnowledgeEntry, self._call(request))

    def delete_knowledge(self, note_id: str) -> None:
        """Delete a knowledge note.

        :param note_id: The note's id.
        """
        self._call(endpoints.delete_knowledge(note_id))

    # --- playbooks ------------------------------------------------------------------------------

    def list_playbooks(self) -> list[Playbook]:
        """List the team playbooks (a bare array, or ``{"items": [...]}``, are both accepted)."""
        return cast(list[Playbook], endpoints.read_playbooks(self._call(endpoints.list_playbooks())))

    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> Playbook:
        """Create a team playbook.

        :param title: Title (non-empty).
        :param body: Instructions (non-empty).
        :param macro: Optional ``!name`` macro.
        """
        return cast(Playbook, self._call(endpoints.create_playbook(title, body, macro=macro)))

    def get_playbook(self, playbook_id: str) -> Playbook:
        """Fetch a playbook.

        :param playbook_id: ``playbook-…``.
        """
        return cast(Playbook, self._call(endpoints.get_playbook(playbook_id)))

    def update_playbook(self, playbook_id: str, title: str, body: str, *, macro: str | None = None) -> str | None:
        """Replace a team playbook's title, body and macro.

        :param playbook_id: ``playbook-…``.
        :param title: New title.
        :param body: New instructions.
        :param macro: Optional ``!name`` macro.
        :return: Devin's ``status`` (e.g. ``"success"``).
        """
        return endpoints.read_detail(
            self._call(endpoints.update_playbook(playbook_id, title, body, macro=macro)), "status"
        )

    def delete_playbook(self, playbook_id: str) -> str | None:
        """Delete a playbook (Devin marks it deleted and removes its macro).

        :param playbook_id: ``playbook-…``.
        :return: Devin's ``status``.
        """
        return endpoints.read_detail(self._call(endpoints.delete_playbook(playbook_id)), "status")

    # --- health ---------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated GET (a one-item session list); never raises."""
        try:
            self.list_sessions(limit=1)
        except Exception as err:  # the UI wants a message, not a traceback
            return False, str(err)
        return True, f"Connected to the Devin API at {self.base_url}."


def _read_upload(file: str | os.PathLike[str] | bytes | BinaryIO, filename: str | None) -> tuple[str, bytes]:
    if isinstance(file, (bytes, bytearray, memoryview)):
        return filename or "attachment.bin", bytes(file)
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValueError(f"file {str(path)!r} does not exist or is not a regular file.")
        return filename or path.name, path.read_bytes()
    if isinstance(file, io.IOBase) or hasattr(file, "read"):
        content = file.read()
        if not isinstance(content, (bytes, bytearray)):
            raise ValueError("file must be opened in binary mode ('rb').")
        name = filename or os.path.basename(str(getattr(file, "name", "") or "")) or "attachment.bin"
        return name, bytes(content)
    raise ValueError(f"file must be a path, bytes or a binary file object, got {type(file).__name__}.")


def _failed_before_sending(err: Exception) -> bool:
    """Whether a requests ConnectionError happened while connecting (refused, DNS, connect timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False
