"""v3 error bodies (RFC 9457 ``ProblemDetail``) and opaque cursor pagination.

Every v3 error is ``application/problem+json``: ``{type, title, status, detail, instance,
errors}``; ``errors`` (field-level failures, FastAPI's ``loc``/``msg``/``type`` items) is set on
422 only. ``instance`` is the request path.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
MAX_PAGE = 200
DEFAULT_PAGE = 100


class ApiError(Exception):
    """A non-2xx answer: v1 renders ``{"detail": ...}``, v3 a ``ProblemDetail``.

    :param status_code: the HTTP status.
    :param detail: a sentence naming what was wrong and what was expected.
    :param errors: field-level errors (422 only), FastAPI-style ``{loc, msg, type}`` items.
    """

    def __init__(self, status_code: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = errors


def is_v3(path: str) -> bool:
    return path == "/v3" or path.startswith("/v3/")


def problem(
    status: int, detail: Any, instance: str | None, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": errors if status == 422 else None,
    }


def problem_response(
    status: int,
    detail: Any,
    instance: str | None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem(status, detail, instance, errors),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def field_error(loc: Sequence[Any], msg: str, kind: str = "value_error", value: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": kind}
    if value is not None:
        item["input"] = value
    return item


def summarize(errors: list[dict[str, Any]]) -> str:
    """One line naming every failing field, for ``detail``."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "Request validation failed."


# -- pagination -------------------------------------------------------------------------------


def encode_cursor(kind: str, key: Any) -> str:
    raw = json.dumps({"k": kind, "v": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(payload, dict) or payload.get("k") != kind:
            raise ValueError(kind)
        return payload["v"]
    except (ValueError, KeyError, binascii.Error, UnicodeDecodeError):
        msg = f"'after' is not a cursor this list returned (expected an end_cursor from a {kind} page)"
        raise ApiError(422, msg, [field_error(["query", "after"], msg, "value_error", cursor)]) from None


def paginate(
    items: Sequence[Any],
    *,
    kind: str,
    key: Callable[[Any], Any],
    first: int,
    after: str | None,
    descending: bool = False,
    with_total: bool = True,
    render: Callable[[Any], Any] = lambda item: item,
) -> dict[str, Any]:
    """One page of ``items`` (already in list order, keyed by a strictly monotonic ``key``).

    The cursor names the last item returned, so items added between two page calls neither
    repeat nor shift the next page. ``end_cursor`` is null when ``has_next_page`` is false.
    """
    start = 0
    if after is not None:
        mark = decode_cursor(kind, after)
        start = len(items)
        for index, item in enumerate(items):
            if (key(item) < mark) if descending else (key(item) > mark):
                start = index
                break
    page = list(items[start : start + first])
    has_next = start + first < len(items)
    return {
        "items": [render(item) for item in page],
        "has_next_page": has_next,
        "end_cursor": encode_cursor(kind, key(page[-1])) if has_next and page else None,
        "total": len(items) if with_total else None,
    }
