"""Devin's v3 organization API (``cog_`` keys) as an :class:`ApiDialect`.

v3 quirks live here and nowhere else (``devin-api-v3.md``): org-scoped paths
(``/v3/organizations/{org_id}/...``), ``devin-``-prefixed ids in per-session paths, cursor
pagination (``first``/``after`` → ``{items, has_next_page, end_cursor, total}``), integer epoch
timestamps, ``status`` + ``status_detail``, a ``pull_requests`` list, messages behind their own
endpoint, array query parameters sent repeated (``tags=a&tags=b``).

Readings of what the contract leaves open (each tolerant of the other plausible answer):

* Ids: ``session_id`` is stored as returned; a path id gets ``devin-`` when it lacks it (§2).
  The ``session_ids`` list filter is sent as given (the values ``session_id`` holds).
* ``has_next_page: true`` with a null ``end_cursor`` is a protocol error (``DevinResponseError``),
  never a loop; ``has_next_page`` false with a non-null ``end_cursor`` is accepted (the cursor
  is kept as a message position, see ``SnapshotReader``).
* Booleans in query strings are sent as ``true``/``false``.
* Appending tags (``POST .../tags``, "append (deduplicating)"), archive and unarchive are treated
  as replay-safe (doing them twice leaves the same state); create and message send are not.
* ``status`` ``creating`` (seen on translated pages only) is read as working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Unpack
from urllib.parse import quote

from airflow_provider_devin.hooks import _dialect
from airflow_provider_devin.hooks._dialect import ApiDialect, KnowledgeFields, Page, playbook_body
from airflow_provider_devin.hooks._http import ApiRequest, response_error
from airflow_provider_devin.session import V3_BUDGET_DETAILS, SessionView, StatusClass
from airflow_provider_devin.validation import (
    check_list,
    require_id,
    require_text,
    validate_choice,
    validate_epoch_seconds,
    validate_id_list,
    validate_page_size,
    validate_repos,
    validate_session_secrets,
    validate_tags,
    validate_uri_list,
)

MAX_PAGE_SIZE = 200
DEVIN_MODES = ("normal", "fast", "lite", "ultra", "fusion")
MAX_SECRET_KEY_CHARS = 256
MAX_SECRET_VALUE_CHARS = 65536
#: The session list filters that take integer epoch seconds.
EPOCH_FILTERS = ("created_after", "created_before", "updated_after", "updated_before")

#: ``suspended`` + one of these: out of ACUs, credits, quota or payment (never retried).
BUDGET_DETAILS = frozenset(V3_BUDGET_DETAILS)
_STARTING = frozenset({"new", "claimed", "resuming", "creating"})
_RUNNING: dict[str | None, StatusClass] = {
    None: StatusClass.WORKING,
    "working": StatusClass.WORKING,
    "finished": StatusClass.FINISHED,
    "waiting_for_user": StatusClass.NEEDS_HUMAN,
    "waiting_for_approval": StatusClass.NEEDS_HUMAN,
}
_SUSPENDED: dict[str | None, StatusClass] = {
    None: StatusClass.PAUSED,
    "inactivity": StatusClass.IDLE,
    "user_request": StatusClass.CANCELLED,
    "error": StatusClass.FAILED,
    **dict.fromkeys(BUDGET_DETAILS, StatusClass.OUT_OF_BUDGET),
}
#: The class in v1's ``status_enum`` words, so results read the same on both versions.
#: The v1 ``status_enum`` word for each class (results read the same on both versions).
V1_WORDS = {cls: cls.v1_word for cls in StatusClass if cls.v1_word is not None}


def classify(status: object, detail: object) -> StatusClass:
    """A v3 ``(status, status_detail)`` as a :class:`StatusClass` (``devin-api-v3.md`` §4.6)."""
    status = status.strip().lower() if isinstance(status, str) else status
    detail = detail.strip().lower() if isinstance(detail, str) else None
    if status in _STARTING:
        return StatusClass.WORKING
    if status == "running":
        return _RUNNING.get(detail, StatusClass.UNKNOWN)
    if status == "suspended":
        return _SUSPENDED.get(detail, StatusClass.UNKNOWN)
    if status == "exit":
        return StatusClass.EXITED
    if status == "error":
        return StatusClass.FAILED
    return StatusClass.UNKNOWN


def devin_id(session_id: str) -> str:
    """The path form of a session id: ``devin-`` prefixed (added when missing)."""
    text = require_id("session_id", session_id)
    return text if text.startswith("devin-") else f"devin-{text}"


def self_request() -> ApiRequest:
    """``GET /v3/self``: who the key is, and (usually) its organization."""
    return ApiRequest.build("read the key's identity (GET /v3/self)", "GET", "/v3/self")


def read_self_org_id(body: Any) -> str | None:
    """The ``org_id`` of a ``/v3/self`` body when it is a non-empty string (null for some principals)."""
    org_id = body.get("org_id") if isinstance(body, dict) else None
    return org_id.strip() if isinstance(org_id, str) and org_id.strip() else None


def read_cursor_page(body: Any, what: str, path: str) -> tuple[list[dict[str, Any]], str | None, bool]:
    """``(items, end_cursor, has_next_page)`` of a ``PaginatedResponse``.

    :raises DevinResponseError: when ``has_next_page`` is true but ``end_cursor`` is null (or the
        body has no ``items`` list): following it could only loop or stop early.
    """
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise response_error(
            ApiRequest(what, "GET", path),
            f"Devin API: {what} returned a page without an 'items' list ({type(body).__name__}); "
            "expected {items, has_next_page, end_cursor}.",
        )
    has_next = bool(body.get("has_next_page"))
    cursor = body.get("end_cursor")
    cursor = str(cursor) if cursor not in (None, "") else None
    if has_next and cursor is None:
        raise response_error(
            ApiRequest(what, "GET", path),
            f"Devin API: {what} said has_next_page=true but sent no end_cursor; the next page cannot be "
            "requested. Refusing to loop or to return a partial list as if it were complete.",
        )
    return [item for item in items if isinstance(item, dict)], cursor, has_next


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _bool(field: str, value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}.")
    return value


#: The create fields v3 sends besides the shared ones; any other create field is v1's, refused here
#: when given (``idempotent=True`` with its own explanation).
V3_CREATE_CHECKS: dict[str, Callable[[Any], Any]] = {
    **_dialect.SHARED_CREATE_CHECKS,
    "session_secrets": lambda value: _checked_secrets(validate_session_secrets(value) or []),
    "repos": validate_repos,
    "attachment_urls": lambda value: validate_uri_list("attachment_urls", value),
    "structured_output_required": lambda value: _bool("structured_output_required", value),
    "resumable": lambda value: _bool("resumable", value),
    "bypass_approval": lambda value: _bool("bypass_approval", value),
    "devin_mode": lambda value: validate_choice("devin_mode", value, DEVIN_MODES),
    "create_as_user_id": lambda value: require_id("create_as_user_id", value),
    "platform": lambda value: require_text("platform", value).strip(),
    "child_playbook_id": lambda value: require_id("child_playbook_id", value),
    "session_links": lambda value: check_list("session_links", value, "strings", require_text),
}


#: The optional fields of a message send.
MESSAGE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "attachment_urls": V3_CREATE_CHECKS["attachment_urls"],
    "message_as_user_id": lambda value: require_id("message_as_user_id", value),
}


class V3Dialect(ApiDialect):
    """The v3 paths (scoped to one organization), parameters and response shapes.

    :param org_id: The organization (``org-…``), from the connection or ``GET /v3/self``.
    """

    version = "v3"
    idempotent_create = False
    max_page_size = MAX_PAGE_SIZE
    messages_in_session = False
    message_time_key = "created_at"

    def __init__(self, org_id: str) -> None:
        self.org_id = require_id("org_id", org_id)
        self._base = f"/v3/organizations/{quote(self.org_id, safe='')}"
        self.attachments_path = f"{self._base}/attachments"

    def __repr__(self) -> str:
        return f"V3Dialect(org_id={self.org_id!r})"

    def _session(self, session_id: str) -> str:
        return f"{self._base}/sessions/{quote(devin_id(session_id), safe='')}"

    def _page_params(self, page_size: int, cursor: str | None, field: str = "first") -> dict[str, Any]:
        return {"first": validate_page_size(page_size, field, MAX_PAGE_SIZE), "after": cursor}

    # --- sessions -------------------------------------------------------------------------------

    def list_sessions(self, **query: Unpack[_dialect.SessionQuery]) -> ApiRequest:
        hint = "v3 pages by cursor (pass cursor=, or use iter_sessions())."
        self.reject_given("v1", hint, offset=query.get("offset"))
        self.reject_given("v1", "On v3, filter by tags or session_ids instead.", user_email=query.get("user_email"))
        params: dict[str, Any] = {
            **self._page_params(query.get("page_size", 100), query.get("cursor"), "limit"),
            "tags": validate_tags(query.get("tags")),
            "session_ids": validate_id_list("session_ids", query.get("session_ids")),
            **{name: validate_epoch_seconds(name, query.get(name)) for name in EPOCH_FILTERS},
            "is_archived": _flag(_bool("is_archived", query.get("is_archived"))),
        }
        return ApiRequest.build("list sessions", "GET", f"{self._base}/sessions", params=params)

    def read_session_page(self, body: Any, *, page_size: int, cursor: str | None) -> Page:
        items, end_cursor, has_next = read_cursor_page(body, "list sessions", f"{self._base}/sessions")
        return Page(items, end_cursor if has_next else None)

    def create_session(self, prompt: str, **fields: Unpack[_dialect.CreateSessionFields]) -> ApiRequest:
        if fields.get("idempotent"):
            raise self.reject(
                "v1",
                "idempotent=True",
                "v3 has no server-side idempotency; find an earlier session by tag (DevinHook.find_sessions) "
                "before creating one.",
            )
        self.reject_given("v1", **_dialect.other_version_fields(fields, {*V3_CREATE_CHECKS, "idempotent"}))
        body = {"prompt": require_text("prompt", prompt), **_dialect.checked_fields(V3_CREATE_CHECKS, fields)}
        # Never repeated after an ambiguous failure: v3 has no idempotency, a second POST is a second session.
        return ApiRequest.build("create session", "POST", f"{self._base}/sessions", json_body=body, replay_safe=False)

    def get_session(self, session_id: str) -> ApiRequest:
        return ApiRequest.build(f"get session {session_id}", "GET", self._session(session_id))

    def send_message(self, session_id: str, message: str, **fields: Unpack[_dialect.MessageFields]) -> ApiRequest:
        body = {"message": require_text("message", message), **_dialect.checked_fields(MESSAGE_CHECKS, fields)}
        return ApiRequest.build(
            f"send message to session {session_id}", "POST", f"{self._session(session_id)}/messages", json_body=body
        )

    def read_message_sent(self, body: Any) -> str | None:
        """v3 answers with the session (and resumes a suspended one): a 2xx is a delivery."""
        return None

    def update_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest:
        return self._tags_request(f"update tags of session {session_id}", "PUT", session_id, tags)

    def terminate_session(self, session_id: str, *, archive: bool | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"terminate session {session_id}",
            "DELETE",
            self._session(session_id),
            params={"archive": _flag(_bool("archive", archive))},
        )

    def get_session_tags(self, session_id: str) -> ApiRequest:
        return ApiRequest.build(f"get tags of session {session_id}", "GET", f"{self._session(session_id)}/tags")

    def append_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest:
        return self._tags_request(f"append tags to session {session_id}", "POST", session_id, tags)

    def _tags_request(self, operation: str, method: str, session_id: str, tags: Iterable[str]) -> ApiRequest:
        """``PUT`` (replace) or ``POST`` (append) a session's tags; both are replay-safe (Devin
        de-duplicates an append)."""
        path, body = f"{self._session(session_id)}/tags", {"tags": _dialect.required_tags(tags)}
        return ApiRequest.build(operation, method, path, json_body=body, replay_safe=True)

    def archive_session(self, session_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"archive session {session_id}", "POST", f"{self._session(session_id)}/archive", replay_safe=True
        )

    def unarchive_session(self, session_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"unarchive session {session_id}", "POST", f"{self._session(session_id)}/unarchive", replay_safe=True
        )

    def list_messages(self, session_id: str, *, page_size: int = 100, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"list messages of session {session_id}",
            "GET",
            f"{self._session(session_id)}/messages",
            params=self._page_params(page_size, cursor, "page_size"),
        )

    def read_message_page(self, body: Any) -> tuple[list[dict[str, Any]], str | None, bool]:
        return read_cursor_page(body, "list messages", f"{self._base}/sessions/…/messages")

    # --- the normalised view --------------------------------------------------------------------

    def read_session(self, body: Any) -> SessionView:
        body = body if isinstance(body, dict) else {}
        status = body.get("status") if isinstance(body.get("status"), str) else None
        detail = body.get("status_detail") if isinstance(body.get("status_detail"), str) else None
        status_class = classify(status, detail)
        prs = body.get("pull_requests")
        pull_requests = [
            pr for pr in (prs if isinstance(prs, list) else []) if isinstance(pr, dict) and pr.get("pr_url")
        ]
        pr_urls = tuple(pr["pr_url"] for pr in pull_requests)
        acus = body.get("acus_consumed")
        children = body.get("child_session_ids")
        return SessionView(
            session_id=str(body.get("session_id") or ""),
            status_class=status_class,
            status=status,
            status_detail=detail,
            status_enum=V1_WORDS.get(status_class),
            url=body.get("url") if isinstance(body.get("url"), str) else None,
            title=body.get("title"),
            tags=tuple(tag for tag in body.get("tags") or [] if isinstance(tag, str)),
            pull_request_urls=tuple(str(url) for url in pr_urls),
            structured_output=body.get("structured_output"),
            acus_consumed=float(acus) if isinstance(acus, (int, float)) and not isinstance(acus, bool) else None,
            updated_at=body.get("updated_at"),
            created_at=body.get("created_at"),
            is_archived=body.get("is_archived") is True,
            pull_request_states=tuple(_text(pr.get("pr_state")) for pr in pull_requests),
            playbook_id=_text(body.get("playbook_id")),
            org_id=_text(body.get("org_id")),
            user_id=_text(body.get("user_id")),
            service_user_id=_text(body.get("service_user_id")),
            parent_session_id=_text(body.get("parent_session_id")),
            child_session_ids=tuple(c for c in (children if isinstance(children, list) else []) if isinstance(c, str)),
            origin=_text(body.get("origin")),
            category=_text(body.get("category")),
            subcategory=_text(body.get("subcategory")),
            devin_mode=_text(body.get("devin_mode")),
            automation_id=_text(body.get("automation_id")),
        )

    def message_source(self, item: Mapping[str, Any]) -> str:
        source = item.get("source")
        return source if isinstance(source, str) and source else "unknown"

    # --- attachments ----------------------------------------------------------------------------

    def read_attachment_url(self, body: Any, raw: bytes) -> str:
        """v3 returns ``{attachment_id, name, url}``; a bare string (v1's shape) is tolerated."""
        if isinstance(body, dict) and isinstance(body.get("url"), str):
            return str(body["url"])
        if isinstance(body, str):
            return body
        raise response_error(
            ApiRequest("upload attachment", "POST", self.attachments_path),
            "Devin API: upload attachment returned no 'url' (expected {attachment_id, name, url}).",
        )

    # --- secrets --------------------------------------------------------------------------------

    def list_secrets(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            "list secrets", "GET", f"{self._base}/secrets", params=self._page_params(MAX_PAGE_SIZE, cursor)
        )

    def read_secret_page(self, body: Any) -> Page:
        items, cursor, has_next = read_cursor_page(body, "list secrets", f"{self._base}/secrets")
        normalised = [
            {
                "id": item.get("secret_id", item.get("id")),
                "type": item.get("secret_type", item.get("type")),
                "key": item.get("key"),
                "created_at": item.get("created_at"),
            }
            for item in items
        ]
        return Page(normalised, cursor if has_next else None)

    def create_secret(
        self, type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None
    ) -> ApiRequest:
        body: dict[str, Any] = {**_dialect.secret_fields(type, key, value), "is_sensitive": bool(sensitive)}
        if note is not None:
            body["note"] = note
        return ApiRequest.build(f"create secret {key}", "POST", f"{self._base}/secrets", json_body=body)

    def read_created_secret_id(self, body: Any) -> str:
        body = body if isinstance(body, dict) else {}
        return str(body.get("secret_id", body.get("id")))

    def delete_secret(self, secret_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"delete secret {secret_id}", "DELETE", f"{self._base}/secrets/{quote(require_id('secret_id', secret_id))}"
        )

    # --- knowledge ------------------------------------------------------------------------------

    def list_knowledge(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            "list knowledge", "GET", f"{self._base}/knowledge/notes", params=self._page_params(MAX_PAGE_SIZE, cursor)
        )

    def read_knowledge_page(self, body: Any) -> tuple[Page, list[dict[str, Any]]]:
        items, cursor, has_next = read_cursor_page(body, "list knowledge", f"{self._base}/knowledge/notes")
        return Page(items, cursor if has_next else None), []

    def _note_body(self, name: str, body: str, trigger_description: str, fields: KnowledgeFields) -> dict[str, Any]:
        self.reject_given("v1", "v3 knowledge notes have no macro on create.", macro=fields.get("macro"))
        payload: dict[str, Any] = {
            "name": require_text("name", name),
            "body": require_text("body", body),
            "trigger": require_text("trigger_description", trigger_description),
        }
        if fields.get("pinned_repo") is not None:
            payload["pinned_repo"] = fields["pinned_repo"]
        if fields.get("parent_folder_id") is not None:
            payload["folder_id"] = require_id("parent_folder_id", fields["parent_folder_id"])
        if fields.get("is_enabled") is not None:
            payload["is_enabled"] = _bool("is_enabled", fields["is_enabled"])
        return payload

    def create_knowledge(
        self, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> ApiRequest:
        payload = self._note_body(name, body, trigger_description, fields)
        return ApiRequest.build(
            f"create knowledge {name!r}", "POST", f"{self._base}/knowledge/notes", json_body=payload
        )

    def update_knowledge(
        self, note_id: str, name: str, body: str, trigger_description: str, **fields: Unpack[KnowledgeFields]
    ) -> ApiRequest:
        payload = self._note_body(name, body, trigger_description, fields)
        return ApiRequest.build(
            f"update knowledge {note_id}",
            "PUT",
            f"{self._base}/knowledge/notes/{quote(require_id('note_id', note_id), safe='')}",
            json_body=payload,
        )

    def delete_knowledge(self, note_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"delete knowledge {note_id}",
            "DELETE",
            f"{self._base}/knowledge/notes/{quote(require_id('note_id', note_id), safe='')}",
        )

    # --- playbooks ------------------------------------------------------------------------------

    def _playbook(self, playbook_id: str) -> str:
        return f"{self._base}/playbooks/{quote(require_id('playbook_id', playbook_id), safe='')}"

    def list_playbooks(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            "list playbooks", "GET", f"{self._base}/playbooks", params=self._page_params(MAX_PAGE_SIZE, cursor)
        )

    def read_playbook_page(self, body: Any) -> Page:
        items, cursor, has_next = read_cursor_page(body, "list playbooks", f"{self._base}/playbooks")
        return Page(items, cursor if has_next else None)

    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"create playbook {title!r}", "POST", f"{self._base}/playbooks", json_body=playbook_body(title, body, macro)
        )

    def get_playbook(self, playbook_id: str) -> ApiRequest:
        return ApiRequest.build(f"get playbook {playbook_id}", "GET", self._playbook(playbook_id))

    def update_playbook(self, playbook_id: str, title: str, body: str, *, macro: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"update playbook {playbook_id}",
            "PUT",
            self._playbook(playbook_id),
            json_body=playbook_body(title, body, macro),
        )

    def delete_playbook(self, playbook_id: str) -> ApiRequest:
        return ApiRequest.build(f"delete playbook {playbook_id}", "DELETE", self._playbook(playbook_id))


def _checked_secrets(secrets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, secret in enumerate(secrets):
        if len(secret["key"]) > MAX_SECRET_KEY_CHARS:
            raise ValueError(f"session_secrets[{index}].key is longer than {MAX_SECRET_KEY_CHARS} characters.")
        if len(secret["value"]) > MAX_SECRET_VALUE_CHARS:
            raise ValueError(
                f"session_secrets[{index}].value (for key {secret['key']!r}) is longer than "
                f"{MAX_SECRET_VALUE_CHARS} characters."
            )
    return secrets


def _text(value: Any) -> str | None:
    """A string field of a response, or ``None`` for null or anything that is not a string."""
    return value if isinstance(value, str) else None
