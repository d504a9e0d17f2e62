"""What the sync (requests) and async (aiohttp) paths share: a request's description, and the one
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
    :param path: Path under the base URL, starting with ``/v1/`` or ``/v3/``.
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


def response_error(request: ApiRequest, message: str, *, status_code: int | None = None) -> DevinResponseError:
    """A :class:`DevinResponseError` (Devin answered, but not as the contract says) about ``request``."""
    return DevinResponseError(
        message, operation=request.operation, method=request.method, path=request.path, status_code=status_code
    )


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
            raise response_error(
                request,
                f"Devin API: {request.operation} returned HTTP {status} with a body that is not JSON "
                f"({_preview(content)}). This is usually a proxy or a truncated response; it is retried "
                "when repeating the call is safe.",
                status_code=status,
            ) from err
    raise error_for_status(request, status, headers, content)


def error_for_status(request: ApiRequest, status: int, headers: Mapping[str, str], content: bytes) -> DevinAPIError:
    """Map a non-2xx response to a typed error whose message quotes Devin's own words.

    Both error bodies Devin sends are read: FastAPI's ``{"detail": "..." | [{loc, msg, type}]}``
    (v1, and older v3 pages) and RFC 9457 ``ProblemDetail`` (``{type, title, status, detail,
    instance, errors}``, v3). They map to the same exception types on both versions.
    """
    problem = read_problem(content)
    said = _describe_detail(problem.detail if problem.detail not in (None, "") else problem.title)
    common: dict[str, Any] = {
        "operation": request.operation,
        "method": request.method,
        "path": request.path,
        "status_code": status,
        "detail": problem.detail,
    }
    where = f"Devin API: {request.operation} failed with HTTP {status}"
    v3 = request.path.startswith("/v3/")
    if status in (401, 403):
        return DevinAuthError(f"{where}: {said}. {_auth_hint(status, v3=v3)}", **common)
    if status == 404:
        scope = "the organization (org_id) of this connection" if v3 else "the organisation of this key"
        return DevinNotFoundError(f"{where}: {said}. Check that the id exists and belongs to {scope}.", **common)
    if status == 422:
        errors = problem.errors
        field_text = _describe_detail(errors) if errors and not isinstance(problem.detail, list) else ""
        message = f"{where}: Devin rejected the request: {said}"
        if field_text and field_text != said:
            message += f" ({field_text})"
        return DevinValidationError(f"{message}.", errors=errors, **common)
    retry_after = retry_after_from(headers)
    if status == 429:
        return DevinRateLimitError(f"{where}: rate limited ({said}).", retry_after=retry_after, **common)
    if status >= 500:
        return DevinServerError(f"{where}: {said}. Devin had a server-side problem.", retry_after=retry_after, **common)
    return DevinAPIError(f"{where}: {said}.", **common)


def _auth_hint(status: int, *, v3: bool) -> str:
    if v3:
        if status == 401:
            return (
                "Check the API key in the Devin connection (password field): v3 accepts cog_ keys (a service "
                "user's key or a personal access token); legacy apk_ keys only work with the v1 API "
                "(set the extra api_version to v1 or auto)."
            )
        return (
            "The key is valid but may not act here: check that the connection's org_id is the key's "
            "organization (Settings → Devin API shows it) and that its service user or role has the "
            "permission this call needs (e.g. ViewOrgSessions, ManageOrgSessions)."
        )
    if status == 401:
        return (
            "Check the API key in the Devin connection (password field): v1 accepts personal (apk_user_…) "
            "and service (apk_…) keys; cog_ keys only work with the v3 API (set the extra api_version to "
            "v3 or auto)."
        )
    return "The key is valid but lacks permission for this call (check its org scope and role)."


@dataclass(frozen=True)
class Problem:
    """What an error body says, whichever shape it has.

    :param detail: ``detail`` as sent (a string, a FastAPI list, or a non-JSON preview), or ``None``.
    :param title: the ProblemDetail ``title``, if any.
    :param errors: field-level failures: ProblemDetail ``errors``, else a list ``detail``'s dict items.
    """

    detail: Any = None
    title: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def read_problem(content: bytes) -> Problem:
    """Read a FastAPI ``{"detail": ...}`` or an RFC 9457 ``ProblemDetail`` error body (or neither)."""
    if not content or not content.strip():
        return Problem()
    try:
        body = json.loads(content)
    except ValueError:
        return Problem(detail=_preview(content))
    if not isinstance(body, dict):
        return Problem(detail=body)
    detail = body.get("detail") if "detail" in body else None
    if "detail" not in body and not {"title", "errors", "type", "status"} & body.keys():
        detail = body  # an unknown shape: quote it whole
    title = body.get("title") if isinstance(body.get("title"), str) else None
    raw_errors = body.get("errors")
    if not isinstance(raw_errors, list):
        raw_errors = detail if isinstance(detail, list) else []
    errors = [item for item in raw_errors if isinstance(item, dict)]
    return Problem(detail=detail, title=title, errors=errors)


def retry_after_from(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (read by Devin's official SDK) or ``Retry-After``."""
    millis = _header(headers, "retry-after-ms")
    if millis:
        try:
            value = float(millis)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value / 1000.0
    return parse_retry_after(_header(headers, "Retry-After"))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def log_response(logger: Any, request: ApiRequest, status: int, started: float) -> None:
    """One DEBUG line per response (method, path, status, latency); never headers, so never the key."""
    if logger.isEnabledFor(logging.DEBUG):
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug("Devin API %s %s -> %s in %.0f ms", request.method, request.path, status, elapsed_ms)


def connection_error(
    request: ApiRequest, reason: str, *, request_sent: bool, is_tls: bool = False
) -> DevinConnectionError:
    """The error for a call that got no HTTP response.

    :param request: What was being sent.
    :param reason: What happened, in words.
    :param request_sent: Whether the request may have reached Devin.
    :param is_tls: Whether the TLS layer (certificate, handshake) refused the connection.
    """
    fate = "the request may have reached Devin" if request_sent else "the request never reached Devin"
    check = (
        "Check the server's certificate, or the connection's verify extra (a CA bundle path for a private CA)."
        if is_tls
        else "Check network access to the connection's base URL."
    )
    return DevinConnectionError(
        f"Devin API: {request.operation} got no response ({reason}; {fate}). {check}",
        request_sent=request_sent,
        reason=reason,
        is_tls=is_tls,
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


def _describe_detail(detail: Any) -> str:
    if detail is None or detail == "":
        return "no detail given"
    if isinstance(detail, list):
        parts = []
        for item in detail[:10]:
            if isinstance(item, dict):
                location = item.get("loc", item.get("field", item.get("pointer", [])))
                if isinstance(location, (list, tuple)):
                    location = ".".join(str(part) for part in location if part != "body")
                message = item.get("msg", item.get("message", item.get("detail", item)))
                parts.append(f"{location or 'body'}: {message}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return f"'{text[:_MAX_DETAIL_CHARS]}'"


def _preview(content: bytes) -> str:
    text = content[:200].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(content) > 200 else "")
