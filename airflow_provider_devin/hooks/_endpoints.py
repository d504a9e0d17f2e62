"""Every Devin v1 endpoint as a function that validates its input and returns an
:class:`~airflow_provider_devin.hooks._http.ApiRequest`; plus the readers that normalise the
documented response drift. Shared by the sync hook and the async client, so a request is built
(and validated) in exactly one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.validation import (
    require_id,
    require_text,
    validate_id_list,
    validate_max_acu_limit,
    validate_session_secrets,
    validate_structured_output_schema,
    validate_tags,
)

SECRET_TYPES = ("cookie", "key-value", "totp")


def _segment(field: str, value: object) -> str:
    return quote(require_id(field, value), safe="")


# --- sessions -----------------------------------------------------------------------------------


def list_sessions(
    tags: Iterable[str] | None = None, user_email: str | None = None, limit: int = 100, offset: int = 0
) -> ApiRequest:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}.")
    return ApiRequest.build(
        "list sessions",
        "GET",
        "/v1/sessions",
        params={"limit": limit, "offset": offset, "tags": validate_tags(tags), "user_email": user_email},
    )


def create_session(
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
) -> ApiRequest:
    body: dict[str, Any] = {"prompt": require_text("prompt", prompt), "idempotent": bool(idempotent)}
    if title is not None:
        body["title"] = require_text("title", title)
    if tags is not None:
        body["tags"] = validate_tags(tags)
    if playbook_id is not None:
        body["playbook_id"] = require_id("playbook_id", playbook_id)
    if snapshot_id is not None:
        body["snapshot_id"] = require_id("snapshot_id", snapshot_id)
    # None means "use all org knowledge/secrets" and is omitted; [] means "use none" and is sent.
    if knowledge_ids is not None:
        body["knowledge_ids"] = validate_id_list("knowledge_ids", knowledge_ids)
    if secret_ids is not None:
        body["secret_ids"] = validate_id_list("secret_ids", secret_ids)
    if session_secrets is not None:
        body["session_secrets"] = validate_session_secrets(session_secrets)
    if structured_output_schema is not None:
        body["structured_output_schema"] = validate_structured_output_schema(structured_output_schema)
    if max_acu_limit is not None:
        body["max_acu_limit"] = validate_max_acu_limit(max_acu_limit)
    if unlisted is not None:
        body["unlisted"] = bool(unlisted)
    # Only an idempotent create may be repeated after an ambiguous failure: Devin then returns the
    # session the first attempt made instead of a second one.
    return ApiRequest.build("create session", "POST", "/v1/sessions", json_body=body, replay_safe=bool(idempotent))


def get_session(session_id: str) -> ApiRequest:
    return ApiRequest.build(f"get session {session_id}", "GET", f"/v1/sessions/{_segment('session_id', session_id)}")


def send_message(session_id: str, message: str) -> ApiRequest:
    return ApiRequest.build(
        f"send message to session {session_id}",
        "POST",
        f"/v1/sessions/{_segment('session_id', session_id)}/message",
        json_body={"message": require_text("message", message)},
    )


def update_session_tags(session_id: str, tags: Iterable[str]) -> ApiRequest:
    checked = validate_tags(tags)
    if checked is None:
        raise ValueError("tags must be a list of strings (use [] to remove every tag).")
    return ApiRequest.build(
        f"update tags of session {session_id}",
        "PUT",
        f"/v1/sessions/{_segment('session_id', session_id)}/tags",
        json_body={"tags": checked},
    )


def terminate_session(session_id: str) -> ApiRequest:
    return ApiRequest.build(
        f"terminate session {session_id}", "DELETE", f"/v1/sessions/{_segment('session_id', session_id)}"
    )


# --- attachments --------------------------------------------------------------------------------


def upload_attachment(filename: str) -> ApiRequest:
    return ApiRequest.build(f"upload attachment {filename}", "POST", "/v1/attachments")


def download_attachment(url_or_path: str) -> ApiRequest:
    """``url_or_path``: an attachment URL as upload returned it, or ``"<uuid>/<name>"``."""
    text = require_text("url_or_path", url_or_path).strip()
    path = urlsplit(text).path if "://" in text else text
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2:
        raise ValueError(f"url_or_path must be an attachment URL or '<uuid>/<name>', got {url_or_path!r}.")
    uuid, name = parts[-2], parts[-1]
    return ApiRequest.build(
        f"download attachment {uuid}/{name}",
        "GET",
        f"/v1/attachments/{quote(uuid, safe='')}/{quote(name, safe='')}",
        expect_json=False,
    )


def read_attachment_url(body: Any, raw: bytes) -> str:
    """The upload returns a JSON string; tolerate a bare (or quoted) text body too."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        return body["url"]
    return raw.decode("utf-8", errors="replace").strip().strip('"')


# --- secrets ------------------------------------------------------------------------------------


def list_secrets() -> ApiRequest:
    return ApiRequest.build("list secrets", "GET", "/v1/secrets")


def create_secret(type: str, key: str, value: str, *, sensitive: bool = True, note: str | None = None) -> ApiRequest:
    if type not in SECRET_TYPES:
        raise ValueError(f"type must be one of {', '.join(SECRET_TYPES)}, got {type!r}.")
    if not isinstance(value, str) or value == "":
        raise ValueError("value must be a non-empty string.")
    body = {"type": type, "key": require_text("key", key), "value": value, "sensitive": bool(sensitive)}
    body["note"] = note if note is not None else ""
    return ApiRequest.build(f"create secret {key}", "POST", "/v1/secrets", json_body=body)


def delete_secret(secret_id: str) -> ApiRequest:
    return ApiRequest.build(f"delete secret {secret_id}", "DELETE", f"/v1/secrets/{_segment('secret_id', secret_id)}")


def read_secrets(body: Any) -> list[dict[str, Any]]:
    """Current shape: a bare array of ``{id, type, key, created_at}``; older: ``{"secrets": [{secret_id, secret_type,
    secret_name, created_at}]}``. Both become the current shape."""
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
    return result


# --- knowledge ----------------------------------------------------------------------------------


def list_knowledge() -> ApiRequest:
    return ApiRequest.build("list knowledge", "GET", "/v1/knowledge")


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


def create_knowledge(
    name: str,
    body: str,
    trigger_description: str,
    *,
    macro: str | None = None,
    parent_folder_id: str | None = None,
    pinned_repo: str | None = None,
) -> ApiRequest:
    payload = _knowledge_body(name, body, trigger_description, macro, parent_folder_id, pinned_repo)
    return ApiRequest.build(f"create knowledge {name!r}", "POST", "/v1/knowledge", json_body=payload)


def update_knowledge(
    note_id: str,
    name: str,
    body: str,
    trigger_description: str,
    *,
    macro: str | None = None,
    parent_folder_id: str | None = None,
    pinned_repo: str | None = None,
) -> ApiRequest:
    payload = _knowledge_body(name, body, trigger_description, macro, parent_folder_id, pinned_repo)
    return ApiRequest.build(
        f"update knowledge {note_id}", "PUT", f"/v1/knowledge/{_segment('note_id', note_id)}", json_body=payload
    )


def delete_knowledge(note_id: str) -> ApiRequest:
    return ApiRequest.build(f"delete knowledge {note_id}", "DELETE", f"/v1/knowledge/{_segment('note_id', note_id)}")


def read_knowledge(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        body = {}
    return {"knowledge": list(body.get("knowledge") or []), "folders": list(body.get("folders") or [])}


# --- playbooks ----------------------------------------------------------------------------------


def list_playbooks() -> ApiRequest:
    return ApiRequest.build("list playbooks", "GET", "/v1/playbooks")


def _playbook_body(title: str, body: str, macro: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": require_text("title", title), "body": require_text("body", body)}
    if macro is not None:
        if not isinstance(macro, str) or not macro.startswith("!") or len(macro) < 2:
            raise ValueError(f"macro must look like '!name' (letters, digits, _ or -), got {macro!r}.")
        payload["macro"] = macro
    return payload


def create_playbook(title: str, body: str, *, macro: str | None = None) -> ApiRequest:
    return ApiRequest.build(
        f"create playbook {title!r}", "POST", "/v1/playbooks", json_body=_playbook_body(title, body, macro)
    )


def get_playbook(playbook_id: str) -> ApiRequest:
    return ApiRequest.build(
        f"get playbook {playbook_id}", "GET", f"/v1/playbooks/{_segment('playbook_id', playbook_id)}"
    )


def update_playbook(playbook_id: str, title: str, body: str, *, macro: str | None = None) -> ApiRequest:
    return ApiRequest.build(
        f"update playbook {playbook_id}",
        "PUT",
        f"/v1/playbooks/{_segment('playbook_id', playbook_id)}",
        json_body=_playbook_body(title, body, macro),
    )


def delete_playbook(playbook_id: str) -> ApiRequest:
    return ApiRequest.build(
        f"delete playbook {playbook_id}", "DELETE", f"/v1/playbooks/{_segment('playbook_id', playbook_id)}"
    )


def read_playbooks(body: Any) -> list[dict[str, Any]]:
    """A bare array is documented; ``{"items": [...]}`` has been seen. Accept both."""
    if isinstance(body, dict):
        body = body.get("items", body.get("playbooks", []))
    return [item for item in body or [] if isinstance(item, dict)]


def read_detail(body: Any, key: str = "detail") -> str | None:
    """Devin's ``{"detail": "..."}`` (or ``{"message"|"status": ...}``) success bodies, as a string."""
    if isinstance(body, dict):
        value = body.get(key)
        return None if value is None else str(value)
    if isinstance(body, str):
        return body
    return None
