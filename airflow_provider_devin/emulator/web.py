"""What a browser sees: the session page behind a session's ``url``, and presigned blob downloads."""

from __future__ import annotations

import hmac
import time
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from airflow_provider_devin.emulator.api_resources import blob_signature
from airflow_provider_devin.emulator.state import EmulatorState


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        with state.lock:
            rows = "".join(
                f'<li><a href="/sessions/{escape(s.session_id.removeprefix("devin-"))}">'
                f"{escape(s.title)}</a> ({escape(s.status)})</li>"
                for s in reversed(state.sessions.values())
            )
        return HTMLResponse(_page("Devin API emulator", f"<h1>Devin API emulator</h1><ul>{rows}</ul>"))

    @router.get("/sessions/{hex_part}", response_class=HTMLResponse, include_in_schema=False)
    async def session_page(hex_part: str) -> HTMLResponse:
        try:
            details = state.get_session(f"devin-{hex_part}")
        except Exception:
            return HTMLResponse(_page("Not found", "<h1>Session not found</h1>"), status_code=404)
        items = "".join(
            f"<li><b>{escape(m['type'])}</b> <small>{escape(m['timestamp'])}</small><br>{escape(m['message'])}</li>"
            for m in details["messages"]
        )
        pr = details["pull_request"]
        pr_html = f'<p>Pull request: <a href="{escape(pr["url"])}">{escape(pr["url"])}</a></p>' if pr else ""
        body = (
            f"<h1>{escape(details['title'] or details['session_id'])}</h1>"
            f"<p><code>{escape(details['session_id'])}</code>: status_enum "
            f"<b>{escape(str(details['status_enum']))}</b> (status {escape(details['status'])}),"
            f" updated {escape(details['updated_at'])}</p>{pr_html}<ol>{items}</ol>"
            "<p><small>Served by the local Devin API emulator (airflow-provider-devin).</small></p>"
        )
        return HTMLResponse(_page(details["session_id"], body))

    @router.get("/_emulator/blob/{attachment_id}/{name}", include_in_schema=False)
    async def blob(attachment_id: str, name: str, expires: int = 0, signature: str = "") -> Response:
        expected = blob_signature(state, attachment_id, name, expires)
        if not hmac.compare_digest(expected, signature):
            return Response("Signature does not match.", status_code=403, media_type="text/plain")
        if expires < time.time():
            return Response("Request has expired.", status_code=403, media_type="text/plain")
        with state.lock:
            found = state.attachments.get((attachment_id, name))
        if found is None:
            return Response("Not found.", status_code=404, media_type="text/plain")
        content, content_type = found
        return Response(content, media_type=content_type)

    return router


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        '<meta http-equiv="refresh" content="5"></head>'
        f"<body style='font-family:sans-serif;max-width:50em;margin:2em auto'>{body}</body></html>"
    )
