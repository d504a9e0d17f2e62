"""Request bodies, validated the way a FastAPI/pydantic server does (422 ``HTTPValidationError``).

The limits are the documented ones (``docs/emulator.md`` lists them): non-empty ``prompt`` and
``message``, ``max_acu_limit > 0``, at most 50 tags, a ``structured_output_schema`` that is a
valid, self-contained Draft 7 schema of at most 64 KB serialized.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, Field, field_validator

from airflow_provider_devin.emulator import scenarios

MAX_SCHEMA_BYTES = 64 * 1024
MAX_TAGS = 50
_MACRO = re.compile(r"^![A-Za-z0-9_-]+$")

Tags = list[str] | None


class SessionSecretInput(BaseModel):
    key: str
    value: str
    sensitive: bool = True


class CreateSessionParams(BaseModel):
    prompt: str = Field(min_length=1)
    idempotent: bool = False
    title: str | None = None
    snapshot_id: str | None = None
    playbook_id: str | None = None
    knowledge_ids: list[str] | None = None
    secret_ids: list[str] | None = None
    session_secrets: list[SessionSecretInput] | None = None
    structured_output_schema: dict[str, Any] | None = None
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    max_acu_limit: int | None = Field(default=None, gt=0)
    unlisted: bool = False

    @field_validator("structured_output_schema")
    @classmethod
    def _schema_is_usable(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        size = len(json.dumps(schema, separators=(",", ":")).encode("utf-8"))
        if size > MAX_SCHEMA_BYTES:
            raise ValueError(f"structured_output_schema must be at most 64 KB serialized, got {size} bytes")
        external = [ref for ref in _refs(schema) if not ref.startswith("#")]
        if external:
            raise ValueError(f"structured_output_schema must be self-contained; external $ref {external[0]!r}")
        try:
            Draft7Validator.check_schema(schema)
        except SchemaError as err:
            raise ValueError(f"structured_output_schema is not a valid Draft 7 JSON Schema: {err.message}") from err
        return schema

    @field_validator("prompt")
    @classmethod
    def _scenario_marker_is_known(cls, prompt: str) -> str:
        match = scenarios.PROMPT_MARKER.search(prompt)
        if match and match.group(1) not in scenarios.SCENARIOS:
            raise ValueError(_unknown_scenario(match.group(1)))
        return prompt

    @field_validator("tags")
    @classmethod
    def _scenario_tag_is_known(cls, tags: list[str] | None) -> list[str] | None:
        for tag in tags or ():
            if tag.startswith(scenarios.TAG_PREFIX) and tag[len(scenarios.TAG_PREFIX) :] not in scenarios.SCENARIOS:
                raise ValueError(_unknown_scenario(tag[len(scenarios.TAG_PREFIX) :]))
        return tags


class SendMessageParams(BaseModel):
    message: str = Field(min_length=1)


class UpdateTagsParams(BaseModel):
    tags: list[str] = Field(max_length=MAX_TAGS)


class CreateSecretParams(BaseModel):
    type: Literal["cookie", "key-value", "totp"]
    key: str = Field(min_length=1)
    value: str
    sensitive: bool = False
    note: str | None = None


class KnowledgeParams(BaseModel):
    name: str
    body: str
    trigger_description: str
    macro: str | None = None
    parent_folder_id: str | None = None
    pinned_repo: str | None = None


class PlaybookParams(BaseModel):
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    macro: str | None = None

    @field_validator("macro")
    @classmethod
    def _macro_shape(cls, macro: str | None) -> str | None:
        if macro is not None and not _MACRO.match(macro):
            raise ValueError("macro must be '!' followed by letters, digits, '_' or '-'")
        return macro


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _unknown_scenario(name: str) -> str:
    return f"unknown emulator scenario {name!r}; known: {', '.join(sorted(scenarios.SCENARIOS))}"
