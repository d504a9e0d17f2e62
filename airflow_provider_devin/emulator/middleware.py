"""The outermost ASGI layer: injected faults, Bearer auth and the request journal.

It is plain ASGI (no ``BaseHTTPMiddleware``) so a poll costs little, and it must stay outermost:
dropping a connection needs uvicorn's own ``send`` to reach the socket.

* ``/v1/...`` and ``/v3/...``: faults, then auth, then the app; every request is journaled.
  v1 answers auth failures FastAPI-style (``{"detail": "..."}``), v3 as ``ProblemDetail``.
* ``/_emulator/blob/...`` (presigned attachment downloads): journaled, no auth, no faults.
* everything else (control API, web pages): passed straight through.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_devin.emulator.faults import Fault
from airflow_provider_devin.emulator.keys import LEGACY_PREFIX
from airflow_provider_devin.emulator.problem import PROBLEM_MEDIA_TYPE, is_v3, problem
from airflow_provider_devin.emulator.state import EmulatorState

Scope = dict[str, Any]
Message = dict[str, Any]
REDACTED = "***"
MALFORMED_BODY = b'{"session_id": "devin-'
#: ``/v3/organizations/<resource>`` without an org id: resolved from the credential (contract §1).
ORG_RESOURCES = ("sessions", "attachments", "knowledge", "playbooks", "secrets")


class EmulatorMiddleware:
    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        v3 = is_v3(path)
        is_api = path.startswith("/v1/") or path == "/v1" or v3
        if not is_api and not path.startswith("/_emulator/blob/"):
            await self.app(scope, receive, send)
            return

        generation = self.state.generation
        body = await _read_body(receive)
        headers = _headers(scope)
        presented = _bearer_token(headers.get("authorization", ""))
        entry = self._entry(scope, headers, body, presented)
        status_box: dict[str, Any] = {"status": None}

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        try:
            fault = self.state.take_fault(scope["method"], path) if is_api else None
            if fault is not None and not fault.after_processing and await self._apply_fault(fault, send, entry, v3):
                return
            if is_api:
                refusal = self._refusal(presented, v3)
                if refusal is not None:
                    status, detail = refusal
                    if v3:
                        pd = problem(status, detail, path)
                        await _send_json(send, status, pd, [(b"www-authenticate", b"Bearer")], PROBLEM_MEDIA_TYPE)
                    else:
                        await _send_json(send, status, {"detail": detail}, [(b"www-authenticate", b"Bearer")])
                    entry["status"] = status
                    return
                scope = {**scope, "devin_api_key": presented, "path": self._resolve_org(path, presented)}
            if fault is not None and fault.after_processing:
                answer: list[Message] = []

                async def keep(message: Message) -> None:
                    answer.append(message)

                await self.app(scope, replay, keep)
                if await self._apply_fault(fault, send, entry, v3):
                    return
                # delay only: the work is done, the real answer comes late (after a client timeout)
                for message in answer:
                    await recording_send(message)
                entry["status"] = status_box["status"]
                return
            await self.app(scope, replay, recording_send)
            entry["status"] = status_box["status"]
        finally:
            self.state.record(entry, generation)

    def _refusal(self, presented: str | None, v3: bool) -> tuple[int, str] | None:
        """``(status, detail)`` when the key may not call this API version, else None."""
        if presented is None:
            return 401, "Missing or malformed Authorization header; expected 'Bearer <api key>'."
        info = self.state.api_keys.get(presented)
        if v3:
            if presented.startswith(LEGACY_PREFIX) or (info is not None and info.version != "v3"):
                return 403, (
                    "This is a v1 API key (apk_...); the v3 API accepts only service user keys and "
                    "personal access tokens (cog_...)."
                )
            return (401, "Invalid API key.") if info is None else None
        if info is None or info.version != "v1":
            return 401, "Invalid API key."
        return None

    def _resolve_org(self, path: str, presented: str | None) -> str:
        """``/v3/organizations/sessions...`` -> ``/v3/organizations/<the key's org>/sessions...``."""
        parts = path.split("/")
        if len(parts) > 3 and parts[1:3] == ["v3", "organizations"] and parts[3] in ORG_RESOURCES:
            info = self.state.api_keys.get(presented or "")
            if info is not None:
                return "/".join([*parts[:3], info.org_id, *parts[3:]])
        return path

    async def _apply_fault(self, fault: Fault, send: Any, entry: dict[str, Any], v3: bool = False) -> bool:
        """Carry out ``fault``; True when it answered (or dropped) the request itself."""
        entry["fault"] = fault.fault_id
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop_connection:
            _drop(send)
            entry["status"] = "dropped"
            await asyncio.sleep(0)
            return True
        if fault.status is not None:
            extra = []
            if fault.retry_after is not None:
                extra.append((b"retry-after", _retry_after(fault.retry_after).encode()))
            detail = f"Injected fault: HTTP {fault.status} from the Devin emulator."
            if v3:
                payload = problem(fault.status, detail, entry["path"])
                await _send_json(send, fault.status, payload, extra, PROBLEM_MEDIA_TYPE)
            else:
                await _send_json(send, fault.status, {"detail": detail}, extra)
            entry["status"] = fault.status
            return True
        if fault.malformed_json:
            await _send_raw(send, 200, MALFORMED_BODY, b"application/json")
            entry["status"] = 200
            return True
        return False

    def _entry(self, scope: Scope, headers: dict[str, str], body: bytes, presented: str | None) -> dict[str, Any]:
        secrets = [key for key in self.state.api_keys if key]
        if presented and presented not in secrets:
            secrets.append(presented)
        query_text = _redact(scope.get("query_string", b"").decode("latin-1"), secrets)
        client = scope.get("client")
        return {
            "method": scope["method"],
            "path": _redact(scope.get("path", ""), secrets),
            "query": parse_qs(query_text, keep_blank_values=True),
            "body": _describe_body(body, headers.get("content-type", ""), scope.get("path", ""), secrets),
            "status": None,
            "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "monotonic": time.monotonic(),
            "user_agent": _redact(headers.get("user-agent", ""), secrets) or None,
            "client": f"{client[0]}:{client[1]}" if client else None,
            "had_authorization": "authorization" in headers,
        }


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def _bearer_token(value: str) -> str | None:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _describe_body(body: bytes, content_type: str, path: str, secrets: list[str]) -> Any:
    if not body:
        return None
    if content_type.startswith("multipart/"):
        return f"<multipart/form-data: {len(body)} bytes>"
    text = _redact(body.decode("utf-8", errors="replace"), secrets)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text if len(text) <= 200 else f"<{len(body)} bytes, not JSON>"
    if isinstance(parsed, dict):
        # Secret values never land in the journal either.
        if (path.startswith("/v1/secrets") or _is_v3_secrets(path)) and "value" in parsed:
            parsed["value"] = REDACTED
        if isinstance(parsed.get("session_secrets"), list):
            parsed["session_secrets"] = [
                {**item, "value": REDACTED} if isinstance(item, dict) else item for item in parsed["session_secrets"]
            ]
    return parsed


def _is_v3_secrets(path: str) -> bool:
    parts = path.split("/")
    return len(parts) > 4 and parts[1:3] == ["v3", "organizations"] and "secrets" in parts[3:5]


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _drop(send: Any) -> None:
    """Close the client's socket without an HTTP response (uvicorn's request cycle owns it)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("drop_connection needs the uvicorn server (EmulatorServer/CLI)")
    transport.abort()
    # Tell uvicorn the peer is gone so it neither answers 500 nor logs an error.
    if cycle is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True


async def _send_json(
    send: Any,
    status: int,
    payload: Any,
    extra: list[tuple[bytes, bytes]] | None = None,
    media_type: str = "application/json",
) -> None:
    await _send_raw(send, status, json.dumps(payload).encode(), media_type.encode(), extra)


async def _send_raw(
    send: Any, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
