"""Devin's v1 API (legacy; ``apk_user_`` / ``apk_`` keys) as an :class:`ApiDialect`.

Every endpoint is a method that validates its input and returns an
:class:`~airflow_provider_devin.hooks._http.ApiRequest`; the readers normalise the documented
response drift (``devin-api.md``). v1 quirks live here and nowhere else: offset pagination, one
``pull_request``, the whole conversation in every ``GET``, ``{"detail": ...}`` success bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Unpack
from urllib.parse import quote

from airflow_provider_devin.hooks import _dialect
from airflow_provider_devin.hooks._dialect import ApiDialect, Page
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.session import SessionView, StatusClass
from airflow_provider_devin.validation import (
    require_id,
    require_text,
    validate_page_size,
    validate_session_secrets,
    validate_tags,
)

#: v1 ``status_enum`` → the provider's class (``/tmp`` plan table; ``devin-api.md`` §11).
STATUS_CLASSES: dict[str, StatusClass] = {
    "working": StatusClass.WORKING,
    "resume_requested": StatusClass.WORKING,
    "resume_requested_frontend": StatusClass.WORKING,
    "resumed": StatusClass.WORKING,
    "finished": StatusClass.FINISHED,
    "blocked": StatusClass.NEEDS_HUMAN,
    "suspend_requested": StatusClass.PAUSED,
    "suspend_requested_frontend": StatusClass.PAUSED,
    "expired": StatusClass.FAILED,
}

#: v1 message ``type`` → ``SessionMessage.source``; other types keep their raw value as source.
MESSAGE_SOURCES = {"devin_message": "devin", "user_message": "user", "initial_user_message": "user"}
#: The create fields v1 sends besides the shared ones (``idempotent`` and ``attachment_urls`` are
#: sent their own way); any other create field is v3's, refused here when given.
V1_CREATE_CHECKS: dict[str, Callable[[Any], Any]] = {
    **_dialect.SHARED_CREATE_CHECKS,
    "snapshot_id": lambda value: require_id("snapshot_id", value),
    "session_secrets": validate_session_secrets,
    "unlisted": bool,
}


def with_attachment_lines(text: str, attachment_urls: Iterable[str] | None, field: str) -> str:
    """v1 has no ``attachment_urls``: its documented convention is one ``ATTACHMENT:"<url>"`` line per
    file at the end of the prompt or message, which is what ``attachment_urls`` becomes here."""
    text = require_text(field, text)
    if attachment_urls is None:
        return text
    if isinstance(attachment_urls, str):
        raise ValueError(f"attachment_urls must be a list of URLs, not a single string ({attachment_urls!r}).")
    urls = [require_text(f"attachment_urls[{index}]", url).strip() for index, url in enumerate(attachment_urls)]
    if not urls:
        return text
    return text.rstrip("\n") + "\n\n" + "\n".join(f'ATTACHMENT:"{url}"' for url in urls)


def _segment(field: str, value: object) -> str:
    return quote(require_id(field, value), safe="")


def _session_path(session_id: str) -> str:
    return f"/v1/sessions/{_segment('session_id', session_id)}"


class V1Dialect(ApiDialect):
    """The v1 paths, parameters and response shapes."""

    version = "v1"
    idempotent_create = True
    max_page_size = None
    messages_in_session = True
    message_time_key = "timestamp"
    attachments_path = "/v1/attachments"

    # --- sessions -------------------------------------------------------------------------------

    def list_sessions(self, **query: Unpack[_dialect.SessionQuery]) -> ApiRequest:
        tags, user_email, cursor = query.pop("tags", None), query.pop("user_email", None), query.pop("cursor", None)
        page_size, offset = query.pop("page_size", 100), query.pop("offset", None)
        self.reject_given("v3", **query)  # what is left: the v3-only filters
        limit = validate_page_size(page_size, "limit")
        if offset is None:
            offset = int(cursor) if cursor is not None and str(cursor).isdigit() else 0
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a non-negative integer, got {offset!r}.")
        return ApiRequest.build(
            "list sessions",
            "GET",
            "/v1/sessions",
            params={"limit": limit, "offset": offset, "tags": validate_tags(tags), "user_email": user_email},
        )

    def read_session_page(self, body: Any, *, page_size: int, cursor: str | None) -> Page:
        """v1 has no cursor: a full page means "maybe more", at the next offset."""
        items = [item for item in ((body or {}).get("sessions") or []) if isinstance(item, dict)]
        offset = int(cursor) if cursor is not None and str(cursor).isdigit() else 0
        return Page(items, str(offset + len(items)) if len(items) >= page_size else None)

    def create_session(self, prompt: str, **fields: Unpack[_dialect.CreateSessionFields]) -> ApiRequest:
        self.reject_given("v3", **_dialect.other_version_fields(fields, {*V1_CREATE_CHECKS, "idempotent"}))
        idempotent = bool(fields.get("idempotent", False))
        prompt = with_attachment_lines(prompt, fields.get("attachment_urls"), "prompt")
        body = {"prompt": prompt, **_dialect.checked_fields(V1_CREATE_CHECKS, fields), "idempotent": idempotent}
        # Only an idempotent create may be repeated after an ambiguous failure: Devin then returns the
        # session the first attempt made instead of a second one.
        return ApiRequest.build("create session", "POST", "/v1/sessions", json_body=body, replay_safe=idempotent)

    def get_session(self, session_id: str) -> ApiRequest:
        return ApiRequest.build(f"get session {session_id}", "GET", _session_path(session_id))

    def send_message(self, session_id: str, message: str, **fields: Unpack[_dialect.MessageFields]) -> ApiRequest:
        self.reject_given("v3", message_as_user_id=fields.get("message_as_user_id"))
        return ApiRequest.build(
            f"send message to session {session_id}",
            "POST",
            f"{_session_path(session_id)}/message",
            json_body={"message": with_attachment_lines(message, fields.get("attachment_urls"), "message")},
        )

    def read_message_sent(self, body: Any) -> str | None:
        """v1 answers ``null`` when delivered, ``{"detail": "..."}`` when not delivered normally."""
        return self.read_detail(body) or None

    def update_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest:
        return ApiRequest.build(
            f"update tags of session {session_id}",
            "PUT",
            f"{_session_path(session_id)}/tags",
            json_body={"tags": _dialect.required_tags(tags)},
        )

    def terminate_session(self, session_id: str, *, archive: bool | None = None) -> ApiRequest:
        self.reject_given("v3", archive=archive)
        return ApiRequest.build(f"terminate session {session_id}", "DELETE", _session_path(session_id))

    def get_session_tags(self, session_id: str) -> ApiRequest:
        raise self.reject("v3", "get_session_tags", "On v1, read 'tags' from get_session().")

    def append_session_tags(self, session_id: str, tags: Iterable[str]) -> ApiRequest:
        raise self.reject("v3", "append_session_tags", "On v1, use update_session_tags() with the full list.")

    def archive_session(self, session_id: str) -> ApiRequest:
        raise self.reject("v3", "archive_session")

    def unarchive_session(self, session_id: str) -> ApiRequest:
        raise self.reject("v3", "unarchive_session")

    def list_messages(self, session_id: str, *, page_size: int = 100, cursor: str | None = None) -> ApiRequest:
        raise self.reject("v3", "list_messages", "On v1, get_session() carries the whole conversation.")

    def read_message_page(self, body: Any) -> tuple[list[dict[str, Any]], str | None, bool]:
        raise self.reject("v3", "list_messages")

    # --- the normalised view --------------------------------------------------------------------

    def read_session(self, body: Any) -> SessionView:
        body = body if isinstance(body, dict) else {}
        status_enum = body.get("status_enum")
        raw = status_enum.strip().lower() if isinstance(status_enum, str) else None
        pull_request = body.get("pull_request")
        pr_url = pull_request.get("url") if isinstance(pull_request, dict) else None
        messages = tuple(
            m for m in (self.read_message(item) for item in body.get("messages") or [] if isinstance(item, dict)) if m
        )
        return SessionView(
            session_id=str(body.get("session_id") or ""),
            status_class=STATUS_CLASSES.get(raw or "", StatusClass.UNKNOWN),
            status=status_enum if isinstance(status_enum, str) else None,
            status_enum=status_enum if isinstance(status_enum, str) else None,
            url=body.get("url") if isinstance(body.get("url"), str) else None,
            title=body.get("title"),
            tags=tuple(tag for tag in body.get("tags") or [] if isinstance(tag, str)),
            pull_request_urls=(pr_url,) if isinstance(pr_url, str) and pr_url else (),
            structured_output=body.get("structured_output"),
            updated_at=body.get("updated_at"),
            created_at=body.get("created_at"),
            playbook_id=body.get("playbook_id") if isinstance(body.get("playbook_id"), str) else None,
            messages=messages,
        )

    def message_source(self, item: Mapping[str, Any]) -> str:
        kind = str(item.get("type") or "")
        return MESSAGE_SOURCES.get(kind, kind or "unknown")

    # --- attachments ----------------------------------------------------------------------------

    def read_attachment_url(self, body: Any, raw: bytes) -> str:
        """The upload returns a JSON string; tolerate a bare (or quoted) text body too."""
        if isinstance(body, str):
            return body
        if isinstance(body, dict) and isinstance(body.get("url"), str):
            return str(body["url"])
        return raw.decode("utf-8", errors="replace").strip().strip('"')

    # --- secrets --------------------------------------------------------------------------------

    def list_secrets(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build("list secrets", "GET", "/v1/secrets")

    def read_secret_page(self, body: Any) -> Page:
        """Current shape: a bare array of ``{id, type, key, created_at}``; older: ``{"secrets": [{secret_id,
        secret_type, secret_name, created_at}]}``. Both become the current shape."""
        items = body.get("secrets", []) if isinstance(body, dict) else body
        result = []
        for item in items or []:
            if not isinstance(item, dict):
                continue
            result.append(
                {
                    "id": item.get("id", item.get("secret_id")),
                    "type": item.get("type", item.get("secret_type")),
                    "key": item.get("key", item.get("secret_name")),
                    "created_at": item.get("created_at"),
                }
            )
        return Page(result)

    def create_secret(
        self, type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None
    ) -> ApiRequest:
        body = {
            **_dialect.secret_fields(type, key, value),
            "sensitive": bool(sensitive),
            "note": note if note is not None else "",
        }
        return ApiRequest.build(f"create secret {key}", "POST", "/v1/secrets", json_body=body)

    def read_created_secret_id(self, body: Any) -> str:
        return str((body or {}).get("id"))

    def delete_secret(self, secret_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"delete secret {secret_id}", "DELETE", f"/v1/secrets/{_segment('secret_id', secret_id)}"
        )

    # --- knowledge ------------------------------------------------------------------------------

    def list_knowledge(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build("list knowledge", "GET", "/v1/knowledge")

    def read_knowledge_page(self, body: Any) -> tuple[Page, list[dict[str, Any]]]:
        body = body if isinstance(body, dict) else {}
        notes = [item for item in body.get("knowledge") or [] if isinstance(item, dict)]
        return Page(notes), [item for item in body.get("folders") or [] if isinstance(item, dict)]

    def create_knowledge(
        self, name: str, body: str, trigger_description: str, **fields: Unpack[_dialect.KnowledgeFields]
    ) -> ApiRequest:
        payload = self._knowledge_payload(name, body, trigger_description, fields)
        return ApiRequest.build(f"create knowledge {name!r}", "POST", "/v1/knowledge", json_body=payload)

    def update_knowledge(
        self, note_id: str, name: str, body: str, trigger_description: str, **fields: Unpack[_dialect.KnowledgeFields]
    ) -> ApiRequest:
        payload = self._knowledge_payload(name, body, trigger_description, fields)
        return ApiRequest.build(
            f"update knowledge {note_id}", "PUT", f"/v1/knowledge/{_segment('note_id', note_id)}", json_body=payload
        )

    def _knowledge_payload(
        self, name: str, body: str, trigger_description: str, fields: _dialect.KnowledgeFields
    ) -> dict[str, Any]:
        self.reject_given("v3", is_enabled=fields.get("is_enabled"))
        return _knowledge_body(
            name,
            body,
            trigger_description,
            fields.get("macro"),
            fields.get("parent_folder_id"),
            fields.get("pinned_repo"),
        )

    def delete_knowledge(self, note_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"delete knowledge {note_id}", "DELETE", f"/v1/knowledge/{_segment('note_id', note_id)}"
        )

    # --- playbooks ------------------------------------------------------------------------------

    def list_playbooks(self, *, cursor: str | None = None) -> ApiRequest:
        return ApiRequest.build("list playbooks", "GET", "/v1/playbooks")

    def read_playbook_page(self, body: Any) -> Page:
        """A bare array is documented; ``{"items": [...]}`` has been seen. Accept both."""
        if isinstance(body, dict):
            body = body.get("items", body.get("playbooks", []))
        return Page([item for item in body or [] if isinstance(item, dict)])

    def create_playbook(self, title: str, body: str, *, macro: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"create playbook {title!r}", "POST", "/v1/playbooks", json_body=_dialect.playbook_body(title, body, macro)
        )

    def get_playbook(self, playbook_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"get playbook {playbook_id}", "GET", f"/v1/playbooks/{_segment('playbook_id', playbook_id)}"
        )

    def update_playbook(self, playbook_id: str, title: str, body: str, *, macro: str | None = None) -> ApiRequest:
        return ApiRequest.build(
            f"update playbook {playbook_id}",
            "PUT",
            f"/v1/playbooks/{_segment('playbook_id', playbook_id)}",
            json_body=_dialect.playbook_body(title, body, macro),
        )

    def delete_playbook(self, playbook_id: str) -> ApiRequest:
        return ApiRequest.build(
            f"delete playbook {playbook_id}", "DELETE", f"/v1/playbooks/{_segment('playbook_id', playbook_id)}"
        )


def _knowledge_body(
    name: str,
    body: str,
    trigger_description: str,
    macro: str | None,
    parent_folder_id: str | None,
    pinned_repo: str | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": require_text("name", name),
        "body": require_text("body", body),
        "trigger_description": require_text("trigger_description", trigger_description),
    }
    for field, value in (("macro", macro), ("parent_folder_id", parent_folder_id), ("pinned_repo", pinned_repo)):
        if value is not None:
            payload[field] = value
    return payload
