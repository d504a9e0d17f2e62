"""v3 attachments, knowledge notes, playbooks and secrets, on the same stores as v1.

A note, playbook or secret created through one version is visible through the other; the v3
views (``v3_views``) add what v1 never stored (integer times, ``is_enabled``...) from the
state's ``resource_meta``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from airflow_provider_devin.emulator import v3_views
from airflow_provider_devin.emulator.api_resources import redirect_to_blob, store_upload
from airflow_provider_devin.emulator.api_sessions import base_url
from airflow_provider_devin.emulator.api_v3_sessions import ORG, First, principal
from airflow_provider_devin.emulator.models_v3 import (
    KnowledgeNoteCreateRequest,
    PlaybookCreateRequest,
    SecretCreateRequest,
)
from airflow_provider_devin.emulator.problem import DEFAULT_PAGE, ApiError, paginate
from airflow_provider_devin.emulator.state import EmulatorState

NOTES = ORG + "/knowledge/notes"
PLAYBOOKS = ORG + "/playbooks"
SECRETS = ORG + "/secrets"


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter()

    def meta(resource_id: str) -> dict[str, Any]:
        return state.resource_meta.get(resource_id) or state.touch_resource(resource_id, "")

    def note_view(note: dict[str, Any]) -> dict[str, Any]:
        return v3_views.note_view(note, meta(note["id"]), state.clock, state.folders)

    def playbook_view(playbook: dict[str, Any]) -> dict[str, Any]:
        return v3_views.playbook_view(playbook, meta(playbook["playbook_id"]), state.clock)

    def secret_view(secret: dict[str, Any]) -> dict[str, Any]:
        return v3_views.secret_view(secret, meta(secret["id"]), state.clock)

    # -- attachments --------------------------------------------------------------------------

    @router.post(ORG + "/attachments")
    async def upload_attachment(org_id: str, request: Request, file: UploadFile = File(...)) -> JSONResponse:  # noqa: B008
        principal(state, request, org_id)
        attachment_id, name = await store_upload(state, file)
        url = f"{base_url(request)}/v3/organizations/{org_id}/attachments/{attachment_id}/{quote(name)}"
        return JSONResponse({"attachment_id": attachment_id, "name": name, "url": url})

    @router.get(ORG + "/attachments/{attachment_id}/{name}")
    async def download_attachment(org_id: str, attachment_id: str, name: str, request: Request) -> Response:
        principal(state, request, org_id)
        return redirect_to_blob(state, request, attachment_id, name)

    # -- knowledge notes ----------------------------------------------------------------------

    def find_note(note_id: str) -> dict[str, Any]:
        note = state.knowledge.get(note_id)
        if note is None:
            raise ApiError(404, f"Knowledge note {note_id} not found.")
        return note

    def check_folder(folder_id: str | None) -> None:
        if folder_id is not None and folder_id not in state.folders:
            raise ApiError(404, f"Knowledge folder {folder_id} not found.")

    def store_note(note: dict[str, Any], params: KnowledgeNoteCreateRequest) -> None:
        note.update(
            name=params.name,
            body=params.body,
            trigger_description=params.trigger,
            parent_folder_id=params.folder_id,
            pinned_repo=params.pinned_repo,
        )

    @router.get(NOTES)
    async def list_notes(
        org_id: str,
        request: Request,
        first: First = DEFAULT_PAGE,
        after: str | None = None,
        folder_path: str | None = None,
        pinned_repo: str | None = None,
        search: str | None = None,
    ) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            views = [note_view(note) for note in state.knowledge.values()]
            if folder_path is not None:
                views = [v for v in views if v["folder_path"].strip("/") == folder_path.strip("/")]
            if pinned_repo is not None:
                views = [v for v in views if v["pinned_repo"] == pinned_repo]
            if search:
                needle = search.lower()
                views = [v for v in views if needle in v["name"].lower() or needle in v["body"].lower()]
            order = {note_id: meta(note_id)["sequence"] for note_id in state.knowledge}
            return JSONResponse(
                paginate(views, kind="notes", key=lambda v: order[v["note_id"]], first=first, after=after)
            )

    @router.post(NOTES)
    async def create_note(org_id: str, params: KnowledgeNoteCreateRequest, request: Request) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            check_folder(params.folder_id)
            note_id = f"note-{uuid.uuid4().hex}"
            note: dict[str, Any] = {
                "id": note_id,
                "macro": None,
                "created_at": state.clock.isoformat(state.clock.now()),
                "created_by": {"full_name": key.email.split("@")[0], "id": key.user_id, "image_url": None},
            }
            store_note(note, params)
            state.knowledge[note_id] = note
            state.touch_resource(note_id, key.user_id, created=True).update(
                is_enabled=params.is_enabled if params.is_enabled is not None else True, org_id=org_id
            )
            return JSONResponse(note_view(note))

    @router.get(NOTES + "/{note_id}")
    async def get_note(org_id: str, note_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            return JSONResponse(note_view(find_note(note_id)))

    @router.put(NOTES + "/{note_id}")
    async def update_note(
        org_id: str, note_id: str, params: KnowledgeNoteCreateRequest, request: Request
    ) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            note = find_note(note_id)
            check_folder(params.folder_id)
            store_note(note, params)
            changed = state.touch_resource(note_id, key.user_id)
            if params.is_enabled is not None:
                changed["is_enabled"] = params.is_enabled
            return JSONResponse(note_view(note))

    @router.delete(NOTES + "/{note_id}")
    async def delete_note(org_id: str, note_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            view = note_view(find_note(note_id))
            del state.knowledge[note_id]
            return JSONResponse(view)

    # -- playbooks ----------------------------------------------------------------------------

    def find_playbook(playbook_id: str) -> dict[str, Any]:
        playbook = state.playbooks.get(playbook_id)
        if playbook is None or playbook["status"] == "deleted":
            raise ApiError(404, f"Playbook {playbook_id} not found.")
        return playbook

    @router.get(PLAYBOOKS)
    async def list_playbooks(
        org_id: str, request: Request, first: First = DEFAULT_PAGE, after: str | None = None
    ) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            live = [p for p in state.playbooks.values() if p["status"] == "published"]
            return JSONResponse(
                paginate(
                    live,
                    kind="playbooks",
                    key=lambda p: meta(p["playbook_id"])["sequence"],
                    first=first,
                    after=after,
                    render=playbook_view,
                )
            )

    @router.post(PLAYBOOKS)
    async def create_playbook(org_id: str, params: PlaybookCreateRequest, request: Request) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            stamp = state.clock.isoformat(state.clock.now())
            playbook_id = f"playbook-{uuid.uuid4().hex}"
            name = key.email.split("@")[0]
            playbook = {
                "playbook_id": playbook_id,
                "title": params.title,
                "body": params.body,
                "status": "published",
                "access_type": "team",
                "org_id": org_id,
                "created_at": stamp,
                "updated_at": stamp,
                "created_by_user_id": key.service_user_id or key.user_id,
                "created_by_user_name": name,
                "updated_by_user_id": key.service_user_id or key.user_id,
                "updated_by_user_name": name,
                "macro": params.macro,
            }
            state.playbooks[playbook_id] = playbook
            state.touch_resource(playbook_id, key.user_id, created=True)
            return JSONResponse(playbook_view(playbook))

    @router.get(PLAYBOOKS + "/{playbook_id}")
    async def get_playbook(org_id: str, playbook_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            return JSONResponse(playbook_view(find_playbook(playbook_id)))

    @router.put(PLAYBOOKS + "/{playbook_id}")
    async def update_playbook(
        org_id: str, playbook_id: str, params: PlaybookCreateRequest, request: Request
    ) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            playbook = find_playbook(playbook_id)
            playbook.update(
                title=params.title,
                body=params.body,
                macro=params.macro,
                updated_at=state.clock.isoformat(state.clock.now()),
                updated_by_user_id=key.service_user_id or key.user_id,
                updated_by_user_name=key.email.split("@")[0],
            )
            state.touch_resource(playbook_id, key.user_id)
            return JSONResponse(playbook_view(playbook))

    @router.delete(PLAYBOOKS + "/{playbook_id}")
    async def delete_playbook(org_id: str, playbook_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            playbook = find_playbook(playbook_id)
            view = playbook_view(playbook)
            playbook["status"] = "deleted"
            playbook["macro"] = None
            return JSONResponse(view)

    # -- secrets ------------------------------------------------------------------------------

    @router.get(SECRETS)
    async def list_secrets(
        org_id: str, request: Request, first: First = DEFAULT_PAGE, after: str | None = None
    ) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            return JSONResponse(
                paginate(
                    list(state.secrets.values()),
                    kind="secrets",
                    key=lambda s: meta(s["id"])["sequence"],
                    first=first,
                    after=after,
                    render=secret_view,
                )
            )

    @router.post(SECRETS)
    async def create_secret(org_id: str, params: SecretCreateRequest, request: Request) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            if any(secret["key"] == params.key for secret in state.secrets.values()):
                raise ApiError(409, f"A secret with key {params.key!r} already exists in this organization.")
            secret_id = f"secret-{uuid.uuid4().hex}"
            secret = {
                "id": secret_id,
                "type": params.type,
                "key": params.key,
                "created_at": state.clock.isoformat(state.clock.now()),
                "sensitive": params.is_sensitive,
                "note": params.note,
                "value_sha256": hashlib.sha256(params.value.encode()).hexdigest(),
            }
            state.secrets[secret_id] = secret
            state.touch_resource(secret_id, key.service_user_id or key.user_id, created=True)["updated_by"] = None
            return JSONResponse(secret_view(secret))

    @router.delete(SECRETS + "/{secret_id}")
    async def delete_secret(org_id: str, secret_id: str, request: Request) -> JSONResponse:
        principal(state, request, org_id)
        with state.lock:
            secret = state.secrets.get(secret_id)
            if secret is None:
                raise ApiError(404, f"Secret {secret_id} not found.")
            view = secret_view(secret)
            del state.secrets[secret_id]
            return JSONResponse(view)

    return router
