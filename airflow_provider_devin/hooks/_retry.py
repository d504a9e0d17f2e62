"""The retry policy, written once with tenacity and used by the sync and the async paths.

A call is repeated only when repeating it cannot do Devin's work twice:

* the request certainly never reached Devin (connection refused, connect timeout) → any method;
* 429 → any method (the server refused it), honouring ``Retry-After``;
* a read timeout, a reset after sending, a broken 2xx body, or 500/502/503/504 → only calls that are
  replay-safe (GET, PUT, DELETE, and ``create_session(idempotent=True)``);
* 400/401/403/404/422 and everything else → never.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import tenacity

from airflow_provider_devin.exceptions import (
    DevinAPIError,
    DevinConnectionError,
    DevinRateLimitError,
    DevinResponseError,
    DevinServerError,
)
from airflow_provider_devin.hooks._http import ApiRequest

RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetrySettings:
    """How hard to retry.

    :param max_retries: Retries after the first attempt.
    :param max_wait: Cap, in seconds, on one wait (backoff and ``Retry-After`` alike).
    :param initial_wait: First backoff step in seconds; doubles each retry, with jitter.
    """

    max_retries: int = 5
    max_wait: float = 60.0
    initial_wait: float = 1.0


def should_retry(request: ApiRequest, error: BaseException) -> bool:
    """Whether ``error`` from sending ``request`` may be retried without risking duplicate work."""
    if isinstance(error, DevinConnectionError):
        return not error.request_sent or request.replay_safe
    if isinstance(error, DevinRateLimitError):
        return True
    if isinstance(error, DevinServerError):
        return request.replay_safe and error.status_code in RETRYABLE_SERVER_STATUSES
    if isinstance(error, DevinResponseError):
        return request.replay_safe
    return False


def backoff_seconds(error: BaseException | None, attempt_number: int, settings: RetrySettings) -> float:
    """Wait before the next attempt: the server's ``Retry-After`` if given, else exponential backoff
    with jitter; both capped at ``settings.max_wait``."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return min(float(retry_after), settings.max_wait)
    ceiling = min(settings.max_wait, settings.initial_wait * (2 ** max(0, attempt_number - 1)))
    return ceiling * random.uniform(0.5, 1.0)


def retry_arguments(
    request: ApiRequest,
    settings: RetrySettings,
    logger: Any,
    sleep: Callable[[float], Any] | Callable[[float], Awaitable[Any]],
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` or ``tenacity.AsyncRetrying`` (same policy for both)."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return backoff_seconds(error, state.attempt_number, settings)

    def log_retry(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s Retrying in %.1f s (attempt %d of %d).",
            _one_line(error),
            delay,
            state.attempt_number + 1,
            settings.max_retries + 1,
        )

    return {
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1),
        "retry": tenacity.retry_if_exception(lambda error: should_retry(request, error)),
        "wait": wait,
        "before_sleep": log_retry,
        "sleep": sleep,
        "reraise": True,
    }


def _one_line(error: BaseException | None) -> str:
    if isinstance(error, DevinAPIError):
        return str(error).split("\n", 1)[0]
    return repr(error)


def call_with_retries(
    request: ApiRequest, settings: RetrySettings, logger: Any, sleep: Callable[[float], Any], send: Callable[[], Any]
) -> Any:
    """Run ``send`` once; only after a retryable failure build tenacity's loop (the common, successful
    call pays nothing for it). The first failure is replayed into the loop, so counting, waits and
    logs are exactly those of the policy."""
    try:
        return send()
    except Exception as error:
        if not should_retry(request, error) or settings.max_retries == 0:
            raise
        first_failure: BaseException | None = error
    for attempt in tenacity.Retrying(**retry_arguments(request, settings, logger, sleep)):
        with attempt:
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return send()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def acall_with_retries(
    request: ApiRequest,
    settings: RetrySettings,
    logger: Any,
    sleep: Callable[[float], Awaitable[Any]],
    send: Callable[[], Awaitable[Any]],
) -> Any:
    """The async twin of :func:`call_with_retries` (same policy object, same replay of the first failure)."""
    try:
        return await send()
    except Exception as error:
        if not should_retry(request, error) or settings.max_retries == 0:
            raise
        first_failure: BaseException | None = error
    async for attempt in tenacity.AsyncRetrying(**retry_arguments(request, settings, logger, sleep)):
        with attempt:
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return await send()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
