"""The one status policy shared by the operators, the sensor and the trigger.

It reads the normalised :class:`~airflow_provider_devin.session.SessionView` (the hook's readers
classify v1's ``status_enum`` and v3's ``status`` + ``status_detail`` into a
:class:`~airflow_provider_devin.session.StatusClass`), so the sync wait, the sensor and the async
trigger make the same decision on the same session, on either API version. Pure logic, no I/O.

Decisions (``devin-api-v3.md`` §4.6):

* ``FINISHED`` -> success.
* ``NEEDS_HUMAN`` (v1 ``blocked``; v3 ``waiting_for_user`` / ``waiting_for_approval``) -> per
  ``on_blocked``: ``"succeed"`` (default; Devin parks there after it delivers), ``"fail"``, or
  ``"wait"`` (a human answers in the Devin UI) or ``"human"`` (the wait ends ``blocked`` and the
  operator asks a person through Airflow's human-in-the-loop: ``operators/_human.py``).
* ``IDLE`` (v3 ``suspended`` + ``inactivity``) is decided from the previous state: after
  ``FINISHED`` it is a success, after ``NEEDS_HUMAN`` it is treated as ``NEEDS_HUMAN``; when the
  previous state is unknown (the first look) it is read as "Devin stopped and waits", i.e. as
  ``NEEDS_HUMAN`` [a reading: the contract does not say]; after working, as ``PAUSED``.
* ``EXITED`` (v3 ``exit``) -> success when the previous state was ``FINISHED``, else failure.
* ``CANCELLED`` (v3 ``user_request``) and ``OUT_OF_BUDGET`` (the budget/credit/quota suspend
  reasons) -> failure that is **not retried** (a retry cannot fix it; the message names the reason).
* ``FAILED`` -> failure.
* ``PAUSED`` (v1 ``suspend_requested*``, reason unknown) -> keep waiting, fail once the session has
  stayed suspended for ``suspend_stall_timeout`` seconds.
* ``WORKING`` -> still running; ``UNKNOWN`` (``null`` or a value this release does not know) -> still
  running, logged once as a warning.
* A client-side ``acu_budget``: once ``acus_consumed`` passes it, the wait fails (not retried) and
  the operator terminates the session.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from airflow_provider_devin.session import MessagePosition, SessionSnapshot, SessionView, StatusClass
from airflow_provider_devin.validation import (
    DEFAULT_POLL_ERROR_WINDOW,
    DEFAULT_SUSPEND_STALL_TIMEOUT,
    validate_on_blocked,
)

__all__ = [
    "DEFAULT_POLL_ERROR_WINDOW",
    "DEFAULT_SUSPEND_STALL_TIMEOUT",
    "EVENT_STATUSES",
    "OnBlocked",
    "OutageWindow",
    "SessionWatch",
    "StatusPolicy",
    "Verdict",
    "WaitOutcome",
    "is_transient_poll_error",
    "make_event",
    "session_summary",
    "validate_event",
    "verdict_event",
]

#: Longest Devin message text written to a log line.
MESSAGE_LOG_LIMIT = 300

#: Event ``reason`` for a wait stopped by the client-side ACU budget.
REASON_ACU_BUDGET = "acu_budget"


class OnBlocked(str, Enum):
    """What a wait does when Devin waits for a person (v1 ``blocked``; v3 ``waiting_for_*``)."""

    SUCCEED = "succeed"
    FAIL = "fail"
    WAIT = "wait"
    #: Ask a person through Airflow's human-in-the-loop (Airflow 3.1+; see ``operators/_human.py``).
    HUMAN = "human"

    @classmethod
    def coerce(cls, value: str | OnBlocked, *, field: str = "on_blocked") -> OnBlocked:
        """Validate a user-supplied value.

        :param value: ``"succeed"``, ``"fail"``, ``"wait"`` or ``"human"`` (or a member).
        :param field: parameter name used in the error message.
        :raises ValueError: naming ``field`` when the value is not one of them.
        """
        return cls(validate_on_blocked(value, field))


class WaitOutcome(str, Enum):
    """Result of one look at a session, and (minus ``RUNNING``) the trigger's event statuses."""

    RUNNING = "running"
    SUCCESS = "success"
    BLOCKED = "blocked"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def is_terminal(self) -> bool:
        """True when the wait is over (anything but ``RUNNING``)."""
        return self is not WaitOutcome.RUNNING


#: The only statuses a DevinSessionTrigger event may carry.
EVENT_STATUSES = frozenset(o.value for o in WaitOutcome if o.is_terminal)


@dataclass(frozen=True)
class Verdict:
    """A policy decision.

    :param outcome: what the waiter should do.
    :param status_class: the class it was based on.
    :param message: a sentence for the log or the task failure; empty while running.
    :param retryable: ``False`` when an Airflow retry cannot help (out of budget, cancelled, ACU budget).
    :param reason: a machine-readable cause for failures the operator acts on (``"acu_budget"``).
    """

    outcome: WaitOutcome
    status_class: StatusClass
    message: str = ""
    retryable: bool = True
    reason: str | None = None


_RUNNING_CLASSES = (StatusClass.WORKING, StatusClass.UNKNOWN)


@dataclass(frozen=True)
class StatusPolicy:
    """How a wait interprets a session's state.

    :param on_blocked: ``"succeed"`` (default), ``"fail"``, ``"wait"`` or ``"human"`` (the wait ends
        ``blocked``, as with ``"fail"``; the operator then asks a person).
    :param suspend_stall_timeout: seconds a session may stay suspended (reason unknown) before the
        wait fails; must be > 0.
    :param max_acu_limit: the session's ACU cap, if known; only used to word messages.
    :param acu_budget: client-side ACU budget: past it the wait fails (``None`` = no budget).
    """

    on_blocked: OnBlocked = OnBlocked.SUCCEED
    suspend_stall_timeout: float = DEFAULT_SUSPEND_STALL_TIMEOUT
    max_acu_limit: int | None = None
    acu_budget: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "on_blocked", OnBlocked.coerce(self.on_blocked))
        stall = self.suspend_stall_timeout
        if isinstance(stall, bool) or not isinstance(stall, (int, float)) or stall <= 0:
            raise ValueError(f"suspend_stall_timeout must be a positive number of seconds, got {stall!r}")
        budget = self.acu_budget
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
            raise ValueError(f"acu_budget must be a positive number of ACUs, got {budget!r}")

    def resolve(self, current: StatusClass, previous: StatusClass | None) -> StatusClass:
        """Resolve the classes that depend on what came before (``IDLE``, ``EXITED``).

        :param current: the class of this observation.
        :param previous: the last resolved class seen before it, or ``None`` on the first look.
        """
        if current is StatusClass.IDLE:
            if previous is StatusClass.FINISHED:
                return StatusClass.FINISHED
            if previous in (None, StatusClass.NEEDS_HUMAN):
                return StatusClass.NEEDS_HUMAN
            return StatusClass.PAUSED
        if current is StatusClass.EXITED:
            return StatusClass.FINISHED if previous is StatusClass.FINISHED else StatusClass.FAILED
        return current

    def decide(
        self,
        view: SessionView,
        *,
        resolved: StatusClass | None = None,
        suspended_for: float | None = None,
    ) -> Verdict:
        """Classify one observation of a session.

        :param view: the session.
        :param resolved: its class after :meth:`resolve` (default: ``view.status_class`` as is).
        :param suspended_for: seconds the session has been seen ``PAUSED`` without interruption.
        """
        sid = view.session_id
        cls = resolved or view.status_class
        label = view.status_label
        budget = self._budget_verdict(view, cls)
        if budget is not None:
            return budget
        if cls is StatusClass.FINISHED:
            return Verdict(WaitOutcome.SUCCESS, cls, f"Devin session {sid} finished ({label}).")
        if cls is StatusClass.NEEDS_HUMAN:
            if self.on_blocked is OnBlocked.WAIT:
                return Verdict(WaitOutcome.RUNNING, cls)
            return Verdict(
                WaitOutcome.BLOCKED,
                cls,
                f"Devin session {sid} is waiting for a person ({label}) (on_blocked={self.on_blocked.value!r}).",
            )
        if cls is StatusClass.OUT_OF_BUDGET:
            return Verdict(
                WaitOutcome.FAILED,
                cls,
                f"Devin session {sid} was suspended by Devin: {view.status_detail or label} (out of ACUs, credits, "
                f"quota or payment{self._cap_hint()}). Retrying cannot fix this: raise the limit or add credits in "
                "Devin, then clear the task to start a new session.",
                retryable=False,
            )
        if cls is StatusClass.CANCELLED:
            return Verdict(
                WaitOutcome.FAILED,
                cls,
                f"Devin session {sid} was stopped by a person in Devin ({label}); treating it as cancelled. Clear the "
                "task to start a new session.",
                retryable=False,
            )
        if cls is StatusClass.FAILED:
            return Verdict(
                WaitOutcome.FAILED,
                cls,
                f"Devin session {sid} ended without finishing ({label}); it cannot continue. Open it in the Devin UI "
                "to see how far it got; a retry of the task starts a new session.",
            )
        if cls is StatusClass.PAUSED and suspended_for is not None and suspended_for >= self.suspend_stall_timeout:
            return Verdict(WaitOutcome.FAILED, cls, self._stall_message(view, suspended_for))
        return Verdict(WaitOutcome.RUNNING, cls)

    def blocked_is_success(self) -> bool:
        """True when a ``blocked`` outcome ends the wait successfully (``on_blocked="succeed"``)."""
        return self.on_blocked is OnBlocked.SUCCEED

    def _budget_verdict(self, view: SessionView, cls: StatusClass) -> Verdict | None:
        used = view.acus_consumed
        if self.acu_budget is None or used is None or used <= self.acu_budget:
            return None
        return Verdict(
            WaitOutcome.FAILED,
            cls,
            f"Devin session {view.session_id} has consumed {used:g} ACUs, more than acu_budget={self.acu_budget:g} "
            f"(status {view.status_label}). Not retried: raise acu_budget and clear the task to run it again.",
            retryable=False,
            reason=REASON_ACU_BUDGET,
        )

    def _cap_hint(self) -> str:
        return f"; the session's max_acu_limit was {self.max_acu_limit}" if self.max_acu_limit is not None else ""

    def _stall_message(self, view: SessionView, suspended_for: float) -> str:
        acu = (
            f"the session's max_acu_limit ({self.max_acu_limit} ACUs) was reached"
            if self.max_acu_limit is not None
            else "an ACU limit was reached"
        )
        who = " A human paused it from the Devin web app." if str(view.status).endswith("_frontend") else ""
        return (
            f"Devin session {view.session_id} has been suspended ({view.status_label}) for {suspended_for:.0f}s, "
            f"longer than suspend_stall_timeout={self.suspend_stall_timeout:.0f}s.{who} Devin gave no reason; "
            f"likely causes: {acu}, the organisation's ACU quota is exhausted, the session went to sleep after "
            "inactivity, or a human paused it. Check the session in the Devin UI; sending it a message resumes it."
        )


def session_summary(
    view: SessionView, *, url: str | None = None, last_devin_message: str | None = None
) -> dict[str, Any]:
    """The small, JSON-serialisable view of a session that events, XCom and task results carry.

    :param view: the session.
    :param url: its web URL, when known (default: the one the response carried).
    :param last_devin_message: Devin's latest message, when known.
    """
    return {
        "session_id": view.session_id,
        "url": url or view.url,
        "status_enum": view.status_enum,
        "status": view.status,
        "status_detail": view.status_detail,
        "title": view.title,
        "structured_output": view.structured_output,
        "pull_request_url": view.pull_request_url,
        "pull_request_urls": list(view.pull_request_urls),
        "pull_requests": [
            {"url": url, "state": state}
            for url, state in zip(
                view.pull_request_urls,
                view.pull_request_states or (None,) * len(view.pull_request_urls),
                strict=False,
            )
        ],
        "acus_consumed": view.acus_consumed,
        "last_devin_message": last_devin_message,
    }


class SessionWatch:
    """The state of one wait on one session: what has been seen and logged so far.

    It turns each :class:`~airflow_provider_devin.session.SessionSnapshot` into a :class:`Verdict`,
    logs each status change and each new Devin message once (never one line per poll), warns once per
    unknown status, resolves the states that depend on the previous one, and times how long the
    session has been suspended. Memory stays small: the last status, the message position and the
    last Devin message; no session JSON is kept.

    :param policy: the status policy.
    :param session_id: the session being watched.
    :param log: where progress lines go (a logger with ``info``/``warning``).
    :param position: where reading the conversation starts (messages before it were logged already).
    :param previous_class: the last resolved class an earlier process saw (carried across a deferral).
    :param reply_pending: a message was just sent: a ``FINISHED``/``NEEDS_HUMAN`` state only ends the
        wait once Devin wrote something new or the session was seen working since (the old state may
        still be visible before Devin reads the message).
    :param suspended_since: epoch seconds the session was first seen suspended by an earlier process.
    :param last_status: the last status an earlier process logged (only changes from it are logged).
    :param clock: a wall clock in epoch seconds (tests inject a fake one).
    """

    __slots__ = (
        "_clock",
        "_warned",
        "last_devin_message",
        "last_label",
        "log",
        "policy",
        "position",
        "previous_class",
        "reply_pending",
        "session_id",
        "suspended_since",
    )

    def __init__(
        self,
        policy: StatusPolicy,
        session_id: str,
        log: Any,
        *,
        position: MessagePosition | None = None,
        previous_class: StatusClass | str | None = None,
        reply_pending: bool = False,
        suspended_since: float | None = None,
        last_status: str | None = None,
        clock: Any = time.time,
    ) -> None:
        self.policy = policy
        self.session_id = session_id
        self.log = log
        self.position = position or MessagePosition()
        self.previous_class = _parse_class(previous_class)
        self.reply_pending = reply_pending
        self.suspended_since = suspended_since
        self._clock = clock
        self.last_label: str | None = last_status
        self.last_devin_message: str | None = None
        self._warned: set[str] = set()

    @property
    def last_status(self) -> str:
        """The last status seen, as text (``"not polled yet"`` before any poll)."""
        return self.last_label if self.last_label is not None else "not polled yet"

    def observe(self, snapshot: SessionSnapshot) -> Verdict:
        """Record one read of the session and decide.

        :param snapshot: the session plus its messages since the last read.
        """
        view = snapshot.view
        now = self._clock()
        self._log_messages(snapshot)
        label = view.status_label
        if label != self.last_label:
            self.log.info("Devin status: %s", label if self.last_label is None else f"{self.last_label} -> {label}")
            self.last_label = label
        if view.status_class is StatusClass.UNKNOWN and label not in self._warned and len(self._warned) < 16:
            self._warned.add(label)
            self.log.warning("Devin reports status %s, which this provider does not know; still waiting.", label)
        resolved = self.policy.resolve(view.status_class, self.previous_class)
        if resolved is StatusClass.PAUSED:
            if self.suspended_since is None:
                self.suspended_since = now
        else:
            self.suspended_since = None
        suspended_for = None if self.suspended_since is None else now - self.suspended_since
        verdict = self.policy.decide(view, resolved=resolved, suspended_for=suspended_for)
        if resolved not in (StatusClass.UNKNOWN,):
            self.previous_class = resolved
        if self.reply_pending:
            if resolved in _RUNNING_CLASSES or any(m.from_devin for m in snapshot.new_messages):
                self.reply_pending = False
            elif verdict.outcome in (WaitOutcome.SUCCESS, WaitOutcome.BLOCKED):
                # Devin has not read the message yet: the state on screen is the old one.
                return Verdict(WaitOutcome.RUNNING, resolved)
        return verdict

    def summary(self, view: SessionView, url: str | None = None) -> dict[str, Any]:
        """:func:`session_summary` of ``view`` with the last Devin message this watch saw.

        A state decided from the previous one (v3 ``inactivity`` or ``exit`` after ``finished``) is
        reported as what it was decided to be, so a success never reads ``status_enum="expired"``.

        :param view: the session as last read.
        :param url: its web page, when known.
        """
        resolved = self.previous_class
        if view.status_class in (StatusClass.IDLE, StatusClass.EXITED) and resolved is not None:
            view = dataclasses.replace(view, status_enum=resolved.v1_word)
        return session_summary(view, url=url, last_devin_message=self.last_devin_message)

    def _log_messages(self, snapshot: SessionSnapshot) -> None:
        for message in snapshot.new_messages:
            if not message.from_devin:
                continue
            text = " ".join(message.text.split())
            self.last_devin_message = message.text
            if len(text) > MESSAGE_LOG_LIMIT:
                text = text[: MESSAGE_LOG_LIMIT - 1] + "…"
            self.log.info("Devin: %s", text)
        self.position = snapshot.position


def _parse_class(value: StatusClass | str | None) -> StatusClass | None:
    if value is None or isinstance(value, StatusClass):
        return value
    try:
        return StatusClass(value)
    except ValueError:
        return None


def make_event(
    status: WaitOutcome | str,
    session_id: str,
    message: str,
    summary: Mapping[str, Any] | None = None,
    *,
    retryable: bool = True,
    reason: str | None = None,
) -> dict[str, Any]:
    """Build the payload of a wait's single event (the trigger yields it; the sync path reuses it).

    Schema: ``{"status": one of EVENT_STATUSES, "session_id": str, "message": str, "summary":
    session_summary(...) or {"session_id", "status_enum"}, "retryable": bool, "reason": str | None}``.

    :param status: a terminal :class:`WaitOutcome`.
    :param session_id: the session waited on.
    :param message: a sentence for the log / task failure.
    :param summary: the last session summary, if one was fetched.
    :param retryable: ``False`` when an Airflow retry cannot help.
    :param reason: a machine-readable cause the operator acts on (``"acu_budget"``).
    """
    value = WaitOutcome(status).value
    if value not in EVENT_STATUSES:
        raise ValueError(f"event status must be one of {sorted(EVENT_STATUSES)}, got {value!r}")
    return {
        "status": value,
        "session_id": session_id,
        "message": message,
        "summary": dict(summary) if summary is not None else {"session_id": session_id, "status_enum": None},
        "retryable": bool(retryable),
        "reason": reason,
    }


def verdict_event(verdict: Verdict, session_id: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The event that ends a wait on ``verdict`` (a terminal one): :func:`make_event` with its fields.

    :param verdict: the terminal decision.
    :param session_id: the session waited on.
    :param summary: the session summary at that moment.
    """
    return make_event(
        verdict.outcome, session_id, verdict.message, summary, retryable=verdict.retryable, reason=verdict.reason
    )


def validate_event(event: object, expected_session_id: str) -> dict[str, Any]:
    """Check an event before acting on it; anything unexpected fails loudly instead of passing.

    :param event: the payload handed to ``execute_complete``.
    :param expected_session_id: the session the task deferred on.
    :raises ValueError: when the payload is not a dict, its status is not one of
        :data:`EVENT_STATUSES`, or it is about another session.
    """
    if not isinstance(event, Mapping):
        raise ValueError(f"Expected a Devin session event (a dict), got {type(event).__name__}: {event!r:.200}")
    status = event.get("status")
    if status not in EVENT_STATUSES:
        raise ValueError(
            f"Devin session event has unknown status {status!r} (expected one of {sorted(EVENT_STATUSES)}); "
            f"refusing to treat it as success. Event: {dict(event)!r:.300}"
        )
    if event.get("session_id") != expected_session_id:
        raise ValueError(
            f"Devin session event is about session {event.get('session_id')!r}, but this task waits on "
            f"{expected_session_id!r}; refusing to use it."
        )
    summary = event.get("summary")
    if not isinstance(summary, Mapping):
        raise ValueError(f"Devin session event for {expected_session_id} has no summary: {dict(event)!r:.300}")
    checked = dict(event)
    checked.setdefault("retryable", True)
    checked.setdefault("reason", None)
    return checked


def is_transient_poll_error(error: BaseException) -> bool:
    """True when a failed status poll is worth repeating later (no answer, 429, 5xx, unreadable body).

    Authentication, permission, not-found and validation errors are not: they will not fix
    themselves, so the wait ends with an ``error`` event at once.

    :param error: the exception raised by the hook.
    """
    from airflow_provider_devin.exceptions import DevinAPIError

    return isinstance(error, DevinAPIError) and error.is_transient


class OutageWindow:
    """A wait's error budget, in time: its polls may fail transiently for ``window`` seconds in a row.

    The outage starts when the first failing poll of a run started (a poll held back by the shared
    backoff gate counts from when it was begun) and ends with the next successful poll.

    :param window: Seconds of failing polls tolerated (``0``: the first failed poll ends the wait).
    :param clock: Monotonic clock.
    """

    def __init__(self, window: float, clock: Any = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self.since: float | None = None

    def started(self) -> float:
        """Note that a poll begins; return the time its outage would count from."""
        now = self._clock()
        return now if self.since is None else self.since

    def remaining(self, poll_started: float) -> float:
        """Seconds left in the window for a poll begun at ``poll_started``.

        :param poll_started: When the poll began (from :meth:`started`).
        """
        return max(0.0, poll_started + self.window - self._clock())

    def failed(self, poll_started: float) -> bool:
        """Record a transient failure; True when the window is used up (the wait should give up).

        :param poll_started: When the failed poll began (the outage starts then if none is running).
        """
        if self.since is None:
            self.since = poll_started
        return self.down_for() >= self.window

    def down_for(self) -> float:
        """Seconds the current outage has lasted (``0.0`` when the last poll succeeded)."""
        return 0.0 if self.since is None else self._clock() - self.since

    def succeeded(self) -> None:
        """A poll succeeded: the outage, if any, is over."""
        self.since = None
