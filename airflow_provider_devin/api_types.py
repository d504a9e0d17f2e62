"""The JSON shapes of the Devin v1 API, as ``TypedDict`` s.

They stay plain dicts at run time, so results go through XCom untouched. Devin may add fields at
any time: every consumer reads with ``.get`` and ignores what it does not know.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

__all__ = [
    "KNOWN_STATUS_ENUMS",
    "CreateSessionResponse",
    "KnowledgeEntry",
    "KnowledgeFolder",
    "KnowledgeListing",
    "Playbook",
    "PullRequest",
    "SecretMetadata",
    "SessionDetails",
    "SessionMessage",
    "SessionSecretInput",
    "SessionSummary",
]

#: The ``status_enum`` values documented for v1. Devin may send others; they are never an error.
KNOWN_STATUS_ENUMS: frozenset[str] = frozenset(
    {
        "working",
        "blocked",
        "expired",
        "finished",
        "suspend_requested",
        "suspend_requested_frontend",
        "resume_requested",
        "resume_requested_frontend",
        "resumed",
    }
)


class PullRequest(TypedDict):
    """The pull request Devin opened for a session."""

    url: str


class SessionMessage(TypedDict):
    """One item of a session's ``messages``, oldest first."""

    type: str  # initial_user_message | user_message | devin_message | (others may appear)
    message: str
    timestamp: NotRequired[str]
    event_id: NotRequired[str]
    username: NotRequired[str | None]
    origin: NotRequired[str | None]
    user_id: NotRequired[str | None]


class _SessionFields(TypedDict):
    """Fields a session has in both the list and the details responses."""

    session_id: str
    status: str
    created_at: str
    updated_at: str
    status_enum: NotRequired[str | None]
    title: NotRequired[str | None]
    playbook_id: NotRequired[str | None]
    snapshot_id: NotRequired[str | None]
    tags: NotRequired[list[str] | None]
    pull_request: NotRequired[PullRequest | None]
    structured_output: NotRequired[Any]


class SessionSummary(_SessionFields):
    """An item of ``GET /v1/sessions``."""

    requesting_user_email: NotRequired[str | None]


class SessionDetails(_SessionFields):
    """``GET /v1/sessions/{session_id}`` (``requesting_user_email`` is not documented here)."""

    messages: NotRequired[list[SessionMessage]]


class CreateSessionResponse(TypedDict):
    """``POST /v1/sessions``. ``is_new_session`` may be absent: treat that as unknown."""

    session_id: str
    url: str
    is_new_session: NotRequired[bool | None]


class SessionSecretInput(TypedDict):
    """A secret that exists only inside one session (never saved to the org)."""

    key: str
    value: str
    sensitive: NotRequired[bool]


SecretType = Literal["cookie", "key-value", "totp", "dictionary"]


class SecretMetadata(TypedDict):
    """An item of ``GET /v1/secrets`` (values are never returned), normalised from either shape."""

    id: str
    type: str
    key: str | None
    created_at: str | None


class KnowledgeEntry(TypedDict):
    """A knowledge note."""

    id: str
    name: str
    body: str
    trigger_description: str
    created_at: NotRequired[str]
    created_by: NotRequired[dict[str, Any] | None]
    macro: NotRequired[str | None]
    parent_folder_id: NotRequired[str | None]
    pinned_repo: NotRequired[str | None]


class KnowledgeFolder(TypedDict):
    """A knowledge folder."""

    id: str
    name: str
    description: NotRequired[str | None]
    created_at: NotRequired[str | None]


class KnowledgeListing(TypedDict):
    """``GET /v1/knowledge``."""

    knowledge: list[KnowledgeEntry]
    folders: list[KnowledgeFolder]


class Playbook(TypedDict):
    """A team playbook."""

    playbook_id: str
    title: str
    body: str
    status: NotRequired[str | None]
    access_type: NotRequired[str | None]
    org_id: NotRequired[str | None]
    macro: NotRequired[str | None]
    created_at: NotRequired[str | None]
    updated_at: NotRequired[str | None]
    created_by_user_id: NotRequired[str | None]
    created_by_user_name: NotRequired[str | None]
    updated_by_user_id: NotRequired[str | None]
    updated_by_user_name: NotRequired[str | None]
