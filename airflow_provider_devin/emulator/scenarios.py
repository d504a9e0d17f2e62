"""How an emulated session behaves over time, seen through both API versions.

All times are **emulated seconds** (real seconds times the server's speed; the default speed is 60, so
60 emulated seconds pass in one real second). ``control.advance(seconds)`` jumps the clock.

**One status machine.** A session carries the v3 pair ``(status, status_detail)``; the v1
``status_enum`` is derived from it (:func:`v1_status_enum`), except where a scenario (or
``control.set_status``) pins a v1 value v3 cannot express; such a pin lasts until the derived
value changes. v3 → v1:

=====================================================  ======================
v3 ``status`` + ``status_detail``                      v1 ``status_enum``
=====================================================  ======================
``new``, ``claimed``, ``running`` + ``working``/null   ``working``
``running`` + ``waiting_for_user``/``_approval``       ``blocked``
``running`` + ``finished``                             ``finished``
``suspended`` + anything                               ``suspend_requested``
``resuming``                                           ``resume_requested``
``exit``, ``error``                                    ``expired``
``running`` + a detail v3 does not define              that detail, as is
a status v3 does not define                            that status, as is
=====================================================  ======================

Every session starts v3 ``new`` (v1 ``working``, legacy ``status="running"``) with the prompt as
its ``initial_user_message``. At 5 s Devin acknowledges and the session is ``running`` +
``working``. Then, counted from creation:

============================  ===================================================================
scenario                      timeline (emulated seconds after creation)
============================  ===================================================================
``finish``                    20 s, 40 s: progress; 60 s: a closing message, ``structured_output``
                              (given by the test, or derived from ``structured_output_schema``; see
                              "Structured output" in docs/emulator.md) and
                              ``running`` + ``finished`` (v1 ``finished``). The default.
``pull_request``              as ``finish``, plus at 50 s a pull request (v1 ``pull_request``, v3
                              ``pull_requests``) and a message with its link.
``blocked_question``          20 s: progress; 30 s: Devin asks a question: ``running`` +
                              ``waiting_for_user`` (v1 ``blocked``). A user message puts it back
                              to ``working`` at once; 5 s later Devin acknowledges, 20 s later
                              reports progress, 40 s later it is ``finished`` (structured output).
``waiting_for_approval``      as ``blocked_question`` but ``waiting_for_approval`` (v1 ``blocked``).
``two_questions``             as ``blocked_question``, but the first answer gets a second question
                              (5 s: acknowledgement, 20 s: the question, ``waiting_for_user``); the
                              second answer continues as in ``blocked_question``.
``three_questions``           as ``two_questions`` with one more question after the second answer.
``park_blocked``              as ``finish`` but at 60 s it parks in ``waiting_for_user`` (v1
                              ``blocked``), structured output set: what real Devin usually does.
``expire``                    20 s: progress; 30 s: ``exit`` (v1 ``expired``).
``error``                     20 s: progress; 30 s: ``error`` (v1 ``expired``).
``suspend``                   20 s: progress; 30 s: ``suspended`` + null (v1 ``suspend_requested``,
                              legacy ``status="suspended"``); it stays there.
``suspended_error``           as ``suspend`` with ``status_detail="error"``.
``user_request``              as ``suspend`` with ``user_request`` (a person paused it).
``usage_limit_exceeded``,     as ``suspend`` with that budget reason as ``status_detail`` (one
``out_of_credits``, ...       scenario per reason in :data:`BUDGET_REASONS`).
``inactivity_after_finish``   as ``finish``; 120 s: ``suspended`` + ``inactivity`` (v1
                              ``suspend_requested``).
``exit_after_finish``         as ``finish``; 120 s: ``exit`` (v1 ``expired``).
``working_forever``           20 s, 40 s: progress; stays ``working``.
``acu_hungry``                as ``working_forever`` but ACUs grow at 30 per emulated minute.
``unknown_status``            20 s: ``running`` + ``paused_for_review`` (v1 ``status_enum=
                              "paused_for_review"``, a value neither version defines); 40 s:
                              progress; 60 s: ``finished``.
``unknown_detail``            as ``unknown_status`` with ``running`` + ``waiting_for_ci``.
``unknown_v3_status``         as ``unknown_status`` with ``status="hibernating"`` (v1 the same).
``null_status``               v1 ``status_enum`` is ``null`` (legacy ``status="running"``) until
                              60 s: ``finished``; v3 follows ``finish``.
============================  ===================================================================

**ACUs** (v3 ``acus_consumed``) grow while the session works (``new``, ``claimed``, ``resuming``,
``running`` + ``working``/null/an unknown detail) at :data:`DEFAULT_ACU_RATE` per emulated minute
(``acu_hungry``: :data:`ACU_RATES`), and stop while it rests. When ``max_acu_limit`` is reached the
session is ``suspended`` + ``usage_limit_exceeded``.

Follow-up messages: a user message to a session resting in ``running`` + ``finished`` or
``waiting_*`` (other than an unanswered question) sets it ``working`` at once; 5 s later Devin
acknowledges and 30 s later it returns to the state it was in, with a closing message. A message to
a ``working`` session gets an acknowledgement 5 s later. v1: a message to a suspended, expired or
terminated session is not delivered (200 with a ``detail``). v3: a message to a suspended session
resumes it (``resuming``; at 5 s Devin acknowledges, ``running`` + ``working``; at 30 s
``finished``); an archived, exited or errored session refuses it (409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_devin.session import V3_BUDGET_DETAILS

DEFAULT_SCENARIO = "finish"

#: Marker for the prompt, e.g. ``"Fix the bug [emulator:scenario=pull_request]"``.
PROMPT_MARKER = re.compile(r"\[emulator:scenario=([A-Za-z0-9_\-]+)\]")
#: Tag prefix, e.g. ``tags=["emulator-scenario:expire"]``.
TAG_PREFIX = "emulator-scenario:"

#: The legacy free-form v1 ``status`` string shown next to each ``status_enum``.
LEGACY_STATUS = {
    "working": "running",
    "blocked": "blocked",
    "finished": "finished",
    "expired": "expired",
    "suspend_requested": "suspended",
    "suspend_requested_frontend": "suspended",
    "resume_requested": "resuming",
    "resume_requested_frontend": "resuming",
    "resumed": "running",
    "paused_for_review": "paused",
    None: "running",
}

V3_STATUSES = ("new", "claimed", "running", "exit", "error", "suspended", "resuming")
RUNNING_DETAILS = ("working", "waiting_for_user", "waiting_for_approval", "finished")
BUDGET_REASONS = V3_BUDGET_DETAILS
SUSPEND_DETAILS = ("inactivity", "user_request", *BUDGET_REASONS, "error")

#: ACUs per emulated minute of work, unless the scenario says otherwise.
DEFAULT_ACU_RATE = 0.5
ACU_RATES = {"acu_hungry": 30.0}

KEEP = object()  # "leave it as it is"
V3Status = tuple[str, Any]

NEW: V3Status = ("new", None)
WORKING: V3Status = ("running", "working")
FINISHED: V3Status = ("running", "finished")
WAITING: V3Status = ("running", "waiting_for_user")
APPROVAL: V3Status = ("running", "waiting_for_approval")
RESUMING: V3Status = ("resuming", None)
EXIT: V3Status = ("exit", None)


@dataclass(frozen=True)
class Step:
    """One scheduled change to a session, ``at`` emulated seconds after its phase began.

    :param v3: the new ``(status, status_detail)``, or None to keep it.
    :param status_enum: a v1 value to pin (see the module doc), or ``KEEP``.
    """

    at: float
    message: str | None = None
    v3: V3Status | None = None
    status_enum: Any = KEEP
    structured_output: bool = False
    pull_request: bool = False
    awaiting_answer: bool = False
    kind: str = field(default="scenario")


ACK = "I've received the task and I'm setting up the environment."
PROGRESS_1 = "Progress: I've read the relevant code and I'm making the changes."
PROGRESS_2 = "Progress: the changes are in; I'm running the tests now."
DONE = "Done: I made the requested changes and the tests pass."
DONE_PR = "Done: I made the requested changes, the tests pass, and the pull request is ready for review: {url}"
QUESTION = "Question: before I go on, which approach do you prefer? Please reply to this session."
SECOND_QUESTION = "One more question: should I also update the documentation? Please reply to this session."
APPROVAL_REQUEST = "I'd like your approval before I push these changes. Please reply to this session."
PARKED = "I've finished the task. Let me know if you'd like any changes."
PR_OPENED = "I've opened a pull request: {url}"
ANSWER_ACK = "Thanks for your answer, I'm continuing with the task."
FOLLOW_UP_ACK = "Got your message, I'm working on it."
FOLLOW_UP_DONE = "I've handled your follow-up."
WORKING_ACK = "Noted, I'll take that into account."
RESUMED_ACK = "I'm back; picking up where I left off."

_WORK = (Step(5, ACK, v3=WORKING), Step(20, PROGRESS_1), Step(40, PROGRESS_2))
_FINISH = Step(60, DONE, v3=FINISHED, structured_output=True)


def _suspended(detail: str | None) -> tuple[Step, ...]:
    return (*_WORK[:2], Step(30, v3=("suspended", detail)))


def _unknown(v3: V3Status) -> tuple[Step, ...]:
    return (Step(5, ACK, v3=WORKING), Step(20, v3=v3), Step(40, PROGRESS_2), _FINISH)


SCENARIOS: dict[str, tuple[Step, ...]] = {
    "finish": (*_WORK, _FINISH),
    "pull_request": (
        *_WORK,
        Step(50, PR_OPENED, pull_request=True),
        Step(60, DONE_PR, v3=FINISHED, structured_output=True),
    ),
    "blocked_question": (*_WORK[:2], Step(30, QUESTION, v3=WAITING, awaiting_answer=True)),
    "waiting_for_approval": (*_WORK[:2], Step(30, APPROVAL_REQUEST, v3=APPROVAL, awaiting_answer=True)),
    "two_questions": (*_WORK[:2], Step(30, QUESTION, v3=WAITING, awaiting_answer=True)),
    "three_questions": (*_WORK[:2], Step(30, QUESTION, v3=WAITING, awaiting_answer=True)),
    "park_blocked": (*_WORK, Step(60, PARKED, v3=WAITING, structured_output=True)),
    "expire": (*_WORK[:2], Step(30, v3=EXIT)),
    "error": (*_WORK[:2], Step(30, v3=("error", None))),
    "suspend": _suspended(None),
    "suspended_error": _suspended("error"),
    "user_request": _suspended("user_request"),
    **{reason: _suspended(reason) for reason in BUDGET_REASONS},
    "inactivity_after_finish": (*_WORK, _FINISH, Step(120, v3=("suspended", "inactivity"))),
    "exit_after_finish": (*_WORK, _FINISH, Step(120, v3=EXIT)),
    "working_forever": _WORK,
    "acu_hungry": _WORK,
    "unknown_status": _unknown(("running", "paused_for_review")),
    "unknown_detail": _unknown(("running", "waiting_for_ci")),
    "unknown_v3_status": _unknown(("hibernating", None)),
    "null_status": (*_WORK, _FINISH),
}

#: What happens after the user answers a ``blocked_question`` / ``waiting_for_approval``.
AFTER_ANSWER: tuple[Step, ...] = (
    Step(5, ANSWER_ACK),
    Step(20, PROGRESS_2),
    Step(40, DONE, v3=FINISHED, structured_output=True),
)

#: Questions a scenario asks in all (one answer each); scenarios not listed ask at most one.
QUESTIONS = {"two_questions": 2, "three_questions": 3}

#: What happens after an answer when the scenario has another question.
ASK_AGAIN: tuple[Step, ...] = (
    Step(5, ANSWER_ACK),
    Step(20, SECOND_QUESTION, v3=WAITING, awaiting_answer=True),
)

#: What happens after a v3 message resumes a suspended session.
AFTER_RESUME: tuple[Step, ...] = (
    Step(5, RESUMED_ACK, v3=WORKING, kind="follow_up"),
    Step(30, FOLLOW_UP_DONE, v3=FINISHED, kind="follow_up"),
)


def initial_v3(scenario: str) -> V3Status:
    return NEW


def initial_status_enum(scenario: str) -> Any:
    """The v1 value pinned at creation (``KEEP``: derived from v3)."""
    return None if scenario == "null_status" else KEEP


def acu_rate(scenario: str) -> float:
    """ACUs per emulated minute while the session works."""
    return ACU_RATES.get(scenario, DEFAULT_ACU_RATE)


def follow_up(resting: V3Status) -> tuple[Step, ...]:
    """Steps after a user message to a session that had finished its turn."""
    return (
        Step(5, FOLLOW_UP_ACK, kind="follow_up"),
        Step(30, FOLLOW_UP_DONE, v3=resting, kind="follow_up"),
    )


def working_ack() -> tuple[Step, ...]:
    return (Step(5, WORKING_ACK, kind="follow_up"),)


def scenario_from_request(prompt: str, tags: list[str] | None) -> tuple[str | None, str | None]:
    """The scenario a create request asks for, and where it was found (``"prompt"``/``"tags"``)."""
    match = PROMPT_MARKER.search(prompt)
    if match:
        return match.group(1), "prompt"
    for tag in tags or ():
        if tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :], "tags"
    return None, None


def legacy_status(status_enum: Any) -> str:
    return LEGACY_STATUS.get(status_enum, "running") if isinstance(status_enum, (str, type(None))) else "running"


def v1_status_enum(status: str, detail: Any) -> Any:
    """The v1 ``status_enum`` for a v3 pair (table in the module doc)."""
    if status in ("new", "claimed"):
        return "working"
    if status == "running":
        if detail in (None, "working"):
            return "working"
        if detail in ("waiting_for_user", "waiting_for_approval"):
            return "blocked"
        if detail == "finished":
            return "finished"
        return detail
    if status == "suspended":
        return "suspend_requested"
    if status == "resuming":
        return "resume_requested"
    if status in ("exit", "error"):
        return "expired"
    return status


def v3_for_status_enum(status_enum: Any) -> V3Status:
    """The v3 pair a forced v1 ``status_enum`` stands for (the reverse of :func:`v1_status_enum`)."""
    if status_enum in ("working", "resumed"):
        return WORKING
    if status_enum == "blocked":
        return WAITING
    if status_enum == "finished":
        return FINISHED
    if status_enum in ("suspend_requested", "suspend_requested_frontend"):
        return ("suspended", None)
    if status_enum in ("resume_requested", "resume_requested_frontend"):
        return RESUMING
    if status_enum == "expired":
        return EXIT
    if status_enum is None:
        return ("running", None)
    return ("running", str(status_enum))


def is_working(status: str, detail: Any) -> bool:
    """Whether ACUs accrue: Devin is on it (an unknown ``running`` detail counts as working)."""
    if status in ("new", "claimed", "resuming"):
        return True
    return status == "running" and detail not in ("finished", "waiting_for_user", "waiting_for_approval")


def is_resting_turn(status: str, detail: Any) -> bool:
    """``running`` with the turn done (finished or waiting for a person)."""
    return status == "running" and detail in ("finished", "waiting_for_user", "waiting_for_approval")
