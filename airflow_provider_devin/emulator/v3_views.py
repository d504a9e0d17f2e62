"""v3 JSON views of the shared model: ``SessionResponse``, messages, attachments, notes, playbooks, secrets.

Timestamps are integer epoch seconds from :meth:`EmulatedClock.epoch` (never in the future).
``status_detail``, ``structured_output``, ``category`` and ``subcategory`` are "only populated on
get/list endpoints" (contract §4.2): the create, message, terminate, archive and unarchive answers
carry them as null (``full=False``).
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_devin.emulator.clock import EmulatedClock
from airflow_provider_devin.emulator.sessions import EmulatedSession

_CATEGORIES = (
    (("fix", "bug", "flaky", "crash"), "bug_fixing"),
    (("test",), "unit_test_generation"),
    (("refactor", "optimi"), "refactoring_and_optimization"),
    (("doc", "readme"), "documentation_and_content"),
    (("migrat", "upgrade"), "migrations_and_upgrades"),
    (("review",), "code_review"),
)


def category_of(prompt: str) -> str:
    """A keyword guess at the session's category (Devin classifies it; the emulator only imitates)."""
    text = prompt.lower()
    for words, category in _CATEGORIES:
        if any(word in text for word in words):
            return category
    return "other"


def session_response(session: EmulatedSession, clock: EmulatedClock, now: float, *, full: bool) -> dict[str, Any]:
    """A ``SessionResponse``; ``full`` for get/list (see the module doc)."""
    pull_requests = [{"pr_url": session.pull_request["url"], "pr_state": "open"}] if session.pull_request else []
    return {
        "session_id": session.session_id,
        "url": session.url,
        "status": session.v3_status,
        "status_detail": session.status_detail if full else None,
        "tags": list(session.tags or []),
        "org_id": session.org_id,
        "created_at": clock.epoch(session.created),
        "updated_at": clock.epoch(session.updated),
        "acus_consumed": round(session.acus_at(now), 4),
        "pull_requests": pull_requests,
        "structured_output": session.structured_output if full else None,
        "title": session.title,
        "user_id": session.v3_user_id,
        "service_user_id": session.service_user_id,
        "playbook_id": session.playbook_id,
        "parent_session_id": session.parent_session_id,
        "child_session_ids": list(session.child_session_ids),
        "is_archived": session.is_archived,
        "origin": "api",
        "category": category_of(session.prompt) if full else None,
        "subcategory": None,
        "devin_mode": session.devin_mode,
        "automation_id": None,
    }


def message_view(message: dict[str, Any], clock: EmulatedClock) -> dict[str, Any]:
    """A v3 ``SessionMessage``: ``{event_id, source, message, created_at}``."""
    return {
        "event_id": message["event_id"],
        "source": "devin" if message["type"] == "devin_message" else "user",
        "message": message["message"],
        "created_at": clock.epoch(message["_at"]),
    }


def attachment_entry(
    url: str, source: str, known: dict[tuple[str, str], tuple[bytes, str]] | None = None
) -> dict[str, Any]:
    """A ``SessionAttachment`` for a URL given in ``attachment_urls`` (uploads keep their id and type)."""
    segments = [unquote(part) for part in urlsplit(url).path.split("/") if part]
    name = segments[-1] if segments else "file"
    attachment_id = segments[-2] if len(segments) >= 2 else ""
    content_type = None
    if known is not None and (attachment_id, name) in known:
        content_type = known[(attachment_id, name)][1]
    else:
        attachment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, url))
        content_type = mimetypes.guess_type(name)[0]
    return {"attachment_id": attachment_id, "name": name, "url": url, "source": source, "content_type": content_type}


#: A v3 note's fields, and the names the (v1-shaped) note store keeps them under.
NOTE_FIELDS = {
    "name": "name",
    "body": "body",
    "trigger": "trigger_description",
    "folder_id": "parent_folder_id",
    "pinned_repo": "pinned_repo",
}
#: A v3 playbook's fields, and where the stored playbook keeps them.
PLAYBOOK_FIELDS = {
    "playbook_id": "playbook_id",
    "title": "title",
    "body": "body",
    "created_by": "created_by_user_id",
    "updated_by": "updated_by_user_id",
    "macro": "macro",
    "org_id": "org_id",
}
#: A v3 secret's fields, and where the stored secret keeps them (never its value).
SECRET_FIELDS = {"secret_id": "id", "secret_type": "type", "key": "key", "note": "note", "is_sensitive": "sensitive"}


def note_view(
    note: dict[str, Any], meta: dict[str, Any], clock: EmulatedClock, folders: dict[str, Any]
) -> dict[str, Any]:
    """A ``KnowledgeNoteResponse`` of a note stored in the v1 shape."""
    folder = folders.get(note.get("parent_folder_id") or "")
    return {
        "note_id": note["id"],
        **_renamed(note, NOTE_FIELDS),
        **_org_resource(meta, clock),
        "folder_path": f"/{folder['name']}" if folder else "/",
        "is_enabled": meta.get("is_enabled", True),
        "macro": note.get("macro"),
        "org_id": meta.get("org_id", "org-emulator"),
    }


def playbook_view(playbook: dict[str, Any], meta: dict[str, Any], clock: EmulatedClock) -> dict[str, Any]:
    """A ``PlaybookResponse`` of a playbook stored in the v1 shape."""
    return {**_renamed(playbook, PLAYBOOK_FIELDS), **_org_resource(meta, clock)}


def secret_view(secret: dict[str, Any], meta: dict[str, Any], clock: EmulatedClock) -> dict[str, Any]:
    """A ``SecretResponse`` of a secret stored in the v1 shape (never its value)."""
    authors = {"created_by": meta["created_by"], "updated_by": meta.get("updated_by")}
    return {**_renamed(secret, SECRET_FIELDS), **_org_resource(meta, clock), **authors}


def _renamed(stored: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``{v3 name: stored value}`` for each ``v3 name: stored name`` of ``names``."""
    return {v3_name: stored.get(stored_name) for v3_name, stored_name in names.items()}


def _org_resource(meta: dict[str, Any], clock: EmulatedClock) -> dict[str, Any]:
    """What every org resource view carries: ``access_type`` and the created/updated epoch seconds."""
    created, updated = clock.epoch(meta["created"]), clock.epoch(meta["updated"])
    return {"access_type": "org", "created_at": created, "updated_at": updated}
