"""The JSON shapes of the Devin v1 and v3 APIs, as ``TypedDict`` s.

They stay plain dicts at run time, so results go through XCom untouched. Devin may add fields at
any time: every consumer reads with ``.get`` and ignores what it does not know.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "KNOWN_STATUS_ENUMS",
    "CreateSessionResponse",
    "KnowledgeEntry",
    "KnowledgeFolder",
    "KnowledgeListing",
    "KnowledgeNoteV3",
    "MessagePageV3",
    "PaginatedResponse",
    "Playbook",
    "PlaybookV3",
    "PullRequest",
    "PullRequestV3",
    "SecretMetadata",
    "SecretV3",
    "SelfResponse",
    "SessionDetails",
    "SessionMessage",
    "SessionMessageV3",
    "SessionPageV3",
    "SessionResponse",
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


class _SessionBody(TypedDict):
    """Fields every session body has, on both API versions."""

    session_id: str
    status: str
    structured_output: NotRequired[Any]
    title: NotRequired[str | None]
    playbook_id: NotRequired[str | None]


class _SessionFields(_SessionBody):
    """Fields a v1 session has in both the list and the details responses (and ``session_id``,
    ``status``, ``title``, ``playbook_id``, ``structured_output``)."""

    created_at: str
    updated_at: str
    status_enum: NotRequired[str | None]
    snapshot_id: NotRequired[str | None]
    tags: NotRequired[list[str] | None]
    pull_request: NotRequired[PullRequest | None]


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
    """A knowledge note as the hook returns it on BOTH versions (``list_knowledge``,
    ``create_knowledge``, ``update_knowledge``).

    Devin's body (v1 ``KnowledgeResponse`` or v3 :class:`KnowledgeNoteV3`) with each field that
    means the same in both versions under both names: ``id`` = ``note_id``,
    ``trigger_description`` = ``trigger``, ``parent_folder_id`` = ``folder_id``; ``macro`` and
    ``pinned_repo`` are always present (possibly ``None``). Version-only fields (v1
    ``created_by``; v3 ``is_enabled``, ``folder_path``, ``access_type``, ``org_id``,
    ``updated_at``) appear only when Devin sent them. ``created_at`` is an ISO string on v1 and
    integer epoch seconds on v3.
    """

    id: str
    note_id: str
    name: str
    body: str
    trigger_description: str
    trigger: str
    parent_folder_id: str | None
    folder_id: str | None
    macro: str | None
    pinned_repo: str | None
    created_at: NotRequired[str | int]
    created_by: NotRequired[dict[str, Any] | None]
    updated_at: NotRequired[int]
    folder_path: NotRequired[str]
    is_enabled: NotRequired[bool]
    access_type: NotRequired[str]
    org_id: NotRequired[str | None]


class KnowledgeFolder(TypedDict):
    """A knowledge folder."""

    id: str
    name: str
    description: NotRequired[str | None]
    created_at: NotRequired[str | None]


class KnowledgeListing(TypedDict):
    """What ``list_knowledge`` returns on both versions (v1 ``GET /v1/knowledge``; on v3 every page
    of ``.../knowledge/notes``, and ``folders`` empty)."""

    knowledge: list[KnowledgeEntry]
    folders: list[KnowledgeFolder]


class Playbook(TypedDict):
    """A team playbook as the hook returns it on BOTH versions (``list_playbooks``,
    ``create_playbook``, ``get_playbook``).

    Devin's body (v1 ``PlaybookResponse`` or v3 :class:`PlaybookV3`) with ``macro`` and ``status``
    always present: ``status`` is v1's (``published``, ``deleted``) and ``None`` on v3, which has no
    status and lists only live playbooks. Timestamps are ISO strings on v1, epoch seconds on v3.
    """

    playbook_id: str
    title: str
    body: str
    status: str | None
    macro: str | None
    access_type: NotRequired[str | None]
    org_id: NotRequired[str | None]
    created_at: NotRequired[str | int | None]
    updated_at: NotRequired[str | int | None]
    created_by: NotRequired[str]
    updated_by: NotRequired[str]
    created_by_user_id: NotRequired[str | None]
    created_by_user_name: NotRequired[str | None]
    updated_by_user_id: NotRequired[str | None]
    updated_by_user_name: NotRequired[str | None]


# --- v3 (``devin-api-v3.md``) -------------------------------------------------------------------


class PaginatedResponse(TypedDict):
    """A v3 list page. ``end_cursor`` is null on the last page; ``total`` may be omitted."""

    items: list[Any]
    has_next_page: NotRequired[bool]
    end_cursor: NotRequired[str | None]
    total: NotRequired[int | None]


class PullRequestV3(TypedDict):
    """An item of v3 ``pull_requests`` (no PR number: parse it from ``pr_url``)."""

    pr_url: str
    pr_state: str | None


class SessionResponse(_SessionBody):
    """A v3 session (create, get, list items, message, terminate, archive, unarchive): the fields
    below plus ``session_id``, ``status`` (``new``, ``claimed``, ``running``, ``exit``, ``error``,
    ``suspended``, ``resuming``; others may appear), ``title``, ``playbook_id`` and
    ``structured_output``.

    ``status_detail``, ``structured_output`` and ``category`` are filled only on get and list.
    Timestamps are integer epoch seconds.
    """

    url: str
    tags: list[str]
    org_id: str
    created_at: int
    updated_at: int
    acus_consumed: float
    pull_requests: list[PullRequestV3]
    status_detail: NotRequired[str | None]
    user_id: NotRequired[str | None]
    service_user_id: NotRequired[str | None]
    parent_session_id: NotRequired[str | None]
    child_session_ids: NotRequired[list[str] | None]
    is_archived: NotRequired[bool]
    origin: NotRequired[str | None]
    category: NotRequired[str | None]
    subcategory: NotRequired[str | None]
    devin_mode: NotRequired[str | None]
    automation_id: NotRequired[str | None]


class SessionPageV3(PaginatedResponse):
    """``GET /v3/organizations/{org_id}/sessions``."""

    items: list[SessionResponse]  # type: ignore[misc]


class SessionMessageV3(TypedDict):
    """An item of ``GET .../sessions/{devin_id}/messages``, chronological."""

    event_id: str
    source: str  # devin | user
    message: str
    created_at: int


class MessagePageV3(PaginatedResponse):
    """``GET .../sessions/{devin_id}/messages``."""

    items: list[SessionMessageV3]  # type: ignore[misc]


class SelfResponse(TypedDict):
    """``GET /v3/self``: one of four principals, told apart by ``principal_type``.

    ``org_id`` may be null (e.g. enterprise service users): then the connection needs the
    ``org_id`` extra.
    """

    principal_type: str  # service_user | pat_user | devin_brain | windsurf_session
    org_id: NotRequired[str | None]
    service_user_id: NotRequired[str]
    service_user_name: NotRequired[str]
    user_id: NotRequired[str]
    user_name: NotRequired[str | None]
    api_key_id: NotRequired[str]
    api_key_name: NotRequired[str]
    devin_id: NotRequired[str]
    creator_service_user_id: NotRequired[str | None]


class KnowledgeNoteV3(TypedDict):
    """A v3 knowledge note as Devin sends it (v1 calls ``trigger`` ``trigger_description``); the
    hook returns it as a :class:`KnowledgeEntry`, which adds the v1 names."""

    note_id: str
    name: str
    body: str
    trigger: str
    access_type: str
    created_at: int
    updated_at: int
    folder_id: str | None
    folder_path: str
    is_enabled: bool
    macro: str | None
    org_id: str | None
    pinned_repo: str | None


class PlaybookV3(TypedDict):
    """A v3 playbook (DELETE returns it too)."""

    playbook_id: str
    title: str
    body: str
    access_type: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    macro: str | None
    org_id: str | None


class SecretV3(TypedDict):
    """A v3 secret's metadata (values are never returned); ``list_secrets`` normalises it to
    :class:`SecretMetadata`."""

    secret_id: str
    secret_type: str
    key: str | None
    note: str | None
    is_sensitive: bool
    access_type: str
    created_at: int
    created_by: str
    updated_at: NotRequired[int | None]
    updated_by: NotRequired[str | None]
