"""Attachments, secrets, knowledge and playbooks under ``/v1``."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import time
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from airflow_provider_devin.emulator.api_sessions import api_key, base_url
from airflow_provider_devin.emulator.models import (
    CreateSecretParams,
    KnowledgeParams,
    PlaybookParams,
)
from airflow_provider_devin.emulator.state import ORG_ID, ApiError, EmulatorState

PRESIGNED_TTL_SECONDS = 60  # real seconds, like the real presigned URL


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter(prefix="/v1")

    # -- attachments --------------------------------------------------------------------------

    @router.post("/attachments")
    async def upload_attachment(request: Request, file: UploadFile = File(...)) -> JSONResponse:  # noqa: B008
        attachment_id, name = await store_upload(state, file)
        # Real Devin answers with a storage URL whose last two segments are the same uuid/name.
        return JSONResponse(f"{base_url(request)}/v1/attachments/{attachment_id}/{quote(name)}")

    @router.get("/attachments/{attachment_id}/{name}")
    async def download_attachment(attachment_id: str, name: str, request: Request) -> Response:
        return redirect_to_blob(state, request, attachment_id, name)

    # -- secrets ------------------------------------------------------------------------------

    @router.get("/secrets")
    async def list_secrets() -> JSONResponse:
        with state.lock:
            items = [
                {key: secret[key] for key in ("id", "type", "key", "created_at")} for secret in state.secrets.values()
            ]
        return JSONResponse(items)

    @router.post("/secrets")
    async def create_secret(params: CreateSecretParams, request: Request) -> JSONResponse:
        with state.lock:
            secret_id = add_secret(state, params.type, params.key, params.value, params.sensitive, params.note)["id"]
            state.touch_resource(secret_id, state.key_info(api_key(request)).user_id, created=True)
        return JSONResponse({"id": secret_id})

    @router.delete("/secrets/{secret_id}")
    async def delete_secret(secret_id: str) -> JSONResponse:
        with state.lock:
            if state.secrets.pop(secret_id, None) is None:
                raise ApiError(404, f"Secret {secret_id} not found.")
        return JSONResponse({"message": "Secret deleted successfully"})

    # -- knowledge ----------------------------------------------------------------------------

    @router.get("/knowledge")
    async def list_knowledge() -> JSONResponse:
        with state.lock:
            return JSONResponse(
                {
                    "knowledge": [dict(note) for note in state.knowledge.values()],
                    "folders": [dict(folder) for folder in state.folders.values()],
                }
            )

    @router.post("/knowledge")
    async def create_knowledge(params: KnowledgeParams, request: Request) -> JSONResponse:
        with state.lock:
            _check_folder(state, params.parent_folder_id)
            note_id = f"note-{uuid.uuid4().hex}"
            email = state.user_for(api_key(request))
            note = {
                "id": note_id,
                **params.model_dump(),
                "created_at": state.clock.isoformat(state.clock.now()),
                "created_by": {"full_name": email.split("@")[0], "id": _user_id(email), "image_url": None},
            }
            state.knowledge[note_id] = note
            state.touch_resource(note_id, _user_id(email), created=True)
            return JSONResponse(dict(note))

    @router.put("/knowledge/{note_id}")
    async def update_knowledge(note_id: str, params: KnowledgeParams) -> JSONResponse:
        with state.lock:
            note = state.knowledge.get(note_id)
            if note is None:
                raise ApiError(404, f"Knowledge note {note_id} not found.")
            _check_folder(state, params.parent_folder_id)
            note.update(params.model_dump())  # full replacement of the editable fields
            state.touch_resource(note_id, "")
            return JSONResponse(dict(note))

    @router.delete("/knowledge/{note_id}")
    async def delete_knowledge(note_id: str) -> JSONResponse:
        with state.lock:
            if state.knowledge.pop(note_id, None) is None:
                raise ApiError(404, f"Knowledge note {note_id} not found.")
        return JSONResponse(None)

    # -- playbooks ----------------------------------------------------------------------------

    @router.get("/playbooks")
    async def list_playbooks() -> JSONResponse:
        with state.lock:
            return JSONResponse(
                [dict(playbook) for playbook in state.playbooks.values() if playbook["status"] == "published"]
            )

    @router.post("/playbooks")
    async def create_playbook(params: PlaybookParams, request: Request) -> JSONResponse:
        with state.lock:
            email = state.user_for(api_key(request))
            playbook = add_playbook(state, params, ORG_ID, _user_id(email), email.split("@")[0])
            state.touch_resource(playbook["playbook_id"], _user_id(email), created=True)
            return JSONResponse(dict(playbook))

    @router.get("/playbooks/{playbook_id}")
    async def get_playbook(playbook_id: str) -> JSONResponse:
        with state.lock:
            return JSONResponse(dict(_playbook(state, playbook_id)))

    @router.put("/playbooks/{playbook_id}")
    async def update_playbook(playbook_id: str, params: PlaybookParams, request: Request) -> JSONResponse:
        with state.lock:
            playbook = _playbook(state, playbook_id)
            email = state.user_for(api_key(request))
            edit_playbook(state, playbook, params, _user_id(email), email.split("@")[0])
            state.touch_resource(playbook_id, _user_id(email))
        return JSONResponse({"status": "success"})

    @router.delete("/playbooks/{playbook_id}")
    async def delete_playbook(playbook_id: str) -> JSONResponse:
        with state.lock:
            playbook = _playbook(state, playbook_id)
            playbook["status"] = "deleted"
            playbook["macro"] = None
        return JSONResponse({"status": "success"})

    return router


# --- the records v1 and v3 share (the caller holds ``state.lock``) ----------------------------------


def add_secret(
    state: EmulatorState, type: str, key: str, value: str, sensitive: bool, note: str | None
) -> dict[str, Any]:
    """Store a new org secret (only a hash of its value); a key already in use is a 409."""
    if any(secret["key"] == key for secret in state.secrets.values()):
        raise ApiError(409, f"A secret with key {key!r} already exists in this organization.")
    secret_id = f"secret-{uuid.uuid4().hex}"
    state.secrets[secret_id] = {
        "id": secret_id,
        "type": type,
        "key": key,
        "created_at": state.clock.isoformat(state.clock.now()),
        "sensitive": sensitive,
        "note": note,
        "value_sha256": hashlib.sha256(value.encode()).hexdigest(),
    }
    return state.secrets[secret_id]


def add_playbook(
    state: EmulatorState, params: PlaybookParams, org_id: str, user_id: str, user_name: str
) -> dict[str, Any]:
    """Store a new published team playbook, created and last updated by ``user_id``."""
    stamp = state.clock.isoformat(state.clock.now())
    playbook_id = f"playbook-{uuid.uuid4().hex}"
    state.playbooks[playbook_id] = {
        "playbook_id": playbook_id,
        "title": params.title,
        "body": params.body,
        "status": "published",
        "access_type": "team",
        "org_id": org_id,
        "created_at": stamp,
        "updated_at": stamp,
        "created_by_user_id": user_id,
        "created_by_user_name": user_name,
        "updated_by_user_id": user_id,
        "updated_by_user_name": user_name,
        "macro": params.macro,
    }
    return state.playbooks[playbook_id]


def edit_playbook(
    state: EmulatorState, playbook: dict[str, Any], params: PlaybookParams, user_id: str, user_name: str
) -> None:
    """Replace a playbook's title, body and macro, as updated by ``user_id`` now."""
    playbook.update(
        title=params.title,
        body=params.body,
        macro=params.macro,
        updated_at=state.clock.isoformat(state.clock.now()),
        updated_by_user_id=user_id,
        updated_by_user_name=user_name,
    )


async def store_upload(state: EmulatorState, file: UploadFile) -> tuple[str, str]:
    """Keep an uploaded file (v1 and v3 share the store); returns ``(attachment_id, name)``."""
    content = await file.read()
    name = (file.filename or "file").replace("\\", "/").rsplit("/", 1)[-1] or "file"
    attachment_id = str(uuid.uuid4())
    content_type = file.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    with state.lock:
        state.attachments[(attachment_id, name)] = (content, content_type)
    return attachment_id, name


def redirect_to_blob(state: EmulatorState, request: Request, attachment_id: str, name: str) -> Response:
    """307 to a presigned-style URL on another host name for the same server."""
    with state.lock:
        if (attachment_id, name) not in state.attachments:
            raise ApiError(404, f"Attachment {attachment_id}/{name} not found.")
    expires = int(time.time()) + PRESIGNED_TTL_SECONDS
    signature = blob_signature(state, attachment_id, name, expires)
    host = _other_host(request.url.hostname or "127.0.0.1")
    port = f":{request.url.port}" if request.url.port else ""
    location = (
        f"{request.url.scheme}://{host}{port}/_emulator/blob/{attachment_id}/{quote(name)}"
        f"?expires={expires}&signature={signature}"
    )
    return RedirectResponse(location, status_code=307)


def blob_signature(state: EmulatorState, attachment_id: str, name: str, expires: int) -> str:
    message = f"{attachment_id}/{name}/{expires}".encode()
    return hmac.new(state.blob_secret.encode(), message, hashlib.sha256).hexdigest()


def _other_host(host: str) -> str:
    """A different host name for the same loopback server, so the redirect is cross-host."""
    if host == "localhost":
        return "127.0.0.1"
    if host in ("127.0.0.1", "::1", "[::1]"):
        return "localhost"
    return host


def _check_folder(state: EmulatorState, folder_id: str | None) -> None:
    if folder_id is not None and folder_id not in state.folders:
        raise ApiError(404, f"Knowledge folder {folder_id} not found.")


def _playbook(state: EmulatorState, playbook_id: str) -> dict[str, Any]:
    playbook = state.playbooks.get(playbook_id)
    if playbook is None or playbook["status"] == "deleted":
        raise ApiError(404, f"Playbook {playbook_id} not found.")
    return playbook


def _user_id(email: str) -> str:
    return f"user-{uuid.uuid5(uuid.NAMESPACE_URL, email)}"
