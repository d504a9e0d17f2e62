"""``/v1/sessions`` (and the older singular ``/v1/session/{id}`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from airflow_provider_devin.emulator.models import CreateSessionParams, SendMessageParams, UpdateTagsParams
from airflow_provider_devin.emulator.state import EmulatorState


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def api_key(request: Request) -> str:
    return str(request.scope.get("devin_api_key", ""))


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/sessions")
    async def list_sessions(
        tags: Annotated[list[str] | None, Query()] = None,
        user_email: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        skip: Annotated[int | None, Query(ge=0)] = None,
    ) -> JSONResponse:
        start = offset if skip is None else skip
        sessions = state.list_sessions(tags=tags, user_email=user_email, limit=limit, offset=start)
        return JSONResponse({"sessions": sessions})

    @router.post("/sessions")
    async def create_session(params: CreateSessionParams, request: Request) -> JSONResponse:
        body = params.model_dump(mode="json")
        return JSONResponse(state.create_session(api_key(request), body, base_url(request)))

    @router.get("/sessions/{session_id}")
    @router.get("/session/{session_id}", include_in_schema=False)
    async def get_session(session_id: str) -> JSONResponse:
        return JSONResponse(state.get_session(session_id))

    @router.post("/sessions/{session_id}/message")
    @router.post("/session/{session_id}/message", include_in_schema=False)
    async def send_message(session_id: str, params: SendMessageParams) -> JSONResponse:
        detail = state.send_message(session_id, params.message)
        # Contract 5.4: ``null`` when delivered, ``{"detail": ...}`` when the session is suspended.
        return JSONResponse(None if detail is None else {"detail": detail})

    @router.put("/sessions/{session_id}/tags")
    async def update_tags(session_id: str, params: UpdateTagsParams) -> JSONResponse:
        state.update_tags(session_id, params.tags)
        return JSONResponse({"detail": "Tags updated successfully"})

    @router.delete("/sessions/{session_id}")
    async def terminate_session(session_id: str) -> JSONResponse:
        state.terminate(session_id)
        return JSONResponse({"detail": "Session terminated successfully"})

    return router
