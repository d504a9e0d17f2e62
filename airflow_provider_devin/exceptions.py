"""Errors raised by the Devin provider.

A connection that cannot work as configured (no key, a bad extra, plain ``http://`` to a remote
host, a key of the other API version, a v3 key without an organization) is a
:class:`DevinConfigError`, raised before any request. Every failure that comes back from Devin
(or never comes back) is a :class:`DevinAPIError`. Both subclass ``AirflowException`` so Airflow
fails or retries the task as usual. The message is a
sentence an on-call engineer can act on: what was attempted, what Devin said, what to check. It
never contains the API key: errors are built only from the method, the path and the response body.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_devin._compat import AirflowException

__all__ = [
    "DevinAPIError",
    "DevinAuthError",
    "DevinConfigError",
    "DevinConnectionError",
    "DevinNotFoundError",
    "DevinRateLimitError",
    "DevinResponseError",
    "DevinServerError",
    "DevinValidationError",
]


class DevinConfigError(AirflowException):
    """The Devin connection (or a hook argument overriding it) cannot work as configured.

    Raised when the connection is read, before any request: the message names the connection,
    the field or extra, what it holds and what was expected. Not a :class:`DevinAPIError`: no
    request was made, so there is no method, path or status.
    """


class DevinAPIError(AirflowException):
    """A Devin API call failed.

    :param message: The full, human-readable message.
    :param operation: What was attempted, in words (``"get session devin-abc"``).
    :param method: The HTTP method.
    :param path: The request path (no host, no query string).
    :param status_code: The HTTP status, or ``None`` when no response arrived.
    :param detail: Devin's own ``detail`` (a string, or the 422 list), if any.
    :param retry_after: Seconds the server asked us to wait (``Retry-After``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        method: str,
        path: str,
        status_code: int | None = None,
        detail: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.method = method
        self.path = path
        self.status_code = status_code  # type: ignore[assignment]  # AirflowException declares an HTTPStatus
        self.detail = detail
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        """True when the same call may succeed later on its own: no answer, 429, 5xx or an unreadable body.

        Authentication, permission, not-found and validation errors are not transient.
        """
        code = self.status_code
        return code is None or code == 429 or code >= 500 or isinstance(self, DevinResponseError)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the error picklable (Airflow ships exceptions across processes).
        return (_rebuild_error, (type(self), str(self), self.__dict__.copy()))


def _rebuild_error(cls: type[DevinAPIError], message: str, state: dict[str, Any]) -> DevinAPIError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class DevinAuthError(DevinAPIError):
    """401 or 403: the key is missing, wrong, revoked, or lacks permission (never retried)."""


class DevinNotFoundError(DevinAPIError):
    """404: the session, note, playbook or secret does not exist for this key (never retried)."""


class DevinValidationError(DevinAPIError):
    """422: Devin rejected the request body; :attr:`errors` holds the field-level failures (never retried).

    :param message: The full, human-readable message.
    :param errors: The field-level failures: v3 ``ProblemDetail.errors``, or the FastAPI ``detail``
        list (``{"loc": [...], "msg": ..., "type": ...}``); read from ``detail`` when not given.
    :param kwargs: As for :class:`DevinAPIError`.
    """

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self._errors = list(errors) if errors else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The field-level failures (v3 ``errors`` or the v1 ``detail`` list); ``[]`` when none were given."""
        if getattr(self, "_errors", None):
            return list(self._errors or [])
        return [item for item in self.detail if isinstance(item, dict)] if isinstance(self.detail, list) else []


class DevinRateLimitError(DevinAPIError):
    """429: too many requests; retried for every method, honouring ``Retry-After``."""


class DevinServerError(DevinAPIError):
    """5xx: Devin failed; retried only when repeating the call cannot duplicate work."""


class DevinResponseError(DevinAPIError):
    """A 2xx response whose body is not the JSON Devin documents (e.g. truncated)."""


class DevinConnectionError(DevinAPIError):
    """No HTTP response: connection refused, timed out, or dropped.

    :attr:`request_sent` tells whether the request may have reached Devin: ``False`` for a refused
    connection, a failed DNS lookup, a connect timeout or a refused certificate (safe to repeat),
    ``True`` for a read timeout or a reset after sending (repeating a write could do it twice).
    :attr:`reason` says what happened in words (``"connection refused"``, ``"DNS lookup failed"``,
    ``"TLS: certificate verify failed ..."``, ``"read timeout"``, ...); :attr:`is_tls` whether it
    was the TLS layer (a certificate or handshake problem, not the network).

    :param message: The full, human-readable message.
    :param request_sent: Whether the request may have reached Devin.
    :param reason: What happened, in words.
    :param is_tls: Whether the TLS layer refused the connection.
    :param kwargs: ``operation``, ``method``, ``path`` as for :class:`DevinAPIError`.
    """

    def __init__(
        self, message: str, *, request_sent: bool, reason: str = "", is_tls: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent
        self.reason = reason
        self.is_tls = is_tls
