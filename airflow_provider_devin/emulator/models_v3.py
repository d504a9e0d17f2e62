"""v3 request bodies, validated the way the v3 server's FastAPI/pydantic models do.

``SessionCreateRequest`` forbids unknown fields (a READING, see ``docs/emulator.md``): a client
that sends v1-only fields (``idempotent``, ``snapshot_id``, ``unlisted``) to v3 learns it at once
with a 422 naming the field. The other bodies ignore unknown fields, as FastAPI does by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from airflow_provider_devin.emulator.models import MAX_TAGS, CreateSessionParams, PlaybookParams

DEVIN_MODES = ("normal", "fast", "lite", "ultra", "fusion")
#: VM platforms / outpost pools the emulated org knows (``default`` and ``inherit`` = the org default).
PLATFORMS = ("default", "inherit", "linux", "windows")

Url = Annotated[str, StringConstraints(min_length=1, max_length=2083)]


def _check_urls(urls: list[str] | None) -> list[str] | None:
    for url in urls or ():
        parts = urlsplit(url)
        if not parts.scheme or not (parts.netloc or parts.path):
            raise ValueError(f"attachment URL {url!r} is not an absolute URI (expected e.g. https://host/path)")
    return urls


class SessionSecretInput(BaseModel):
    key: str = Field(min_length=1, max_length=256)
    value: str = Field(max_length=65536)
    sensitive: bool = True


class SessionCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    title: str | None = None
    tags: list[str] | None = None
    playbook_id: str | None = None
    knowledge_ids: list[str] | None = None
    secret_ids: list[str] | None = None
    session_secrets: list[SessionSecretInput] | None = None
    max_acu_limit: int | None = None
    structured_output_schema: dict[str, Any] | None = None
    structured_output_required: bool = True
    repos: list[str] | None = None
    attachment_urls: list[Url] | None = None
    create_as_user_id: str | None = None
    devin_mode: Literal["normal", "fast", "lite", "ultra", "fusion"] | None = None
    resumable: bool = True
    platform: str | None = None
    bypass_approval: bool | None = None
    child_playbook_id: str | None = None
    session_links: list[str] | None = None

    # The same schema, prompt-marker and scenario-tag checks as v1.
    _schema_is_usable = field_validator("structured_output_schema")(
        CreateSessionParams._schema_is_usable.__func__  # type: ignore[attr-defined]
    )
    _scenario_marker_is_known = field_validator("prompt")(
        CreateSessionParams._scenario_marker_is_known.__func__  # type: ignore[attr-defined]
    )
    _scenario_tag_is_known = field_validator("tags")(
        CreateSessionParams._scenario_tag_is_known.__func__  # type: ignore[attr-defined]
    )
    _urls = field_validator("attachment_urls")(_check_urls)


class SessionMessageCreateRequest(BaseModel):
    message: str = Field(min_length=1)
    attachment_urls: list[Url] | None = None
    message_as_user_id: str | None = None

    _urls = field_validator("attachment_urls")(_check_urls)


class TagsRequest(BaseModel):
    tags: list[str] = Field(max_length=MAX_TAGS)


class KnowledgeNoteCreateRequest(BaseModel):
    name: str = Field(min_length=1)
    body: str
    trigger: str
    pinned_repo: str | None = None
    folder_id: str | None = None
    is_enabled: bool | None = None


#: v3's ``PlaybookCreateRequest`` is v1's playbook body: ``title``, ``body``, ``macro`` (``!``
#: followed by letters, digits, ``_`` or ``-``), with the same checks.
PlaybookCreateRequest = PlaybookParams


class SecretCreateRequest(BaseModel):
    key: str = Field(min_length=1)
    type: Literal["cookie", "key-value", "totp"]
    value: str
    is_sensitive: bool = True
    note: str | None = None
