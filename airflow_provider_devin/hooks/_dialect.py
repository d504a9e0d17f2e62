"""What each Devin API version must provide: request builders and response readers.

``hooks/_v1.py`` (legacy, ``apk_`` keys) and ``hooks/_v3.py`` (org-scoped, ``cog_`` keys) each
implement :class:`ApiDialect`. A builder validates its input and returns an
:class:`~airflow_provider_devin.hooks._http.ApiRequest` (no I/O); a reader turns a decoded body
into the provider's shapes. The sync hook and the async client send what a dialect builds, under
the one retry policy and the one error mapping, so a request is built in exactly one place for
both transports. :class:`SnapshotReader` is the one (pure) place a session snapshot with its new
messages is assembled, driven by either transport.

An operation or argument that exists in only one version fails before any request with an
:class:`UnsupportedInVersion` (a ``ValueError``) naming the version (:func:`only_in`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import quote, urlsplit

from airflow_provider_devin.hooks._http import ApiRequest, response_error
from airflow_provider_devin.session import MessagePosition, SessionMessage, SessionSnapshot, SessionView
from airflow_provider_devin.validation import (
    require_id,
    require_text,
    validate_id_list,
    validate_max_acu_limit,
    validate_structured_output_schema,
    validate_tags,
)


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint.

    :param items: the page's items (plain dicts, as Devin sent them).
    :param next_cursor: what to pass as ``cursor`` for the next page; ``None`` on the last page.
    """

    items: list[dict[str, Any]]
    next_cursor: str | None = None


class CreateSessionFields(TypedDict, total=False):
    """The keyword arguments of a session create (documented on ``DevinHook.create_session``)."""

    idempotent: bool
    title: str | None
    tags: Iterable[str] | None
    playbook_id: str | None
    snapshot_id: str | None
    knowledge_ids: Iterable[str] | None
    secret_ids: Iterable[str] | None
    session_secrets: Any
    structured_output_schema: Mapping[str, Any] | None
    max_acu_limit: int | None
    unlisted: bool | None
    repos: Iterable[str] | None
    attachment_urls: Iterable[str] | None
    structured_output_required: bool | None
    devin_mode: str | None
    create_as_user_id: str | None
    resumable: bool | None
    platform: str | None
    bypass_approval: bool | None
    child_playbook_id: str | None
    session_links: Iterable[str] | None


class KnowledgeFields(TypedDict, total=False):
    """The optional keyword arguments of a knowledge note create/update."""

    macro: str | None
    parent_folder_id: str | None
    pinned_repo: str | None
    is_enabled: bool | None


#: The create fields both versions send as given (once checked). Each version adds its own table
#: (``V1_CREATE_CHECKS``, ``V3_CREATE_CHECKS``); a field in neither table of a version is the
#: other version's, and is refused when given (:meth:`ApiDialect.reject_other_version`).
SHARED_CREATE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "title": lambda value: require_text("title", value),
    "tags": validate_tags,
    "playbook_id": lambda value: require_id("playbook_id", value),
    "knowledge_ids": lambda value: validate_id_list("knowledge_ids", value),
    "secret_ids": lambda value: validate_id_list("secret_ids", value),
    "structured_output_schema": validate_structured_output_schema,
    "max_acu_limit": validate_max_acu_limit,
}


def other_version_fields(fields: Mapping[str, Any], own: Iterable[str]) -> dict[str, Any]:
    """The create fields in ``fields`` that are not one of ``own`` (nor shared): the other API
    version's, for :meth:`ApiDialect.reject_given`. ``attachment_urls`` is both versions'."""
    others = CreateSessionFields.__optional_keys__ - {*own, *SHARED_CREATE_CHECKS, "attachment_urls"}
    return {name: value for name, value in fields.items() if name in others}


def checked_fields(checks: Mapping[str, Callable[[Any], Any]], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: check(value)}`` for each of ``checks`` given a value that is not ``None`` (``None`` is
    omitted; ``[]`` is kept: for ``knowledge_ids``/``secret_ids`` ``None`` means "use all" and
    ``[]`` means "use none")."""
    return {name: check(fields[name]) for name, check in checks.items() if fields.get(name) is not None}


class SessionFilters(TypedDict, total=False):
    """The v3-only session list filters (keyword arguments of ``list_sessions`` / ``iter_sessions``).

    Timestamps are integer epoch seconds; ``session_ids`` takes ids as Devin returned them.
    """

    session_ids: list[str]
    created_after: int
    created_before: int
    updated_after: int
    updated_before: int
    is_archived: bool


class SessionQuery(SessionFilters, total=False):
    """The keyword arguments of :meth:`ApiDialect.list_sessions`: the filters, ``tags``,
    ``user_email`` (v1), ``page_size`` (default 100), ``offset`` (v1) and ``cursor``."""

    tags: Iterable[str] | None
    user_email: str | None
    page_size: int
    offset: int | None
    cursor: str | None


class MessageFields(TypedDict, total=False):
    """The optional keyword arguments of a message send (documented on ``DevinHook.send_message``)."""

    attachment_urls: Iterable[str] | None
    message_as_user_id: str | None


class UnsupportedInVersion(ValueError):
    """An operation or argument the connection's API version does not have (raised before any request)."""


def only_in(version: str, what: str, connection_version: str, hint: str = "") -> UnsupportedInVersion:
    """The error for ``what`` (an operation or argument) that exists only in ``version``."""
    extra = f" {hint}" if hint else ""
    return UnsupportedInVersion(
        f"{what} exists only in Devin's {version} API, but this connection uses {connection_version}.{extra}"
    )


class ApiDialect(ABC):
    """One API version's paths, parameters, body fields and response shapes."""

    #: ``"v1"`` or ``"v3"``.
    version: str
    #: Whether a create can be made idempotent server-side (v1 ``idempotent: true``); v3 has none.
    idempotent_create: bool
    #: The largest page a list accepts (``None``: no documented cap).
    max_page_size: int | None = None
    #: True when ``get_session`` carries the whole conversation (v1); False when messages have
    #: their own endpoint (v3).
    messages_in_session: bool
    #: The key of a raw message's time (v1 ``timestamp``, v3 ``created_at``).
    message_time_key: str
    #: The path attachments are uploaded to and downloaded from.
    attachments_path: str

    def reject(self, version: str, what: str, hint: str = "") -> UnsupportedInVersion:
        """Shorthand for :func:`only_in` with this dialect's version."""
        return only_in(version, what, self.version, hint)

    def reject_given(self, version: str, hint: str = "", **arguments: Any) -> None:
        """Raise :meth:`reject` for the first of ``arguments`` that is not ``None``."""
        for name, value in arguments.items():
            if value is not None:
                raise self.reject(version, f"The argument {name!r}", hint)

    @staticmethod
    def read_detail(body: Any, key: str = "detail") -> str | None:
        """A ``{"detail"|"message"|"status": "..."}`` success body (or a bare string) as text."""
        if isinstance(body, dict):
            value = body.get(key)
            return None if value is None else str(value)
        if isinstance(body, str):
            return body
        return None

    # --- health / identity ------------------------------------------------------------------

    def probe(self) -> ApiRequest:
        """The cheapest authenticated GET, for ``test_connection``."""
        return self.list_sessions(page_size=1)

    # --- sessions ---------------------------------------------------------------------------

    @abstractmethod
    def list_sessions(self, **query: Unpack[SessionQuery]) -> ApiRequest:
        """One page of sessions; ``cursor`` is a previous page's ``next_cursor`` (v1: an offset)."""

    @abstractmethod
    def read_session_page(self, body: Any, *, page_size: int, cursor: str | None) -> Page:
        """The page's raw session dicts and the cursor of the next one (``page_size``/``cursor``: the request's)."""

    @abstractmethod
    def create_session(self, prompt: str, **fields: Unpack[CreateSessionFields]) -> ApiRequest:
        """``POST`` a new session (the keyword arguments of ``DevinHook.create_session``; the
        version-only ones are rejected by the other version when not ``None``)."""

    @abstractmethod
    def get_session(self, session_id: str) -> ApiRequest: ...

    @abstractmethod
    def send_message(self, session_id: str, message: str, **fields: Unpack[MessageFields]) -> ApiRequest: ...

    @abstractmethod
    def read_message_sent(self, body: Any) -> str | None:
        """``None`` when delivered; Devin's explanation when it answered "not delivered normally"."""

    @abstractmethod
    def update_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest:
        """Replace every tag."""

    @abstractmethod
    def terminate_session(self, session_id: str, *, archive: bool | None = None) -> ApiRequest: ...

    # v3-only session operations: the v1 dialect raises ``reject("v3", ...)``.

    @abstractmethod
    def get_session_tags(self, session_id: str) -> ApiRequest: ...

    @abstractmethod
    def append_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest: ...

    @abstractmethod
    def archive_session(self, session_id: str) -> ApiRequest: ...

    @abstractmethod
    def unarchive_session(self, session_id: str) -> ApiRequest: ...

    @abstractmethod
    def list_messages(self, session_id: str, *, page_size: int = 100, cursor: str | None = None) -> ApiRequest:
        """One page of a session's messages (v3 ``GET .../messages``)."""

    @abstractmethod
    def read_message_page(self, body: Any) -> tuple[list[dict[str, Any]], str | None, bool]:
        """``(raw items, end_cursor, has_next_page)`` of a messages page; a next page without a cursor
        raises :class:`~airflow_provider_devin.exceptions.DevinResponseError`."""

    # --- the normalised view ----------------------------------------------------------------

    @abstractmethod
    def read_session(self, body: Any) -> SessionView:
        """A session body (get, list item, create/message/terminate response) as a :class:`SessionView`."""

    def read_message(self, item: Mapping[str, Any]) -> SessionMessage | None:
        """One raw message as a :class:`SessionMessage` (``None`` for an unreadable item)."""
        text = item.get("message")
        if not isinstance(text, str):
            return None
        event_id = item.get("event_id")
        return SessionMessage(
            event_id=event_id if isinstance(event_id, str) else None,
            source=self.message_source(item),
            text=text,
            created_at=item.get(self.message_time_key),
        )

    @abstractmethod
    def message_source(self, item: Mapping[str, Any]) -> str:
        """Who wrote a raw message, as ``SessionMessage.source`` (``devin``, ``user``, ...)."""

    # --- attachments ------------------------------------------------------------------------

    def upload_attachment(self, filename: str) -> ApiRequest:
        """``POST`` a file (the transport adds it as the ``file`` form field)."""
        return ApiRequest.build(f"upload attachment {filename}", "POST", self.attachments_path)

    @abstractmethod
    def read_attachment_url(self, body: Any, raw: bytes) -> str: ...

    def download_attachment(self, url_or_path: str) -> ApiRequest:
        """``GET`` an attachment by the URL upload returned, or by ``"<uuid>/<name>"``."""
        uuid, name = attachment_parts(url_or_path)
        return ApiRequest.build(
            f"download attachment {uuid}/{name}",
            "GET",
            f"{self.attachments_path}/{quote(uuid, safe='')}/{quote(name, safe='')}",
            expect_json=False,
        )

    # --- secrets ----------------------------------------------------------------------------

    @abstractmethod
    def list_secrets(self, *, cursor: str | None = None) -> ApiRequest: ...

    @abstractmethod
    def read_secret_page(self, body: Any) -> Page:
        """Items normalised to ``SecretMetadata`` (``id``, ``type``, ``key``, ``created_at``)."""

    @abstractmethod
    def create_secret(
        self, type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None
    ) -> ApiRequest: ...

    @abstractmethod
    def read_created_secret_id(self, body: Any) -> str: ...

    @abstractmethod
    def delete_secret(self, secret_id: str) -> ApiRequest: ...

    # --- knowledge --------------------------------------------------------------------------

    @abstractmethod
    def list_knowledge(self, *, cursor: str | None = None) -> ApiRequest: ...

    @abstractmethod
    def read_knowledge_page(self, body: Any) -> tuple[Page, list[dict[str, Any]]]:
        """``(notes page, folders)``; v3 lists no folders here (empty list)."""

    @abstractmethod
    def create_knowledge(
        self, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> ApiRequest: ...

    @abstractmethod
    def update_knowledge(
        self, note_id: str, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> ApiRequest: ...

    @abstractmethod
    def delete_knowledge(self, note_id: str) -> ApiRequest: ...

    # --- playbooks --------------------------------------------------------------------------

    @abstractmethod
    def list_playbooks(self, *, cursor: str | None = None) -> ApiRequest: ...

    @abstractmethod
    def read_playbook_page(self, body: Any) -> Page: ...

    @abstractmethod
    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> ApiRequest: ...

    @abstractmethod
    def get_playbook(self, playbook_id: str) -> ApiRequest: ...

    @abstractmethod
    def update_playbook(self, playbook_id: str, title: str, body: str, *, macro: str | None = None) -> ApiRequest: ...

    @abstractmethod
    def delete_playbook(self, playbook_id: str) -> ApiRequest: ...


# --- request parts both versions build alike ------------------------------------------------------

SECRET_TYPES = ("cookie", "key-value", "totp")


def attachment_parts(url_or_path: str) -> tuple[str, str]:
    """``(uuid, name)`` of an attachment URL as upload returned it, or of ``"<uuid>/<name>"``."""
    text = require_text("url_or_path", url_or_path).strip()
    path = urlsplit(text).path if "://" in text else text
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2:
        raise ValueError(f"url_or_path must be an attachment URL or '<uuid>/<name>', got {url_or_path!r}.")
    return parts[-2], parts[-1]


def secret_fields(type: str, key: str, value: str) -> dict[str, Any]:
    """The checked ``type``, ``key`` and ``value`` of a new org secret."""
    if type not in SECRET_TYPES:
        raise ValueError(f"type must be one of {', '.join(SECRET_TYPES)}, got {type!r}.")
    if not isinstance(value, str) or value == "":
        raise ValueError("value must be a non-empty string.")
    return {"type": type, "key": require_text("key", key), "value": value}


def required_tags(tags: Iterable[str]) -> list[str]:
    """The checked tag list of a tag update (``None`` refused: ``[]`` is how every tag is removed)."""
    checked = validate_tags(tags)
    if checked is None:
        raise ValueError("tags must be a list of strings (use [] to remove every tag).")
    return checked


def playbook_body(title: str, body: str, macro: str | None) -> dict[str, Any]:
    """The checked body of a playbook create/update (``macro``: ``!name``)."""
    payload: dict[str, Any] = {"title": require_text("title", title), "body": require_text("body", body)}
    if macro is not None:
        if not isinstance(macro, str) or not macro.startswith("!") or len(macro) < 2:
            raise ValueError(f"macro must look like '!name' (letters, digits, _ or -), got {macro!r}.")
        payload["macro"] = macro
    return payload


#: Most message pages one read follows (200 per page: 20,000 messages) before calling it a loop.
MAX_MESSAGE_PAGES = 100


class SnapshotReader:
    """Assemble a :class:`SessionSnapshot` (the session plus the messages new since a position).

    Pure: the caller (sync hook or async client) sends each request and feeds the body back::

        reader = SnapshotReader(dialect, session_id, position)
        reader.feed_session(send(reader.session_request()))
        while (request := reader.next_message_request()) is not None:
            reader.feed_messages(send(request))
        snapshot = reader.snapshot()

    v1 (messages inside the session): ``position.cursor`` is the number of messages already read;
    the new ones are those after it, or, when ``last_event_id`` is seen in the conversation, those
    after that event (guards against a conversation that shrank or was reordered).

    v3 (messages endpoint, cursor-paged): messages are read from ``position.cursor`` forward. v3
    sends ``end_cursor: null`` on the last page (the reading the emulator implements), so the next
    position is the cursor that *fetched* the last page plus the last ``event_id`` seen, and the
    next read skips that page's items up to and including that event. When the last page did carry
    an ``end_cursor``, it becomes the position (its items are all new next time; the event guard is
    kept and only skips when the event shows up again). The session is read *before* its
    messages, so the messages are at least as new as the status.

    :param dialect: the connection's dialect.
    :param session_id: the session.
    :param position: where the previous read stopped (``None``: from the start).
    :param page_size: messages per page (v3).
    """

    def __init__(
        self,
        dialect: ApiDialect,
        session_id: str,
        position: MessagePosition | None = None,
        *,
        page_size: int = 200,
    ) -> None:
        self._dialect = dialect
        self._session_id = session_id
        self._start = position or MessagePosition()
        self._page_size = min(page_size, dialect.max_page_size or page_size)
        self._view: SessionView | None = None
        self._messages: list[SessionMessage] = []
        self._seen_ids: set[str] = set()
        self._position = self._start
        self._next_cursor: str | None = self._start.cursor
        self._pages = 0
        self._done = dialect.messages_in_session
        self._cursors_used: set[str | None] = set()
        self._messages_read_at: float | None = None

    def session_request(self) -> ApiRequest:
        """The ``GET`` of the session."""
        return self._dialect.get_session(self._session_id)

    def feed_session(self, body: Any) -> None:
        """Take the session body (on v1 it also holds the conversation)."""
        self._view = self._dialect.read_session(body)
        if self._dialect.messages_in_session:
            self._read_embedded(self._view.messages)

    def next_message_request(self) -> ApiRequest | None:
        """The next messages page to fetch, or ``None`` when the read is complete."""
        if self._done:
            return None
        if self._pages >= MAX_MESSAGE_PAGES or self._next_cursor in self._cursors_used:
            raise response_error(
                self._dialect.list_messages(self._session_id, page_size=self._page_size),
                f"Devin API: reading the messages of session {self._session_id} did not end after "
                f"{self._pages} pages (a cursor came back twice); refusing to loop.",
            )
        self._messages_read_at = time.time()  # sent now or later: a lower bound for Devin's read
        return self._dialect.list_messages(self._session_id, page_size=self._page_size, cursor=self._next_cursor)

    def feed_messages(self, body: Any) -> None:
        """Take one messages page (the answer to :meth:`next_message_request`)."""
        fetched_with = self._next_cursor
        self._cursors_used.add(fetched_with)
        items, end_cursor, has_next = self._dialect.read_message_page(body)
        messages = [m for m in (self._dialect.read_message(item) for item in items) if m is not None]
        if self._pages == 0 and self._start.last_event_id is not None:
            ids = [m.event_id for m in messages]
            if self._start.last_event_id in ids:
                messages = messages[ids.index(self._start.last_event_id) + 1 :]
        self._pages += 1
        self._take(messages)
        last_id = self._messages[-1].event_id if self._messages else self._start.last_event_id
        if has_next:
            self._next_cursor = end_cursor  # non-null: the dialect raised otherwise
            self._position = MessagePosition(end_cursor, last_id)
            return
        self._done = True
        if end_cursor is not None:
            self._position = MessagePosition(end_cursor, last_id)
        elif messages or self._pages > 1 or fetched_with != self._start.cursor:
            self._position = MessagePosition(fetched_with, last_id)
        # else: nothing new on the page we resumed from; the start position still holds.

    def skip_messages(self) -> None:
        """Finish without reading messages (a batch poll saw nothing change): the position stays."""
        self._done = True

    def snapshot(self) -> SessionSnapshot:
        """The result, once :meth:`next_message_request` returned ``None``."""
        if self._view is None:
            raise RuntimeError("feed_session() was not called")
        return SessionSnapshot(self._view, tuple(self._messages), self._position, self._messages_read_at)

    def _read_embedded(self, conversation: tuple[SessionMessage, ...]) -> None:
        start = self._start
        try:
            already = max(0, int(start.cursor)) if start.cursor is not None else 0
        except ValueError:
            already = 0
        ids = [m.event_id for m in conversation]
        if start.last_event_id is not None and start.last_event_id in ids:
            new = list(conversation[ids.index(start.last_event_id) + 1 :])
        else:
            new = list(conversation[already:])
        self._take(new)
        last_id = conversation[-1].event_id if conversation else start.last_event_id
        self._position = MessagePosition(str(len(conversation)), last_id)
        self._done = True

    def _take(self, messages: Iterable[SessionMessage]) -> None:
        for message in messages:
            if message.event_id is not None:
                if message.event_id in self._seen_ids:
                    continue
                self._seen_ids.add(message.event_id)
            self._messages.append(message)
