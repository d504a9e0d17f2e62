"""The shared backoff gate: when Devin answers 429 or 5xx, every request on that connection slows down.

One :class:`BackoffGate` exists per event loop and connection (:func:`backoff_gate`). Any request
path of the loop -- a trigger's own poll, a batch poller serving many triggers, ``on_kill`` --
passes through it::

    gate = backoff_gate(settings)
    async with gate.admit():
        body = await send(request)   # a DevinRateLimitError / DevinServerError raised in here closes the gate

The gate is a small circuit breaker:

* **open** (the normal state): requests pass at once and cost one attribute check.
* **closed**: after a 429 or a 500/502/503/504 nothing passes until the pause is over. The pause is
  at least the server's ``Retry-After`` and at least an exponential backoff (``initial_wait`` doubling
  per failed round, up to ``max_wait``; a ``Retry-After`` longer than ``max_wait`` is still honoured,
  up to :data:`MAX_PAUSE`), stretched by up to 20 % of random jitter so that triggerers sharing one
  Devin account do not retry in step.
* **probing**: when the pause is over, exactly one request (the probe) is let through; the others
  keep waiting for its answer. If it succeeds (or Devin answers anything that is not a rate limit or
  a server error: a 404 says the server is back), the gate opens for everybody; if it fails, the next,
  longer pause starts. A probe that is cancelled or fails without an answer (connection refused,
  timeout) hands the turn to the next waiter.

So during a storm a connection sends about one request per pause, however many waits it serves;
requests that were already in flight when the gate closed and fail too do not lengthen the pause
beyond their ``Retry-After`` (one escalation per failed round, not per request).

Interface for other request paths (e.g. a coalesced poller): ``backoff_gate(settings)`` returns the
gate of the running loop for that connection (same settings -> same object);
``async with gate.admit():`` waits for the gate and classifies whatever the block raises;
``gate.paused_for()`` says how long it stays closed (``0.0`` when open), for logging or deadlines.
Waiting at the gate has no timeout of its own: bound it with ``asyncio.wait_for`` where a caller has
a deadline (``DevinSessionTrigger`` does, with its outage window).
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from airflow_provider_devin.exceptions import DevinAPIError, DevinRateLimitError, DevinServerError
from airflow_provider_devin.hooks._retry import RETRYABLE_SERVER_STATUSES, RetrySettings

#: The longest pause, whatever ``Retry-After`` says (a misconfigured proxy must not park waits for hours).
MAX_PAUSE = 600.0

#: Jitter: a pause is stretched by a random factor in ``[1, 1 + JITTER]``.
JITTER = 0.2


def is_throttling(error: BaseException) -> bool:
    """Whether ``error`` says Devin is overloaded or limiting us (429, 500/502/503/504)."""
    if isinstance(error, DevinRateLimitError):
        return True
    return isinstance(error, DevinServerError) and error.status_code in RETRYABLE_SERVER_STATUSES


class BackoffGate:
    """The pause shared by every request of one connection in one event loop (see the module docstring).

    :param retry: The connection's retry settings (``initial_wait``, ``max_wait``).
    :param clock: Monotonic clock (tests pass a fake one).
    """

    def __init__(self, retry: RetrySettings, clock: Any = time.monotonic) -> None:
        self._retry = retry
        self._clock = clock
        self._failed_rounds = 0
        self._reopen_at = 0.0
        self._round = 0
        self._probing = False
        self._changed: asyncio.Future[None] | None = None
        #: How many times the gate closed (for tests, benchmarks and logs).
        self.closures = 0

    @property
    def is_open(self) -> bool:
        """True when a request would pass at once."""
        return self._failed_rounds == 0

    def paused_for(self) -> float:
        """Seconds until the gate lets a probe through (``0.0`` when open or already probing)."""
        if self._failed_rounds == 0:
            return 0.0
        return max(0.0, self._reopen_at - self._clock())

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Wait until a request may be sent, then run the block; what it raises updates the gate."""
        if self._failed_rounds == 0:
            started_round, probe = self._round, False
        else:
            started_round, probe = await self._wait_turn()
        try:
            yield
        except BaseException as error:
            self._settle(started_round, probe, error)
            raise
        else:
            self._settle(started_round, probe, None)

    async def _wait_turn(self) -> tuple[int, bool]:
        while self._failed_rounds:
            pause = self._reopen_at - self._clock()
            if pause <= 0 and not self._probing:
                self._probing = True
                return self._round, True
            await self._wait_change(pause if pause > 0 else None)
        return self._round, False

    async def _wait_change(self, timeout: float | None) -> None:
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._changed), timeout)
        except asyncio.TimeoutError:
            pass

    def _settle(self, started_round: int, probe: bool, error: BaseException | None) -> None:
        if error is not None and is_throttling(error):
            self._close(started_round, getattr(error, "retry_after", None))
        elif error is None or (isinstance(error, DevinAPIError) and error.status_code is not None):
            self._failed_rounds = 0  # Devin answered: it is back
            self._reopen_at = 0.0
        if probe:
            self._probing = False
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def _close(self, started_round: int, retry_after: float | None) -> None:
        now = self._clock()
        floor = min(float(retry_after), MAX_PAUSE) if retry_after is not None else 0.0
        if started_round == self._round:
            # The first failure of this round: escalate once, whatever else was in flight.
            self._round += 1
            self._failed_rounds += 1
            self.closures += 1
            backoff = min(self._retry.max_wait, self._retry.initial_wait * 2 ** (self._failed_rounds - 1))
            pause = min(MAX_PAUSE, max(floor, backoff) * random.uniform(1.0, 1.0 + JITTER))
            self._reopen_at = max(self._reopen_at, now + pause)
        else:
            self._failed_rounds = max(self._failed_rounds, 1)
            self._reopen_at = max(self._reopen_at, now + floor)


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], BackoffGate]] = (
    weakref.WeakKeyDictionary()
)


def backoff_gate(settings: Any) -> BackoffGate:
    """The running loop's gate for the connection ``settings`` describes (created on first use).

    Keyed by base URL and API key: two Airflow connections to the same Devin account with different
    timeouts still share one gate (Devin's limits are per credential, not per socket).
    Gates live as long as their event loop.

    :param settings: A :class:`~airflow_provider_devin.hooks._settings.ConnectionSettings`.
    """
    loop = asyncio.get_running_loop()
    key = (settings.base_url, hash(settings.api_key))
    per_loop = _gates.setdefault(loop, {})
    gate = per_loop.get(key)
    if gate is None:
        gate = per_loop[key] = BackoffGate(settings.retry)
    return gate
