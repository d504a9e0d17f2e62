"""Client-side checks run before any request, shared by the hook and the operators.

Each raises ``ValueError`` naming the field and saying what was expected, so bad input fails
before anything remote happens (and before any ACU is spent).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_POLL_ERROR_WINDOW",
    "DEFAULT_SUSPEND_STALL_TIMEOUT",
    "MAX_SCHEMA_BYTES",
    "MAX_TAGS",
    "ON_BLOCKED_CHOICES",
    "check_attachments_argument",
    "check_list",
    "check_schema_argument",
    "require_id",
    "require_text",
    "validate_choice",
    "validate_epoch_seconds",
    "validate_id_list",
    "validate_max_acu_limit",
    "validate_on_blocked",
    "validate_page_size",
    "validate_poll_error_window",
    "validate_repos",
    "validate_session_secrets",
    "validate_structured_output_schema",
    "validate_tags",
    "validate_uri_list",
]

MAX_TAGS = 50

# The wait settings an operator checks when a DAG file builds it. They live here, not in ``status``
# (which re-exports them), so a DAG parse does not pay for importing the status policy.

#: Seconds a session may stay suspended (reason unknown) before the wait fails (30 minutes).
DEFAULT_SUSPEND_STALL_TIMEOUT = 30 * 60.0

#: Seconds the polls of one wait may keep failing transiently (429, 5xx, no answer) before it gives up.
DEFAULT_POLL_ERROR_WINDOW = 15 * 60.0

#: What ``on_blocked`` may be (the values of :class:`airflow_provider_devin.status.OnBlocked`).
ON_BLOCKED_CHOICES = ("succeed", "fail", "wait", "human")
MAX_SCHEMA_BYTES = 64 * 1024
#: v3 ``attachment_urls`` items: ``format: uri``, 1-2083 characters.
MAX_URI_CHARS = 2083

_T = TypeVar("_T")


def require_text(field: str, value: object) -> str:
    """Return ``value`` if it is a non-blank string, else raise ``ValueError`` naming ``field``."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}.")
    if not value.strip():
        raise ValueError(f"{field} must not be empty.")
    return value


def require_id(field: str, value: object) -> str:
    """Return ``value`` if it is a usable id (non-blank, no ``/``), else raise ``ValueError``."""
    text = require_text(field, value).strip()
    if "/" in text or any(char.isspace() for char in text):
        raise ValueError(f"{field} must be a Devin id such as 'devin-1a2b…', got {value!r}.")
    return text


def check_list(field: str, values: Iterable[Any] | None, kind: str, check: Callable[[str, Any], _T]) -> list[_T] | None:
    """Check a list item by item: ``None`` stays ``None``; a single string is refused (it would
    otherwise be read as a list of characters).

    :param field: the argument's name, for the messages.
    :param values: the list (any iterable but a string).
    :param kind: what the items are, in words (``"ids"``), for the message about a single string.
    :param check: called as ``check("field[index]", item)``; returns the item as kept, or raises.
    """
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(f"{field} must be a list of {kind}, not a single string ({values!r}).")
    return [check(f"{field}[{index}]", item) for index, item in enumerate(values)]


def validate_tags(tags: Iterable[str] | None, field: str = "tags") -> list[str] | None:
    """Check a tag list: strings, non-empty, at most 50 (the documented cap)."""

    def tag(_: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{field} must contain only non-empty strings, got {value!r}.")
        return value

    result = check_list(field, tags, "strings", tag)
    if result is not None and len(result) > MAX_TAGS:
        raise ValueError(f"{field} has {len(result)} items; Devin accepts at most {MAX_TAGS}.")
    return result


def validate_id_list(field: str, ids: Iterable[str] | None) -> list[str] | None:
    """Check an id list. ``None`` means "use all" and ``[]`` means "use none": both are kept as given."""
    return check_list(field, ids, "ids", require_id)


def validate_structured_output_schema(schema: object, field: str = "structured_output_schema") -> dict[str, Any]:
    """Check a JSON Schema (Draft 7) for structured output: a JSON object of at most 64 KB."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"{field} must be a JSON Schema object (a dict), got {type(schema).__name__}.")
    try:
        encoded = json.dumps(schema, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{field} is not JSON-serialisable: {err}.") from err
    size = len(encoded.encode())
    if size > MAX_SCHEMA_BYTES:
        raise ValueError(f"{field} is {size} bytes serialised; Devin accepts at most {MAX_SCHEMA_BYTES} (64 KB).")
    return dict(schema)


def validate_max_acu_limit(value: object, field: str = "max_acu_limit") -> int | None:
    """Check an ACU ceiling: a positive integer or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be a positive integer, got {value!r}.")
    if value <= 0:
        raise ValueError(f"{field} must be greater than 0, got {value}.")
    return value


def validate_session_secrets(secrets: object, field: str = "session_secrets") -> list[dict[str, Any]] | None:
    """Check session secrets: a list of ``{key, value, sensitive?}``, or a ``{key: value}`` mapping."""
    if secrets is None:
        return None
    if isinstance(secrets, Mapping):
        items: list[Any] = [{"key": key, "value": value, "sensitive": True} for key, value in secrets.items()]
    elif isinstance(secrets, (list, tuple)):
        items = list(secrets)
    else:
        raise ValueError(f"{field} must be a list of {{key, value, sensitive}} dicts or a mapping of key to value.")
    result: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"{field}[{index}] must be a dict with 'key' and 'value'.")
        key = require_text(f"{field}[{index}].key", item.get("key"))
        value = item.get("value")
        if not isinstance(value, str):
            raise ValueError(f"{field}[{index}].value (for key {key!r}) must be a string.")
        result.append({"key": key, "value": value, "sensitive": bool(item.get("sensitive", True))})
    return result


def validate_page_size(value: object, field: str, maximum: int | None = None) -> int:
    """Check a page size: a positive integer, at most ``maximum`` when the API caps it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be a positive integer, got {value!r}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{field} must be at most {maximum} on this API version, got {value}.")
    return value


def validate_uri_list(field: str, urls: Iterable[str] | None) -> list[str] | None:
    """Check a list of absolute URLs (``scheme://…``), each 1-2083 characters (v3 ``attachment_urls``)."""
    return check_list(field, urls, "URLs", _uri)


def _uri(field: str, url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{field} must be a non-empty URL string, got {url!r}.")
    if len(url) > MAX_URI_CHARS:
        raise ValueError(f"{field} is {len(url)} characters; Devin accepts at most {MAX_URI_CHARS}.")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.isascii() or not scheme.replace("+", "").replace("-", "").isalnum() or not rest:
        raise ValueError(f"{field} must be an absolute URL such as 'https://…', got {url!r}.")
    return url


def validate_repos(repos: Iterable[str] | None, field: str = "repos") -> list[str] | None:
    """Check repository names (``owner/repo``): non-empty strings without spaces."""
    return check_list(field, repos, "repository names", _repo)


def _repo(field: str, repo: object) -> str:
    text = require_text(field, repo).strip()
    if any(char.isspace() for char in text):
        raise ValueError(f"{field} must be a repository name such as 'owner/repo', got {repo!r}.")
    return text


def validate_choice(field: str, value: object, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices``."""
    allowed = tuple(choices)
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}.")
    return str(value)


def validate_on_blocked(value: object, field: str = "on_blocked") -> str:
    """Check ``on_blocked``: ``"succeed"``, ``"fail"``, ``"wait"`` or ``"human"`` (an ``OnBlocked`` member too)."""
    text = getattr(value, "value", value)
    if text not in ON_BLOCKED_CHOICES:
        allowed = ", ".join(repr(choice) for choice in ON_BLOCKED_CHOICES)
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}")
    return str(text)


def validate_poll_error_window(window: object, max_poll_errors: object = None, poll_interval: float = 30.0) -> float:
    """Check ``poll_error_window`` (seconds >= 0); map a pre-window ``max_poll_errors`` count.

    Triggers serialized before the window existed carry ``max_poll_errors`` (always 5, a count of
    polls in a row); they get the longer of that many poll intervals and the default window, so an
    upgrade never makes a waiting task less tolerant.

    :param window: The value given (``None``: the default, or the mapped count).
    :param max_poll_errors: A count from old trigger kwargs, if any.
    :param poll_interval: The wait's poll interval (seconds), to map the count.
    """
    if window is None:
        if max_poll_errors is None:
            return DEFAULT_POLL_ERROR_WINDOW
        return max(DEFAULT_POLL_ERROR_WINDOW, float(max_poll_errors) * poll_interval)  # type: ignore[arg-type]
    if isinstance(window, bool) or not isinstance(window, (int, float)) or window < 0:
        raise ValueError(f"poll_error_window must be a number of seconds >= 0, got {window!r}")
    return float(window)


def check_schema_argument(schema: object) -> None:
    """Fail at DAG parse time on a ``structured_output_schema`` that is neither a dict nor a ``.json`` path."""
    if schema is None:
        return
    if not isinstance(schema, (Mapping, str)):
        raise ValueError(
            "structured_output_schema must be a JSON Schema dict or a path to a .json file, got "
            f"{type(schema).__name__}"
        )
    if isinstance(schema, str) and not schema.endswith(".json"):
        raise ValueError(f"structured_output_schema must be a dict or a path ending in .json, got {schema!r}")


def check_attachments_argument(attachments: object) -> list[Any] | None:
    """Fail at DAG parse time unless ``attachments`` is a list (of paths or ObjectStoragePath objects)."""
    if attachments is None:
        return None
    if isinstance(attachments, (str, bytes)) or not isinstance(attachments, Sequence):
        raise ValueError("attachments must be a list of local paths or ObjectStoragePath objects")
    return list(attachments)


def validate_epoch_seconds(field: str, value: object) -> int | None:
    """Check a v3 timestamp filter: integer epoch seconds (``None`` = no filter)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be integer epoch seconds (e.g. int(time.time())), got {value!r}.")
    return value
