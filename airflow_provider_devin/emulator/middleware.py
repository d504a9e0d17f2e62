"""The outermost ASGI layer: injected faults, Bearer auth and the request journal.

It is plain ASGI (no ``BaseHTTPMiddleware``) so a poll costs little, and it must stay outermost:
dropping a connection needs uvicorn's own ``send`` to reach the socket.

* ``/v1/...``: faults, then auth, then the app; every request is journaled.
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
from airflow_provider_devin.emulator.state import EmulatorState

Scope = dict[str, Any]
Message = dict[str, Any]
REDACTED = "***"
MALFORMED_BODY = b'{"session_id": "devin-'


class EmulatorMiddleware:
    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = path.startswith("/v1/") or path == "/v1"
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
            if fault is not None and not fault.after_processing and await self._apply_fault(fault, send, entry):
                return
            if is_api:
                if presented is None or presented not in self.state.api_keys:
                    detail = (
                        "Missing or malformed Authorization header; expected 'Bearer <api key>'."
                        if presented is None
                        else "Invalid API key."
                    )
                    await _send_json(send, 401, {"detail": detail}, [(b"www-authenticate", b"Bearer")])
                    entry["status"] = 401
                    return
                scope = {**scope, "devin_api_key": presented}
            if fault is not None and fault.after_processing:
                await self.app(scope, replay, _discard)
                if await self._apply_fault(fault, send, entry):
                    return
                raise RuntimeError("an after_processing fault needs status, drop_connection or malformed_json")
            await self.app(scope, replay, recording_send)
            entry["status"] = status_box["status"]
        finally:
            self.state.record(entry, generation)

    async def _apply_fault(self, fault: Fault, send: Any, entry: dict[str, Any]) -> bool:
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


async def _discard(message: Message) -> None:
    """The real answer of a request whose answer a fault replaces."""


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
        if path.startswith("/v1/secrets") and "value" in parsed:
            parsed["value"] = REDACTED
        if isinstance(parsed.get("session_secrets"), list):
            parsed["session_secrets"] = [
                {**item, "value": REDACTED} if isinstance(item, dict) else item for item in parsed["session_secrets"]
            ]
    return parsed


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


async def _send_json(send: Any, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send_raw(send, status, json.dumps(payload).encode(), b"application/json", extra)


async def _send_raw(
    send: Any, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
