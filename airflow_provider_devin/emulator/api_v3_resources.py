"""v3 attachments, knowledge notes, playbooks and secrets, on the same stores as v1.

A note, playbook or secret created through one version is visible through the other; the v3
views (``v3_views``) add what v1 never stored (integer times, ``is_enabled``...) from the
state's ``resource_meta``.

The GET, PUT and DELETE of one resource are built by one helper each (``add_*_route``); this module
does not postpone annotations, so the body model a PUT route is built with is a real class that
FastAPI can read.
"""

import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from airflow_provider_devin.emulator import v3_views
from airflow_provider_devin.emulator.api_resources import (
    add_playbook,
    add_secret,
    edit_playbook,
    redirect_to_blob,
    store_upload,
)
from airflow_provider_devin.emulator.api_sessions import base_url
from airflow_provider_devin.emulator.api_v3_sessions import ORG, First, principal
from airflow_provider_devin.emulator.keys import ApiKey
from airflow_provider_devin.emulator.models_v3 import (
    KnowledgeNoteCreateRequest,
    PlaybookCreateRequest,
    SecretCreateRequest,
)
from airflow_provider_devin.emulator.problem import DEFAULT_PAGE, ApiError, paginate
from airflow_provider_devin.emulator.state import EmulatorState

#: Finds a stored resource by its id (a 404 ``ApiError`` when there is none); shows one as v3 does.
Find = Callable[[str], dict[str, Any]]
Render = Callable[[dict[str, Any]], dict[str, Any]]

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

    # -- what the resources share: a page in creation order; the GET, PUT and DELETE of one ---

    def page(
        items: Iterable[dict[str, Any]],
        *,
        kind: str,
        id_key: str,
        first: int,
        after: str | None,
        render: Render = dict,
    ) -> JSONResponse:
        """One page of ``items`` (each found by its ``id_key``), oldest first."""
        listed = list(items)
        key = lambda item: meta(item[id_key])["sequence"]  # noqa: E731
        return JSONResponse(paginate(listed, kind=kind, key=key, first=first, after=after, render=render))

    def add_list_route(
        path: str,
        kind: str,
        id_key: str,
        live: Callable[[], Iterable[dict[str, Any]]],
        render: Render,
    ) -> None:
        """``GET path``: a page of what ``live()`` returns (call under the lock), as ``render`` shows it."""

        @router.get(path, name=f"list_{kind}")
        async def list_resources(
            org_id: str, request: Request, first: First = DEFAULT_PAGE, after: str | None = None
        ) -> JSONResponse:
            principal(state, request, org_id)
            with state.lock:
                return page(live(), kind=kind, id_key=id_key, first=first, after=after, render=render)

    def add_get_route(path: str, kind: str, find: Find, render: Render) -> None:
        """``GET path/{id}``: the resource ``find`` returns (or raises a 404 for), as ``render`` shows it."""

        @router.get(path + "/{resource_id}", name=f"get_{kind}")
        async def get_resource(org_id: str, resource_id: str, request: Request) -> JSONResponse:
            principal(state, request, org_id)
            with state.lock:
                return JSONResponse(render(find(resource_id)))

    def add_put_route(
        path: str, kind: str, model: type[BaseModel], find: Find, apply: Callable[..., None], render: Render
    ) -> None:
        """``PUT path/{id}``: ``apply(resource, params, key)`` to the resource ``find`` returns, under
        the lock (``params``: the body, a ``model``); answers with its new view."""

        @router.put(path + "/{resource_id}", name=f"update_{kind}")
        async def update_resource(org_id: str, resource_id: str, params: model, request: Request) -> JSONResponse:  # type: ignore[valid-type]
            key = principal(state, request, org_id)
            with state.lock:
                resource = find(resource_id)
                apply(resource, params, key)
                return JSONResponse(render(resource))

    def add_delete_route(
        path: str, kind: str, find: Find, remove: Callable[[dict[str, Any]], object], render: Render
    ) -> None:
        """``DELETE path/{id}``: ``remove`` the resource ``find`` returns; answers with its view from before."""

        @router.delete(path + "/{resource_id}", name=f"delete_{kind}")
        async def delete_resource(org_id: str, resource_id: str, request: Request) -> JSONResponse:
            principal(state, request, org_id)
            with state.lock:
                resource = find(resource_id)
                view = render(resource)
                remove(resource)
                return JSONResponse(view)

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
        note.update({stored: getattr(params, field) for field, stored in v3_views.NOTE_FIELDS.items()})

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
            return page(views, kind="notes", id_key="note_id", first=first, after=after)

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

    def update_note(note: dict[str, Any], params: KnowledgeNoteCreateRequest, key: ApiKey) -> None:
        check_folder(params.folder_id)
        store_note(note, params)
        changed = state.touch_resource(note["id"], key.user_id)
        if params.is_enabled is not None:
            changed["is_enabled"] = params.is_enabled

    add_get_route(NOTES, "note", find_note, note_view)
    add_put_route(NOTES, "note", KnowledgeNoteCreateRequest, find_note, update_note, note_view)
    add_delete_route(NOTES, "note", find_note, lambda note: state.knowledge.pop(note["id"]), note_view)

    # -- playbooks ----------------------------------------------------------------------------

    def find_playbook(playbook_id: str) -> dict[str, Any]:
        playbook = state.playbooks.get(playbook_id)
        if playbook is None or playbook["status"] == "deleted":
            raise ApiError(404, f"Playbook {playbook_id} not found.")
        return playbook

    def live_playbooks() -> list[dict[str, Any]]:
        return [p for p in state.playbooks.values() if p["status"] == "published"]

    add_list_route(PLAYBOOKS, "playbooks", "playbook_id", live_playbooks, playbook_view)

    @router.post(PLAYBOOKS)
    async def create_playbook(org_id: str, params: PlaybookCreateRequest, request: Request) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            playbook = add_playbook(state, params, org_id, key.service_user_id or key.user_id, key.email.split("@")[0])
            state.touch_resource(playbook["playbook_id"], key.user_id, created=True)
            return JSONResponse(playbook_view(playbook))

    def update_playbook(playbook: dict[str, Any], params: PlaybookCreateRequest, key: ApiKey) -> None:
        edit_playbook(state, playbook, params, key.service_user_id or key.user_id, key.email.split("@")[0])
        state.touch_resource(playbook["playbook_id"], key.user_id)

    def delete_playbook(playbook: dict[str, Any]) -> None:
        # Kept, marked deleted (v1 lists show it so); its macro is freed.
        playbook.update(status="deleted", macro=None)

    add_get_route(PLAYBOOKS, "playbook", find_playbook, playbook_view)
    add_put_route(PLAYBOOKS, "playbook", PlaybookCreateRequest, find_playbook, update_playbook, playbook_view)
    add_delete_route(PLAYBOOKS, "playbook", find_playbook, delete_playbook, playbook_view)

    # -- secrets ------------------------------------------------------------------------------

    add_list_route(SECRETS, "secrets", "id", lambda: state.secrets.values(), secret_view)

    @router.post(SECRETS)
    async def create_secret(org_id: str, params: SecretCreateRequest, request: Request) -> JSONResponse:
        key = principal(state, request, org_id)
        with state.lock:
            secret = add_secret(state, params.type, params.key, params.value, params.is_sensitive, params.note)
            secret_id = secret["id"]
            state.touch_resource(secret_id, key.service_user_id or key.user_id, created=True)["updated_by"] = None
            return JSONResponse(secret_view(secret))

    def find_secret(secret_id: str) -> dict[str, Any]:
        secret = state.secrets.get(secret_id)
        if secret is None:
            raise ApiError(404, f"Secret {secret_id} not found.")
        return secret

    add_delete_route(SECRETS, "secret", find_secret, lambda secret: state.secrets.pop(secret["id"]), secret_view)

    return router
