"""What the sync (requests) and async (asyncio + h11) paths share: a request's description, and the one
place that turns a response into data or a typed :class:`~airflow_provider_devin.exceptions.DevinAPIError`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_devin.exceptions import (
    DevinAPIError,
    DevinAuthError,
    DevinConnectionError,
    DevinNotFoundError,
    DevinRateLimitError,
    DevinResponseError,
    DevinServerError,
    DevinValidationError,
)

#: Sent for a POST body that is absent (as opposed to JSON ``null``).
NO_BODY: Any = object()

_MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class ApiRequest:
    """One Devin API call, independent of the HTTP library that sends it.

    :param operation: What is attempted, in words, for logs and errors (``"get session devin-1"``).
    :param method: HTTP method.
    :param path: Path under the base URL, starting with ``/v1/``.
    :param params: Query parameters as ordered pairs (repeated keys allowed: ``tags=a&tags=b``).
    :param json_body: The JSON body, or :data:`NO_BODY`.
    :param replay_safe: Whether sending it twice cannot do the work twice. GET, PUT, DELETE and an
        idempotent create are; a plain POST is not, so it is repeated only when it certainly never
        reached Devin.
    :param expect_json: Whether a 2xx body must be JSON (``False`` for downloads).
    """

    operation: str
    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json_body: Any = field(default=NO_BODY, compare=False)
    replay_safe: bool = False
    expect_json: bool = True

    @classmethod
    def build(
        cls,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = NO_BODY,
        replay_safe: bool | None = None,
        expect_json: bool = True,
    ) -> ApiRequest:
        """Build a request; ``replay_safe`` defaults from the method (GET/PUT/DELETE are safe)."""
        pairs: list[tuple[str, str]] = []
        for key, value in (params or {}).items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                pairs.extend((key, str(item)) for item in value)
            else:
                pairs.append((key, str(value)))
        if replay_safe is None:
            replay_safe = method in ("GET", "PUT", "DELETE", "HEAD")
        return cls(operation, method, path, tuple(pairs), json_body, replay_safe, expect_json)


def interpret_response(request: ApiRequest, status: int, headers: Mapping[str, str], content: bytes) -> Any:
    """Return the decoded body of a 2xx response, or raise the matching :class:`DevinAPIError`."""
    if 200 <= status < 300:
        if not request.expect_json:
            return content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError as err:
            raise DevinResponseError(
                f"Devin API: {request.operation} returned HTTP {status} with a body that is not JSON "
                f"({_preview(content)}). This is usually a proxy or a truncated response; it is retried "
                "when repeating the call is safe.",
                operation=request.operation,
                method=request.method,
                path=request.path,
                status_code=status,
            ) from err
    raise error_for_status(request, status, headers, content)


def error_for_status(request: ApiRequest, status: int, headers: Mapping[str, str], content: bytes) -> DevinAPIError:
    """Map a non-2xx response to a typed error whose message quotes Devin's ``detail``."""
    detail = _detail_from(content)
    said = _describe_detail(detail)
    common: dict[str, Any] = {
        "operation": request.operation,
        "method": request.method,
        "path": request.path,
        "status_code": status,
        "detail": detail,
    }
    where = f"Devin API: {request.operation} failed with HTTP {status}"
    if status in (401, 403):
        hint = (
            "Check the API key in the Devin connection (password field): v1 accepts personal (apk_user_…) "
            "and service (apk_…) keys; cog_ keys only work with the v3 API."
            if status == 401
            else "The key is valid but lacks permission for this call (check its org scope and role)."
        )
        return DevinAuthError(f"{where}: {said}. {hint}", **common)
    if status == 404:
        return DevinNotFoundError(
            f"{where}: {said}. Check that the id exists and belongs to the organisation of this key.", **common
        )
    if status == 422:
        return DevinValidationError(f"{where}: Devin rejected the request: {said}.", **common)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return DevinRateLimitError(f"{where}: rate limited ({said}).", retry_after=retry_after, **common)
    if status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return DevinServerError(f"{where}: {said}. Devin had a server-side problem.", retry_after=retry_after, **common)
    return DevinAPIError(f"{where}: {said}.", **common)


def log_response(logger: Any, request: ApiRequest, status: int, started: float) -> None:
    """One DEBUG line per response (method, path, status, latency); never headers, so never the key."""
    if logger.isEnabledFor(logging.DEBUG):
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug("Devin API %s %s -> %s in %.0f ms", request.method, request.path, status, elapsed_ms)


def connection_error(request: ApiRequest, reason: str, *, request_sent: bool) -> DevinConnectionError:
    """The error for a call that got no HTTP response."""
    fate = "the request may have reached Devin" if request_sent else "the request never reached Devin"
    return DevinConnectionError(
        f"Devin API: {request.operation} got no response ({reason}; {fate}). "
        "Check network access to the connection's base URL.",
        request_sent=request_sent,
        operation=request.operation,
        method=request.method,
        path=request.path,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; ``None`` if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _detail_from(content: bytes) -> Any:
    if not content:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return _preview(content)
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def _describe_detail(detail: Any) -> str:
    if detail is None or detail == "":
        return "no detail given"
    if isinstance(detail, list):
        parts = []
        for item in detail[:10]:
            if isinstance(item, dict):
                location = ".".join(str(part) for part in item.get("loc", []) if part != "body")
                parts.append(f"{location or 'body'}: {item.get('msg', item)}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return f"'{text[:_MAX_DETAIL_CHARS]}'"


def _preview(content: bytes) -> str:
    text = content[:200].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(content) > 200 else "")
