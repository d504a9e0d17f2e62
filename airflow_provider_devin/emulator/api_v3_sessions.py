"""``/v3/self`` and ``/v3/organizations/{org_id}/sessions[...]``: the v3 session API on the shared model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from airflow_provider_devin.emulator.api_sessions import api_key, base_url
from airflow_provider_devin.emulator.keys import ApiKey
from airflow_provider_devin.emulator.models_v3 import (
    PLATFORMS,
    SessionCreateRequest,
    SessionMessageCreateRequest,
    TagsRequest,
)
from airflow_provider_devin.emulator.problem import DEFAULT_PAGE, MAX_PAGE, ApiError
from airflow_provider_devin.emulator.state import EmulatorState
from airflow_provider_devin.emulator.state_v3 import ARRAY_FILTERS

ORG = "/v3/organizations/{org_id}"
SESSION = ORG + "/sessions/{session_id}"
First = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class SessionListQuery(BaseModel):
    """The query of ``GET .../sessions``: the page, and the filters (arrays repeated or comma-joined)."""

    first: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    after: str | None = None
    session_ids: list[str] | None = None
    tags: list[str] | None = None
    origins: list[str] | None = None
    user_ids: list[str] | None = None
    service_user_ids: list[str] | None = None
    automation_ids: list[str] | None = None
    repo_names: list[str] | None = None
    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    playbook_id: str | None = None
    schedule_id: str | None = None
    parent_session_id: str | None = None
    category: str | None = None
    is_archived: bool | None = None
    devin_id: str | None = None  # documented without a meaning; accepted and ignored


def principal(state: EmulatorState, request: Request, org_id: str) -> ApiKey:
    """The caller's key, which must belong to ``org_id`` (another org reads as not found: 404)."""
    key = state.key_info(api_key(request))
    if key.org_id != org_id:
        raise ApiError(404, f"Organization {org_id} not found, or this key does not belong to it.")
    return key


def split_values(values: list[str] | None) -> list[str] | None:
    """Repeated (``tags=a&tags=b``) and comma-joined (``tags=a,b``) array parameters alike."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter()

    @router.get("/v3/self")
    async def self_info(request: Request) -> JSONResponse:
        return JSONResponse(dict(state.key_info(api_key(request)).principal))

    @router.get(ORG + "/sessions")
    async def list_sessions(org_id: str, request: Request, query: Annotated[SessionListQuery, Query()]) -> JSONResponse:
        principal(state, request, org_id)
        filters = query.model_dump(exclude={"first", "after", "devin_id"})
        filters.update({name: split_values(filters[name]) for name in ARRAY_FILTERS})
        return JSONResponse(state.list_sessions_v3(org_id, filters, query.first, query.after))

    @router.post(ORG + "/sessions")
    async def create_session(
        org_id: str, params: SessionCreateRequest, request: Request, devin_id: str | None = None
    ) -> JSONResponse:
        key = principal(state, request, org_id)
        if params.platform is not None and params.platform not in PLATFORMS:
            raise ApiError(
                400, f"Unknown platform {params.platform!r}; available platform labels: {', '.join(PLATFORMS)}."
            )
        body = params.model_dump(mode="json")
        return JSONResponse(state.create_session_v3(key, body, base_url(request), devin_id))

    @router.get(SESSION)
    async def get_session(org_id: str, session_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.get_session_v3(org_id, session_id))

    @router.delete(SESSION)
    async def terminate_session(org_id: str, session_id: str, request: Request, archive: bool = False) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.terminate_v3(org_id, session_id, archive))

    @router.post(SESSION + "/archive")
    async def archive_session(org_id: str, session_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.archive_v3(org_id, session_id, True))

    @router.post(SESSION + "/unarchive")
    async def unarchive_session(org_id: str, session_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.archive_v3(org_id, session_id, False))

    @router.get(SESSION + "/messages")
    async def list_messages(
        org_id: str, session_id: str, request: Request, first: First = DEFAULT_PAGE, after: str | None = None
    ) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.messages_v3(org_id, session_id, first, after))

    @router.post(SESSION + "/messages")
    async def send_message(
        org_id: str, session_id: str, params: SessionMessageCreateRequest, request: Request
    ) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.send_message_v3(org_id, session_id, params.message, params.attachment_urls))

    @router.get(SESSION + "/tags")
    async def get_tags(org_id: str, session_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.tags_v3(org_id, session_id))

    @router.put(SESSION + "/tags")
    async def replace_tags(org_id: str, session_id: str, params: TagsRequest, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.set_tags_v3(org_id, session_id, params.tags, append=False))

    @router.post(SESSION + "/tags")
    async def append_tags(org_id: str, session_id: str, params: TagsRequest, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.set_tags_v3(org_id, session_id, params.tags, append=True))

    @router.get(SESSION + "/attachments")
    async def session_attachments(org_id: str, session_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        return JSONResponse(state.session_attachments_v3(org_id, session_id))

    return router
