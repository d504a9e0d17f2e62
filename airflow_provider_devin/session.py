"""The normalised session view: what everything above the hook reads, whatever the API version.

Devin's v1 and v3 APIs describe a session differently (v1: one ``status_enum``, one
``pull_request``, the whole conversation in every ``GET``; v3: ``status`` + ``status_detail``, a
``pull_requests`` list, ``acus_consumed``, messages behind their own cursor-paged endpoint). The
per-version readers in ``hooks/_v1.py`` and ``hooks/_v3.py`` turn each into a :class:`SessionView`,
so the operators, the sensor, the trigger and the status policy never branch on the API version.

Pure data, no I/O: cheap to import (DAG files import the operators on every parse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "UPDATED_AT_RESOLUTION",
    "V3_BUDGET_DETAILS",
    "Handover",
    "MessagePosition",
    "SessionMessage",
    "SessionSnapshot",
    "SessionView",
    "StatusClass",
]

#: The v3 ``status_detail`` words of a session ``suspended`` for want of ACUs, credits, quota or
#: payment (``devin-api-v3.md`` §4.6): :attr:`StatusClass.OUT_OF_BUDGET`, never retried. The
#: emulator has a scenario for each.
V3_BUDGET_DETAILS = (
    "usage_limit_exceeded",
    "out_of_credits",
    "out_of_quota",
    "no_quota_allocation",
    "payment_declined",
    "org_usage_limit_exceeded",
    "user_usage_limit_exceeded",
    "total_session_limit_exceeded",
)


class StatusClass(str, Enum):
    """What a session's state means for a wait (``devin-api-v3.md`` §4.6; v1 mapped onto it).

    The per-version readers classify each observation; two classes depend on what was seen
    before and are resolved by the policy (``status.SessionWatch``): ``IDLE`` (v3 ``suspended`` +
    ``inactivity``) and ``EXITED`` (v3 ``exit``).
    """

    #: Devin is on it (v1 ``working``/``resume*``; v3 ``new``/``claimed``/``resuming``/``running``+``working``).
    WORKING = "working"
    #: The turn is done (v1 ``finished``; v3 ``running``+``finished``).
    FINISHED = "finished"
    #: Devin waits for a person (v1 ``blocked``; v3 ``waiting_for_user``/``waiting_for_approval``).
    NEEDS_HUMAN = "needs_human"
    #: Suspended for a reason the API does not give (v1 ``suspend_requested*``): a stall timer decides.
    PAUSED = "paused"
    #: v3 ``suspended`` + ``inactivity``: success or needs-a-human, depending on the previous state.
    IDLE = "idle"
    #: v3 ``exit``: success after ``finished``, a failure otherwise.
    EXITED = "exited"
    #: A person stopped it (v3 ``suspended`` + ``user_request``).
    CANCELLED = "cancelled"
    #: Out of ACUs, credits, quota or payment (v3 budget ``status_detail`` values): never retried.
    OUT_OF_BUDGET = "out_of_budget"
    #: It cannot continue (v1 ``expired``; v3 ``error``, ``suspended`` + ``error``).
    FAILED = "failed"
    #: A value this release does not know (or ``null``): keep waiting, warn once.
    UNKNOWN = "unknown"

    @property
    def v1_word(self) -> str | None:
        """The class in v1's ``status_enum`` vocabulary (``None`` for ``UNKNOWN``)."""
        return _V1_WORDS.get(self)


_V1_WORDS = {
    StatusClass.WORKING: "working",
    StatusClass.FINISHED: "finished",
    StatusClass.NEEDS_HUMAN: "blocked",
    StatusClass.FAILED: "expired",
    StatusClass.EXITED: "expired",
    StatusClass.PAUSED: "suspend_requested",
    StatusClass.IDLE: "suspend_requested",
    StatusClass.CANCELLED: "suspend_requested",
    StatusClass.OUT_OF_BUDGET: "suspend_requested",
}


@dataclass(frozen=True)
class SessionMessage:
    """One message of the conversation, oldest first.

    :param event_id: Devin's id for it (used to log each message once).
    :param source: ``"devin"`` for Devin's own messages, ``"user"`` for people and the API.
    :param text: the message text.
    :param created_at: as Devin sent it (v1 ISO string, v3 epoch seconds).
    """

    event_id: str | None
    source: str
    text: str
    created_at: Any = None

    @property
    def from_devin(self) -> bool:
        """True for Devin's own messages."""
        return self.source == "devin"


@dataclass(frozen=True)
class SessionView:
    """One observation of a session, in the provider's own words.

    :param session_id: as Devin returned it (``devin-…``).
    :param status_class: what the state means for a wait.
    :param status: the raw coarse status (v1 ``status_enum``; v3 ``status``).
    :param status_detail: the raw reason (v3 ``status_detail``; ``None`` on v1).
    :param status_enum: the state in v1's vocabulary (``working``, ``blocked``, ``finished``, …; on
        v3 derived from the class), kept so results read the same on both versions.
    :param url: the session's web page, when the response carries it.
    :param title: the session title.
    :param tags: the session's tags.
    :param pull_request_urls: every pull request Devin opened (v1 has at most one).
    :param structured_output: the session's structured output, if any.
    :param acus_consumed: ACUs used so far (v3; ``None`` on v1).
    :param updated_at: last change, as Devin sent it (v1 ISO string, v3 epoch seconds).
    :param created_at: creation time, as Devin sent it.
    :param is_archived: v3 ``is_archived`` (``False`` on v1).
    :param pull_request_states: each pull request's ``pr_state`` (v3; ``None`` where unknown), in the
        order of ``pull_request_urls``.
    :param playbook_id: the playbook the session follows.
    :param org_id: the organisation (v3).
    :param user_id: the user it runs as (v3).
    :param service_user_id: the service user that created it (v3).
    :param parent_session_id: the parent of a child session (v3).
    :param child_session_ids: its child sessions (v3).
    :param origin: where it was started (v3: ``api``, ``webapp``, ``slack``, ...).
    :param category: Devin's category of the work (v3).
    :param subcategory: Devin's subcategory (v3).
    :param devin_mode: the mode it runs in (v3: ``normal``, ``fast``, ...).
    :param automation_id: the automation that started it (v3).
    :param messages: the conversation when the response carries it (v1 details); empty otherwise.
    """

    session_id: str
    status_class: StatusClass
    status: str | None
    status_detail: str | None = None
    status_enum: str | None = None
    url: str | None = None
    title: str | None = None
    tags: tuple[str, ...] = ()
    pull_request_urls: tuple[str, ...] = ()
    structured_output: Any = None
    acus_consumed: float | None = None
    updated_at: Any = None
    created_at: Any = None
    is_archived: bool = False
    pull_request_states: tuple[str | None, ...] = ()
    playbook_id: str | None = None
    org_id: str | None = None
    user_id: str | None = None
    service_user_id: str | None = None
    parent_session_id: str | None = None
    child_session_ids: tuple[str, ...] = ()
    origin: str | None = None
    category: str | None = None
    subcategory: str | None = None
    devin_mode: str | None = None
    automation_id: str | None = None
    messages: tuple[SessionMessage, ...] = field(default=(), repr=False)

    @property
    def status_label(self) -> str:
        """``status`` or ``status/status_detail`` as text, for log lines (``"none"`` for null)."""
        status = "none" if self.status is None else str(self.status)
        return status if self.status_detail is None else f"{status}/{self.status_detail}"

    @property
    def pull_request_url(self) -> str | None:
        """The first pull request's URL (what v1 calls ``pull_request.url``)."""
        return self.pull_request_urls[0] if self.pull_request_urls else None


@dataclass(frozen=True)
class MessagePosition:
    """Where a reader of the conversation stands: an opaque cursor plus the last message seen.

    Carried between polls and across deferrals (as :meth:`encode`'d text, never message text) so
    each Devin message is logged once, in order. ``cursor`` is the v3 ``after`` cursor of the page
    holding ``last_event_id`` (v3 sends no cursor past the last page), or on v1 the number of
    messages already read.

    :param cursor: where to resume reading; ``None`` = from the start.
    :param last_event_id: the newest message already handled on that page.
    """

    cursor: str | None = None
    last_event_id: str | None = None

    def encode(self) -> str | None:
        """A short string for trigger kwargs (``None`` for the start)."""
        if self.cursor is None and self.last_event_id is None:
            return None
        return f"{self.cursor or ''}|{self.last_event_id or ''}"

    @classmethod
    def decode(cls, value: str | None) -> MessagePosition:
        """The inverse of :meth:`encode`; anything unreadable means "from the start".

        :param value: a string :meth:`encode` returned, or ``None``.
        """
        if not isinstance(value, str) or "|" not in value:
            return cls()
        cursor, _, event_id = value.rpartition("|")
        return cls(cursor or None, event_id or None)


@dataclass(frozen=True)
class SessionSnapshot:
    """A :class:`SessionView` plus the messages that are new since a :class:`MessagePosition`.

    :param view: the session.
    :param new_messages: messages after the given position, oldest first.
    :param position: the position after them (pass it to the next read).
    :param messages_read_at: wall-clock time (epoch seconds) the last messages request was sent:
        every message Devin had written by then is behind ``position``. ``None`` when no messages
        endpoint was read (v1 carries them in the session; a batch poll that saw nothing change).
    """

    view: SessionView
    new_messages: tuple[SessionMessage, ...]
    position: MessagePosition
    messages_read_at: float | None = None

    def handover(self) -> list[Any] | None:
        """What a trigger needs to skip its first messages read: ``[updated_at, status,
        status_detail, messages_read_at]`` (plain JSON for trigger kwargs), or ``None`` when the
        messages were not read from their endpoint. See :class:`Handover`."""
        if self.messages_read_at is None:
            return None
        view = self.view
        return [view.updated_at, view.status, view.status_detail, self.messages_read_at]


@dataclass(frozen=True)
class Handover:
    """The last observation a worker (or an earlier wait) made, as a trigger receives it.

    A batch poll that shows the same ``updated_at``, status and detail needs no messages read when
    the messages were read at least one ``updated_at`` resolution (:data:`UPDATED_AT_RESOLUTION`)
    after that ``updated_at``: a message written later would have moved it.

    Reading (the v3 contract is silent): ``updated_at`` is integer epoch seconds on Devin's clock,
    and ``messages_read_at`` is this machine's clock. A clock ahead of Devin's can take a message
    written in the same second as unread-free; it is then logged at the session's next change
    (nothing is lost: the position still precedes it), and the end of a wait always reads the
    messages, since the status moves.

    :param seen: ``(updated_at, status, status_detail)`` as the worker saw them.
    :param settled: the worker read the messages a full resolution after that ``updated_at``.
    """

    seen: tuple[Any, Any, Any]
    settled: bool

    @classmethod
    def decode(cls, value: Any) -> Handover | None:
        """The handover in trigger kwargs; ``None`` for anything but what
        :meth:`SessionSnapshot.handover` returned.

        :param value: the ``handover`` trigger kwarg.
        """
        if not isinstance(value, list | tuple) or len(value) != 4:
            return None
        updated_at, status, detail, read_at = value
        numeric = (int, float)
        settled = (
            isinstance(updated_at, numeric)
            and not isinstance(updated_at, bool)
            and isinstance(read_at, numeric)
            and read_at >= updated_at + UPDATED_AT_RESOLUTION
        )
        return cls((updated_at, status, detail), settled)


#: The resolution of v3 ``updated_at`` (integer epoch seconds).
UPDATED_AT_RESOLUTION = 1.0
