"""What a browser sees: the session page behind a session's ``url``, and presigned blob downloads."""

from __future__ import annotations

import hmac
import json
import time
from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from airflow_provider_devin.emulator.api_resources import blob_signature
from airflow_provider_devin.emulator.state import ApiError, EmulatorState


def build_router(state: EmulatorState) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        with state.lock:
            rows = "".join(
                f'<li><a href="/sessions/{_e(s.session_id.removeprefix("devin-"))}">{_e(s.title)}</a>'
                f" (v1 {_e(s.status_enum)}, v3 {_e(_v3_status(s.v3_status, s.status_detail))})</li>"
                for s in reversed(state.sessions.values())
            )
        body = f"<h1>Devin API emulator</h1>{_notice(state.clock.speed)}<ul>{rows or '<li>No sessions yet.</li>'}</ul>"
        return HTMLResponse(_page("Devin API emulator", body))

    @router.get("/sessions/{hex_part}", response_class=HTMLResponse, include_in_schema=False)
    async def session_page(hex_part: str) -> HTMLResponse:
        try:
            view = state.web_view(f"devin-{hex_part}")
        except ApiError:
            return HTMLResponse(_page("Not found", "<h1>Session not found</h1>"), status_code=404)
        return HTMLResponse(_page(view["session_id"], session_html(view)))

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


_STYLE = (
    "body{font-family:sans-serif;max-width:56em;margin:2em auto;padding:0 1em}"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere;font-family:inherit;margin:0}"
    "pre.json{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.6em}"
    ".notice{border:1px solid #d9a400;background:#fff8db;padding:.6em}"
    "table{border-collapse:collapse}td,th{text-align:left;padding:.15em .8em .15em 0;vertical-align:top}"
    "ol li{margin-bottom:.6em}"
)


def _e(value: Any) -> str:
    """Escaped text for HTML content and quoted attributes (``None`` reads ``null``)."""
    return escape("null" if value is None else str(value), quote=True)


def _text(value: Any) -> str:
    """Escaped text that keeps its line breaks."""
    return f'<div class="text">{_e(value)}</div>'


def _v3_status(status: Any, detail: Any) -> str:
    return f"{status} + {detail}" if detail is not None else str(status)


def _notice(speed: float) -> str:
    return (
        '<p class="notice"><b>Emulated.</b> This page is served by the local Devin API emulator '
        "(airflow-provider-devin), not by Devin: no AI worked on this session; its messages, pull request "
        "and structured output are scripted by an emulator scenario. <b>Times are emulated</b>: the clock runs "
        f"at {_e(f'{speed:g}')} emulated seconds per real second, and each timestamp is the real time at which "
        "the emulated clock reached that event.</p>"
    )


def session_html(view: dict[str, Any]) -> str:
    """The body of a session's page, every value escaped (prompt and messages keep their line breaks).

    :param view: :meth:`EmulatorState.web_view` of the session.
    """
    v3 = view["v3"]
    links = "".join(
        f'<li><a href="{_e(pr["pr_url"])}">{_e(pr["pr_url"])}</a> ({_e(pr["pr_state"])})</li>'
        for pr in v3["pull_requests"]
    )
    output = view["structured_output"]
    if output is None:
        output_html = "<p>None yet.</p>" if not view["structured_output_schema"] else "<p>None yet (schema given).</p>"
    else:
        output_html = f'<pre class="json">{_e(json.dumps(output, indent=2, ensure_ascii=False))}</pre>'
    rows = [
        ("Status (v1)", f"status_enum <b>{_e(view['status_enum'])}</b>, status {_e(view['status'])}"),
        ("Status (v3)", f"<b>{_e(_v3_status(v3['status'], view['status_detail']))}</b>"),
        ("ACUs consumed", _e(f"{v3['acus_consumed']:g}") + _limit(view["max_acu_limit"])),
        ("Scenario", _e(view["scenario"])),
        ("Created", f"{_e(view['created_at'])} (v3 {_e(v3['created_at'])})"),
        ("Updated", f"{_e(view['updated_at'])} (v3 {_e(v3['updated_at'])})"),
        ("Tags", _e(", ".join(view["tags"] or ())) or "none"),
        ("Archived", "yes" if view["is_archived"] else "no"),
    ]
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    items = "".join(
        f"<li><b>{_e(m['type'])}</b> <small>{_e(m['timestamp'])}</small>{_text(m['message'])}</li>"
        for m in view["messages"]
    )
    return (
        f"<h1>{_e(view['title'] or view['session_id'])}</h1>{_notice(view['speed'])}"
        f"<p><code>{_e(view['session_id'])}</code></p><table>{table}</table>"
        f"<h2>Pull requests</h2>{f'<ul>{links}</ul>' if links else '<p>None.</p>'}"
        f"<h2>Prompt</h2>{_text(view['prompt'])}"
        f"<h2>Structured output</h2>{output_html}"
        f"<h2>Messages</h2><ol>{items}</ol>"
    )


def _limit(max_acu_limit: Any) -> str:
    return f" of at most {_e(max_acu_limit)}" if max_acu_limit is not None else ""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)} (emulated)</title>"
        f'<meta http-equiv="refresh" content="5"><style>{_STYLE}</style></head><body>{body}</body></html>'
    )
