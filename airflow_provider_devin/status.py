"""The one status policy shared by the operators, the sensor and the trigger.

Devin's v1 ``status_enum`` is an open set: it has nine documented values, it can be ``null``, and a
new value must never crash a DAG (closed lists of remote states are the commonest way polling
providers break). Everything here is pure logic with no I/O, so the sync wait loop, the sensor and
the async trigger make exactly the same decision on the same session.

Classification (v1):

* ``finished`` -> success.
* ``expired`` -> failure.
* ``blocked`` -> per ``on_blocked``: ``"succeed"`` (default; Devin parks in ``blocked`` after it
  delivers), ``"fail"``, or ``"wait"`` (keep waiting for a human to answer in the Devin UI).
* ``suspend_requested`` / ``suspend_requested_frontend`` -> keep waiting, but fail once the session
  has stayed suspended for ``suspend_stall_timeout`` seconds (v1 gives no reason for a suspension).
* ``working``, ``resume_requested*``, ``resumed``, ``null`` and any unknown value -> still running;
  a ``null`` or unknown value is logged once as a warning.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "DEFAULT_SUSPEND_STALL_TIMEOUT",
    "EVENT_STATUSES",
    "OnBlocked",
    "SessionStatus",
    "SessionWatch",
    "StatusPolicy",
    "Verdict",
    "WaitOutcome",
    "is_transient_poll_error",
    "make_event",
    "session_summary",
    "validate_event",
]

#: Seconds a session may stay ``suspend_requested*`` before the wait fails (30 minutes).
DEFAULT_SUSPEND_STALL_TIMEOUT = 30 * 60.0

#: Longest Devin message text written to a log line.
MESSAGE_LOG_LIMIT = 300


class SessionStatus(str, Enum):
    """Devin v1 ``status_enum`` values, plus ``UNKNOWN`` for ``null`` and values this release does not know.

    Use :meth:`parse`, which never raises: an unknown value becomes ``UNKNOWN`` (the raw value stays
    available to the caller for logging).
    """

    WORKING = "working"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    FINISHED = "finished"
    SUSPEND_REQUESTED = "suspend_requested"
    SUSPEND_REQUESTED_FRONTEND = "suspend_requested_frontend"
    RESUME_REQUESTED = "resume_requested"
    RESUME_REQUESTED_FRONTEND = "resume_requested_frontend"
    RESUMED = "resumed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> SessionStatus:
        """Map a raw ``status_enum`` to a member; ``None`` and anything unrecognised map to ``UNKNOWN``.

        :param value: the raw ``status_enum`` from a session response (any JSON value).
        """
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                return cls.UNKNOWN
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True for states Devin does not leave on its own (``finished``, ``expired``).

        ``blocked`` is not terminal: a human can answer and Devin goes back to ``working``; whether a
        wait stops there is the policy's decision (``on_blocked``).
        """
        return self in (SessionStatus.FINISHED, SessionStatus.EXPIRED)

    @property
    def is_suspended(self) -> bool:
        """True for ``suspend_requested`` and ``suspend_requested_frontend``."""
        return self in (SessionStatus.SUSPEND_REQUESTED, SessionStatus.SUSPEND_REQUESTED_FRONTEND)


class OnBlocked(str, Enum):
    """What a wait does when the session is ``blocked`` (Devin waits for user input)."""

    SUCCEED = "succeed"
    FAIL = "fail"
    WAIT = "wait"

    @classmethod
    def coerce(cls, value: str | OnBlocked, *, field: str = "on_blocked") -> OnBlocked:
        """Validate a user-supplied value.

        :param value: ``"succeed"``, ``"fail"`` or ``"wait"`` (or a member).
        :param field: parameter name used in the error message.
        :raises ValueError: naming ``field`` when the value is not one of the three.
        """
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in cls)
            raise ValueError(f"{field} must be one of {allowed}, got {value!r}") from None


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
    :param status: the parsed status it was based on.
    :param message: a sentence for the log or the task failure; empty while running.
    """

    outcome: WaitOutcome
    status: SessionStatus
    message: str = ""


@dataclass(frozen=True)
class StatusPolicy:
    """How a wait interprets Devin's ``status_enum``.

    :param on_blocked: ``"succeed"`` (default), ``"fail"`` or ``"wait"``.
    :param suspend_stall_timeout: seconds a session may stay ``suspend_requested*`` before the
        wait fails; must be > 0.
    :param max_acu_limit: the session's ACU cap, if known; only used to word the stall message.
    """

    on_blocked: OnBlocked = OnBlocked.SUCCEED
    suspend_stall_timeout: float = DEFAULT_SUSPEND_STALL_TIMEOUT
    max_acu_limit: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "on_blocked", OnBlocked.coerce(self.on_blocked))
        stall = self.suspend_stall_timeout
        if isinstance(stall, bool) or not isinstance(stall, (int, float)) or stall <= 0:
            raise ValueError(f"suspend_stall_timeout must be a positive number of seconds, got {stall!r}")

    def decide(self, raw_status: object, *, session_id: str, suspended_for: float | None = None) -> Verdict:
        """Classify one observation of a session.

        :param raw_status: the session's raw ``status_enum`` (``None`` and unknown values allowed).
        :param session_id: the session, for messages.
        :param suspended_for: seconds the session has been seen suspended without interruption, or
            ``None`` when it is not suspended.
        """
        status = SessionStatus.parse(raw_status)
        if status is SessionStatus.FINISHED:
            return Verdict(WaitOutcome.SUCCESS, status, f"Devin session {session_id} finished.")
        if status is SessionStatus.EXPIRED:
            return Verdict(
                WaitOutcome.FAILED,
                status,
                f"Devin session {session_id} expired; it cannot continue. Open it in the Devin UI to "
                "see how far it got, then re-run the task to start a new session.",
            )
        if status is SessionStatus.BLOCKED:
            if self.on_blocked is OnBlocked.WAIT:
                return Verdict(WaitOutcome.RUNNING, status)
            return Verdict(
                WaitOutcome.BLOCKED,
                status,
                f"Devin session {session_id} is blocked: Devin is waiting for a reply "
                f"(on_blocked={self.on_blocked.value!r}).",
            )
        if status.is_suspended and suspended_for is not None and suspended_for >= self.suspend_stall_timeout:
            return Verdict(WaitOutcome.FAILED, status, self._stall_message(session_id, status, suspended_for))
        return Verdict(WaitOutcome.RUNNING, status)

    def blocked_is_success(self) -> bool:
        """True when a ``blocked`` outcome ends the wait successfully (``on_blocked="succeed"``)."""
        return self.on_blocked is OnBlocked.SUCCEED

    def _stall_message(self, session_id: str, status: SessionStatus, suspended_for: float) -> str:
        acu = (
            f"the session's max_acu_limit ({self.max_acu_limit} ACUs) was reached"
            if self.max_acu_limit is not None
            else "an ACU limit was reached"
        )
        who = " A human paused it from the Devin web app." if status.value.endswith("_frontend") else ""
        return (
            f"Devin session {session_id} has been suspended ({status.value}) for {suspended_for:.0f}s, "
            f"longer than suspend_stall_timeout={self.suspend_stall_timeout:.0f}s.{who} The v1 API gives "
            f"no reason; likely causes: {acu}, the organisation's ACU quota is exhausted, the session went "
            "to sleep after inactivity, or a human paused it. Check the session in the Devin UI; sending "
            "it a message resumes it."
        )


def _last_devin_message(messages: object) -> str | None:
    if not isinstance(messages, list):
        return None
    for item in reversed(messages):
        if isinstance(item, Mapping) and item.get("type") == "devin_message":
            text = item.get("message")
            return text if isinstance(text, str) else None
    return None


def session_summary(details: Mapping[str, Any], *, url: str | None = None) -> dict[str, Any]:
    """The small, JSON-serialisable view of a session that events, XCom and task results carry.

    It drops the message history (only the last Devin message is kept), so it stays small.

    :param details: a ``GET /v1/sessions/{id}`` response.
    :param url: the session's web URL, when known (the details response has none).
    """
    pull_request = details.get("pull_request")
    pr_url = pull_request.get("url") if isinstance(pull_request, Mapping) else None
    return {
        "session_id": details.get("session_id"),
        "url": url,
        "status_enum": details.get("status_enum"),
        "title": details.get("title"),
        "structured_output": details.get("structured_output"),
        "pull_request_url": pr_url,
        "last_devin_message": _last_devin_message(details.get("messages")),
    }


class SessionWatch:
    """The state of one wait on one session: what has been seen and logged so far.

    It turns each ``GET`` response into a :class:`Verdict`, logs each status change and each new Devin
    message once (never one line per poll), warns once per unknown/``null`` status, and times how long
    the session has been suspended. Memory stays small: the last status, a counter and a bounded set
    of message ``event_id`` s; no session JSON is kept.

    :param policy: the status policy.
    :param session_id: the session being watched.
    :param log: where progress lines go (a logger with ``info``/``warning``).
    :param reply_after_index: when set, a ``finished``/``blocked`` state only ends the wait once Devin
        has written a message after position ``reply_after_index`` of the conversation, or the session
        was seen running since; used after sending a message, when the old state is still visible.
    :param suspended_since: epoch seconds the session was first seen suspended by an earlier
        process (a ``reschedule`` sensor keeps it between pokes), if any.
    :param clock: a wall clock in epoch seconds (tests inject a fake one).
    """

    __slots__ = (
        "_clock",
        "_messages_seen",
        "_seen_events",
        "_warned",
        "last_raw_status",
        "log",
        "policy",
        "reply_after_index",
        "saw_running",
        "session_id",
        "suspended_since",
    )

    _MAX_SEEN_EVENTS = 64

    def __init__(
        self,
        policy: StatusPolicy,
        session_id: str,
        log: Any,
        *,
        reply_after_index: int | None = None,
        suspended_since: float | None = None,
        clock: Any = time.time,
    ) -> None:
        self.policy = policy
        self.session_id = session_id
        self.log = log
        self.reply_after_index = reply_after_index
        self._clock = clock
        self.last_raw_status: object = _NOT_SEEN
        self.suspended_since: float | None = suspended_since
        self.saw_running = False
        self._warned: set[str] = set()
        self._messages_seen = 0
        # Insertion-ordered, so the oldest id is evicted first; no separate queue to keep.
        self._seen_events: dict[str, None] = {}

    @property
    def last_status(self) -> str:
        """The last raw status seen, as text (``"none"`` for null, ``"not polled yet"`` before any poll)."""
        if self.last_raw_status is _NOT_SEEN:
            return "not polled yet"
        return str(self.last_raw_status).lower() if self.last_raw_status is not None else "none"

    def observe(self, details: Mapping[str, Any]) -> Verdict:
        """Record one ``GET`` response and decide.

        :param details: the session details.
        """
        raw = details.get("status_enum")
        status = SessionStatus.parse(raw)
        now = self._clock()
        if self.last_raw_status is _NOT_SEEN:
            self.log.info("Devin session %s status: %s", self.session_id, raw)
            self.last_raw_status = raw
        elif raw != self.last_raw_status:
            self.log.info("Devin session %s status: %s -> %s", self.session_id, self.last_status, raw)
            self.last_raw_status = raw
        if status is SessionStatus.UNKNOWN:
            label = "null" if raw is None else str(raw)
            if label not in self._warned and len(self._warned) < 16:
                self._warned.add(label)
                self.log.warning(
                    "Devin session %s reports status_enum=%s, which this provider does not know; "
                    "treating it as still running.",
                    self.session_id,
                    label,
                )
        if status.is_suspended:
            if self.suspended_since is None:
                self.suspended_since = now
        else:
            self.suspended_since = None
        self._log_new_messages(details.get("messages"))
        suspended_for = None if self.suspended_since is None else now - self.suspended_since
        verdict = self.policy.decide(raw, session_id=self.session_id, suspended_for=suspended_for)
        if verdict.outcome is WaitOutcome.RUNNING:
            if status not in (SessionStatus.BLOCKED, SessionStatus.FINISHED):
                self.saw_running = True
            return verdict
        if verdict.outcome in (WaitOutcome.SUCCESS, WaitOutcome.BLOCKED) and not self._reply_seen(
            details.get("messages")
        ):
            # After a message was sent, the session may still show the state it had before Devin
            # read it; do not mistake that for the answer.
            return Verdict(WaitOutcome.RUNNING, status)
        return verdict

    def _reply_seen(self, messages: object) -> bool:
        if self.reply_after_index is None or self.saw_running:
            return True
        if not isinstance(messages, list):
            return False
        return any(
            isinstance(m, Mapping) and m.get("type") == "devin_message" for m in messages[self.reply_after_index + 1 :]
        )

    def _log_new_messages(self, messages: object) -> None:
        if not isinstance(messages, list):
            return
        # The conversation is oldest-first and only grows: start after what was already read, and
        # use event_ids (bounded) to guard against a reordered or trimmed history.
        start = self._messages_seen if self._messages_seen <= len(messages) else 0
        for item in messages[start:]:
            if not isinstance(item, Mapping):
                continue
            event_id = item.get("event_id")
            if isinstance(event_id, str):
                if event_id in self._seen_events:
                    continue
                self._remember(event_id)
            if item.get("type") != "devin_message":
                continue
            text = item.get("message")
            if not isinstance(text, str):
                continue
            text = " ".join(text.split())
            if len(text) > MESSAGE_LOG_LIMIT:
                text = text[: MESSAGE_LOG_LIMIT - 1] + "…"
            self.log.info("Devin (session %s): %s", self.session_id, text)
        self._messages_seen = len(messages)

    def _remember(self, event_id: str) -> None:
        self._seen_events[event_id] = None
        if len(self._seen_events) > self._MAX_SEEN_EVENTS:
            del self._seen_events[next(iter(self._seen_events))]


def make_event(
    status: WaitOutcome | str, session_id: str, message: str, summary: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the payload of a wait's single event (the trigger yields it; the sync path reuses it).

    Schema: ``{"status": one of EVENT_STATUSES, "session_id": str, "message": str,
    "summary": session_summary(...) or {"session_id", "status_enum"}}``.

    :param status: a terminal :class:`WaitOutcome`.
    :param session_id: the session waited on.
    :param message: a sentence for the log / task failure.
    :param summary: the last session summary, if one was fetched.
    """
    value = WaitOutcome(status).value
    if value not in EVENT_STATUSES:
        raise ValueError(f"event status must be one of {sorted(EVENT_STATUSES)}, got {value!r}")
    return {
        "status": value,
        "session_id": session_id,
        "message": message,
        "summary": dict(summary) if summary is not None else {"session_id": session_id, "status_enum": None},
    }


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
    return dict(event)


def is_transient_poll_error(error: BaseException) -> bool:
    """True when a failed status poll is worth repeating later (no answer, 429, 5xx, unreadable body).

    Authentication, permission, not-found and validation errors are not: they will not fix
    themselves, so the wait ends with an ``error`` event at once.

    :param error: the exception raised by the hook.
    """
    from airflow_provider_devin.exceptions import DevinAPIError, DevinResponseError

    if not isinstance(error, DevinAPIError):
        return False
    code = error.status_code
    return code is None or code == 429 or code >= 500 or isinstance(error, DevinResponseError)


class _NotSeen:
    def __repr__(self) -> str:
        return "<not seen>"


_NOT_SEEN: Any = _NotSeen()
