"""DevinSessionTrigger: wait for a Devin session on the triggerer, without holding a worker slot.

The trigger only reads: it never creates or messages a session, because the triggerer re-runs a
trigger from its serialized kwargs after every restart and any write in here would repeat. Its
kwargs hold ids, numbers and policy values only (never an idempotency key or an API key): they are
stored in the metadata DB and printed in triggerer logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_devin.session import Handover, MessagePosition
from airflow_provider_devin.status import (
    DEFAULT_SUSPEND_STALL_TIMEOUT,
    OnBlocked,
    OutageWindow,
    SessionWatch,
    StatusPolicy,
    WaitOutcome,
    is_transient_poll_error,
    make_event,
    verdict_event,
)
from airflow_provider_devin.triggers._poller import next_observation, open_poll_source
from airflow_provider_devin.validation import validate_poll_error_window

__all__ = ["DevinSessionTrigger"]

#: Upper bound for the termination call made by ``on_kill`` (Airflow allows 30 s by default).
_ON_KILL_TIMEOUT = 20.0


class _HeldBack(Exception):
    """A poll that got no answer in time because the connection's backoff gate held it back."""

    def __init__(self, paused_for: float) -> None:
        super().__init__(
            "Devin kept answering 429/5xx: the connection is backing off"
            + (f" for {paused_for:.0f} s more." if paused_for else ".")
        )


class DevinSessionTrigger(BaseTrigger):
    """Poll a Devin session until the status policy says the wait is over, then fire one event.

    The event payload is ``{"status", "session_id", "message", "summary", "retryable", "reason"}``
    where ``status`` is one of ``success``, ``blocked``, ``failed``, ``timeout`` or ``error`` and
    ``summary`` is the last session summary (see :func:`airflow_provider_devin.status.session_summary`).

    :param devin_conn_id: The Airflow connection to Devin.
    :param session_id: The session to wait on.
    :param poll_interval: Seconds between two status polls.
    :param deadline: Absolute deadline in epoch seconds; when it passes the trigger fires a
        ``timeout`` event (the operator then cleans up). ``None`` waits without limit.
    :param on_blocked: ``"succeed"``, ``"fail"`` or ``"wait"`` (see the status policy).
    :param suspend_stall_timeout: Seconds a session may stay suspended before the wait fails.
    :param max_acu_limit: The session's ACU cap, used to word messages.
    :param acu_budget: Client-side ACU budget; past it the trigger fires a non-retryable ``failed``
        event with reason ``acu_budget`` (the operator terminates the session: the trigger only reads).
    :param terminate_on_kill: Terminate the session when a user kills the deferred task
        (Airflow 3.3+ calls :meth:`on_kill`).
    :param poll_error_window: The outage window: seconds the polls may keep failing transiently
        (429, 5xx, no answer, after the hook's own retries) before the wait ends with an ``error``
        event; default 15 minutes. While Devin answers 429/5xx, every request of this connection in
        the triggerer waits at the shared backoff gate (at least ``Retry-After``), so a storm slows
        the polls down instead of multiplying them; a poll held there is cut when the window ends.
    :param reply_pending: A message was just sent: an end state only counts once Devin wrote
        something new or was seen working.
    :param position: Where the worker stopped reading the conversation (an encoded
        :class:`~airflow_provider_devin.session.MessagePosition`), so only newer messages are logged.
    :param handover: The worker's last observation (``SessionSnapshot.handover()``: ``updated_at``,
        status, detail and when it read the messages): on v3 the first batch poll that shows the
        same state reads no messages (no read per trigger when a triggerer restarts).
    :param previous_class: The last status class the worker saw (decides v3 ``inactivity``/``exit``).
    :param last_status: The last status the worker logged, so the trigger logs only changes.
    :param url: The session's web page, carried into the event summary.
    :param deadline_limit: Which limit set ``deadline`` (``"timeout"`` or ``"execution_timeout"``);
        carried as the ``timeout`` event's ``reason`` so the failure names it.
    :param reply_after_index: Accepted from triggers serialized by provider 0.1 (still in the
        metadata DB after an upgrade); any value means ``reply_pending=True``.
    :param max_poll_errors: Accepted from triggers serialized before ``poll_error_window`` (a count
        of failed polls in a row): mapped to the longer of that many poll intervals and the default
        window.
    """

    def __init__(
        self,
        *,
        devin_conn_id: str,
        session_id: str,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        on_blocked: str = OnBlocked.SUCCEED.value,
        suspend_stall_timeout: float = DEFAULT_SUSPEND_STALL_TIMEOUT,
        max_acu_limit: int | None = None,
        acu_budget: float | None = None,
        terminate_on_kill: bool = False,
        poll_error_window: float | None = None,
        reply_pending: bool = False,
        position: str | None = None,
        handover: list[Any] | None = None,
        previous_class: str | None = None,
        last_status: str | None = None,
        url: str | None = None,
        deadline_limit: str | None = None,
        reply_after_index: int | None = None,
        max_poll_errors: int | None = None,
    ) -> None:
        super().__init__()
        self.devin_conn_id = devin_conn_id
        self.session_id = session_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else None
        # Validated (ValueError) here so a bad value fails at defer time, on the worker.
        self.policy = StatusPolicy(
            on_blocked=OnBlocked.coerce(on_blocked),
            suspend_stall_timeout=float(suspend_stall_timeout),
            max_acu_limit=max_acu_limit,
            acu_budget=acu_budget,
        )
        self.terminate_on_kill = bool(terminate_on_kill)
        self.poll_error_window = validate_poll_error_window(poll_error_window, max_poll_errors, self.poll_interval)
        self.reply_pending = bool(reply_pending) or reply_after_index is not None
        self.position = position if isinstance(position, str) else None
        # Anything but what SessionSnapshot.handover() makes is dropped: the first poll reads then.
        self._handover = Handover.decode(handover)
        self.handover = list(handover) if handover is not None and self._handover is not None else None
        self.previous_class = previous_class
        self.last_status = last_status
        self.url = url
        self.deadline_limit = deadline_limit

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and kwargs (plain JSON values only) to rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "devin_conn_id": self.devin_conn_id,
                "session_id": self.session_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "on_blocked": self.policy.on_blocked.value,
                "suspend_stall_timeout": self.policy.suspend_stall_timeout,
                "max_acu_limit": self.policy.max_acu_limit,
                "acu_budget": self.policy.acu_budget,
                "terminate_on_kill": self.terminate_on_kill,
                "poll_error_window": self.poll_error_window,
                "reply_pending": self.reply_pending,
                "position": self.position,
                "handover": self.handover,
                "previous_class": self.previous_class,
                "last_status": self.last_status,
                "url": self.url,
                "deadline_limit": self.deadline_limit,
            },
        )

    def _hook(self) -> Any:
        from airflow_provider_devin.hooks.devin import DevinHook

        return DevinHook(devin_conn_id=self.devin_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the wait ends and yield exactly one event."""
        event = await self._wait()
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        sid = self.session_id
        watch = SessionWatch(
            self.policy,
            sid,
            self.log,
            position=MessagePosition.decode(self.position),
            previous_class=self.previous_class,
            reply_pending=self.reply_pending,
            last_status=self.last_status,
        )
        self.log.info("Waiting on Devin session %s: %s", sid, self.url or "")
        outage = OutageWindow(self.poll_error_window)
        try:
            # One source of observations for the whole wait, released on every exit (event,
            # cancellation at triggerer shutdown, error): on v3 a subscription to the connection's
            # shared batch poller, on v1 this trigger's own reads (triggers/_poller.py). Either
            # way every request passes the connection's backoff gate.
            source_cm = open_poll_source(self._hook(), sid, watch.position, self.poll_interval, self._handover)
            async with source_cm as source:
                while True:
                    if self.deadline is not None and time.time() >= self.deadline:
                        return make_event(
                            WaitOutcome.TIMEOUT,
                            sid,
                            f"Devin session {sid} did not finish before the task's deadline; "
                            f"last status: {watch.last_status}.",
                            {"session_id": sid, "status_enum": None},
                            reason=self.deadline_limit,
                        )
                    started = outage.started()
                    try:
                        snapshot = await next_observation(source, self._poll_limit(outage, started, source.wait_bound))
                    except Exception as err:
                        if isinstance(err, asyncio.TimeoutError):
                            if self.deadline is not None and time.time() >= self.deadline:
                                continue  # held at the backoff gate past the deadline: time out now
                            err = _HeldBack(source.gate.paused_for())
                        elif not is_transient_poll_error(err):
                            return self._error_event(watch, f"Polling Devin session {sid} failed: {err}")
                        if outage.failed(started):
                            return self._error_event(
                                watch,
                                f"Polling Devin session {sid} kept failing for {outage.down_for():.0f} s "
                                f"(poll_error_window={self.poll_error_window:g} s); last error: {err}",
                            )
                        self.log.warning(
                            "Polling Devin failing for %.0f s of the %g s outage window, will retry: %s",
                            outage.down_for(),
                            self.poll_error_window,
                            err,
                        )
                    else:
                        outage.succeeded()
                        verdict = watch.observe(snapshot)
                        if verdict.outcome.is_terminal:
                            return verdict_event(verdict, sid, watch.summary(snapshot.view, self.url))
                        del snapshot  # keep per-trigger memory small while sleeping
                    await source.pause(self._sleep_for())
        except Exception as err:  # the connection lookup, or a bug: report it rather than hang
            return self._error_event(watch, f"Waiting on Devin session {sid} failed: {err!r}")

    def _poll_limit(self, outage: OutageWindow, started: float, wait_bound: float) -> float:
        """How long one poll may take: to the end of the outage window (but at least the source's
        own bound -- one request's timeout, plus an interval when a shared poller serves it -- so a
        short window still gets a real try) and no later than the deadline."""
        limit = max(outage.remaining(started), wait_bound)
        if self.deadline is not None:
            limit = min(limit, max(0.0, self.deadline - time.time()))
        return limit

    def _sleep_for(self) -> float:
        if self.deadline is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.deadline - time.time()))

    def _error_event(self, watch: SessionWatch, message: str) -> dict[str, Any]:
        return make_event(
            WaitOutcome.ERROR,
            self.session_id,
            f"{message} (last status: {watch.last_status}). The session itself was left alone; "
            "a retry of the task reattaches to it.",
            {"session_id": self.session_id, "status_enum": None},
        )

    async def on_kill(self) -> None:
        """Terminate the session when a user kills the deferred task (Airflow 3.3+), if configured.

        Never called on triggerer restarts or redistribution; :meth:`cleanup` (inherited, a no-op)
        runs then, and remote work is never cancelled there.
        """
        if not self.terminate_on_kill:
            self.log.info("Task killed; leaving Devin session %s running (terminate_on_kill=False).", self.session_id)
            return
        from airflow_provider_devin.exceptions import DevinAPIError

        try:
            async with self._hook().async_api() as api:
                await asyncio.wait_for(api.terminate_session(self.session_id), _ON_KILL_TIMEOUT)
        except DevinAPIError as err:
            # Most often the session had already ended; termination is best effort.
            self.log.warning("Could not terminate Devin session %s on kill: %s", self.session_id, err)
        except asyncio.TimeoutError:
            self.log.warning("Terminating Devin session %s on kill timed out.", self.session_id)
        else:
            self.log.info("Terminated Devin session %s because the task was killed.", self.session_id)
