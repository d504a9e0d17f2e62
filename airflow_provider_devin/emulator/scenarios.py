"""How an emulated session behaves over time.

All times are **emulated seconds** (real seconds times the server's speed; the default speed is 60, so
60 emulated seconds pass in one real second). ``control.advance(seconds)`` jumps the clock.

Every session starts as ``status_enum="working"``, ``status="running"`` with the prompt as its
``initial_user_message``. Then, counted from creation:

==================  ==========================================================================
scenario            timeline (emulated seconds after creation)
==================  ==========================================================================
``finish``          5 s, 20 s, 40 s: progress ``devin_message``s; 60 s: a closing message,
                    ``structured_output`` (generated from ``structured_output_schema`` when one
                    was given) and ``finished``. The default.
``pull_request``    as ``finish``, plus at 50 s ``pull_request = {"url": ...}`` and a message
                    with the PR link; ``finished`` at 60 s.
``blocked_question`` 5 s, 20 s: progress; 30 s: Devin asks a question and goes ``blocked``.
                    A user message puts it back to ``working`` at once; 5 s later Devin
                    acknowledges, 20 s later reports progress, 40 s later it is ``finished``
                    (with structured output).
``park_blocked``    as ``finish`` but at 60 s it parks in ``blocked`` (work done, structured
                    output set, waiting for feedback: what real Devin usually does).
``expire``          5 s, 20 s: progress; 30 s: ``expired``.
``suspend``         5 s, 20 s: progress; 30 s: ``suspend_requested`` (``status="suspended"``),
                    and it stays there.
``working_forever`` 5 s, 20 s, 40 s: progress; stays ``working``.
``unknown_status``  5 s: progress; 20 s: ``status_enum="paused_for_review"`` (a value v1 does
                    not define, to test tolerance of new values); 40 s: progress;
                    60 s: ``finished``.
``null_status``     ``status_enum`` is ``null`` (``status="running"``) from creation;
                    5 s, 20 s, 40 s: progress; 60 s: ``finished``.
==================  ==========================================================================

Follow-up messages: a user message to a ``finished`` or ``blocked`` session (other than an
unanswered ``blocked_question``) sets it ``working`` at once; 5 s later Devin acknowledges and
30 s later it returns to the state it was in, with a closing message. A message to a
``working`` session gets an acknowledgement 5 s later. A message to a ``suspend_requested``,
``expired`` or terminated session is not delivered: the call answers 200 with a ``detail``
string (contract 5.4) and the session does not change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SCENARIO = "finish"

#: Marker for the prompt, e.g. ``"Fix the bug [emulator:scenario=pull_request]"``.
PROMPT_MARKER = re.compile(r"\[emulator:scenario=([A-Za-z0-9_\-]+)\]")
#: Tag prefix, e.g. ``tags=["emulator-scenario:expire"]``.
TAG_PREFIX = "emulator-scenario:"

#: The legacy free-form ``status`` string shown next to each ``status_enum``.
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

KEEP = object()  # "leave status_enum as it is"


@dataclass(frozen=True)
class Step:
    """One scheduled change to a session, ``at`` emulated seconds after its phase began."""

    at: float
    message: str | None = None
    status_enum: Any = KEEP
    structured_output: bool = False
    pull_request: bool = False
    awaiting_answer: bool = False
    kind: str = field(default="scenario")


ACK = "I've received the task and I'm setting up the environment."
PROGRESS_1 = "Progress: I've read the relevant code and I'm making the changes."
PROGRESS_2 = "Progress: the changes are in; I'm running the tests now."
DONE = "Done. I've completed the task; the summary is in the structured output."
QUESTION = "Question: before I go on, which approach do you prefer? Please reply to this session."
PARKED = "I've finished the task. Let me know if you'd like any changes."
PR_OPENED = "I've opened a pull request: {url}"
ANSWER_ACK = "Thanks for your answer, I'm continuing with the task."
FOLLOW_UP_ACK = "Got your message, I'm working on it."
FOLLOW_UP_DONE = "I've handled your follow-up."
WORKING_ACK = "Noted, I'll take that into account."

_WORK = (Step(5, ACK), Step(20, PROGRESS_1), Step(40, PROGRESS_2))
_FINISH = Step(60, DONE, status_enum="finished", structured_output=True)

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "finish": (*_WORK, _FINISH),
    "pull_request": (*_WORK, Step(50, PR_OPENED, pull_request=True), _FINISH),
    "blocked_question": (
        *_WORK[:2],
        Step(30, QUESTION, status_enum="blocked", awaiting_answer=True),
    ),
    "park_blocked": (*_WORK, Step(60, PARKED, status_enum="blocked", structured_output=True)),
    "expire": (*_WORK[:2], Step(30, status_enum="expired")),
    "suspend": (*_WORK[:2], Step(30, status_enum="suspend_requested")),
    "working_forever": _WORK,
    "unknown_status": (
        Step(5, ACK),
        Step(20, status_enum="paused_for_review"),
        Step(40, PROGRESS_2),
        _FINISH,
    ),
    "null_status": (*_WORK, _FINISH),
}

#: What happens after the user answers a ``blocked_question``.
AFTER_ANSWER: tuple[Step, ...] = (
    Step(5, ANSWER_ACK),
    Step(20, PROGRESS_2),
    Step(40, DONE, status_enum="finished", structured_output=True),
)


def initial_status_enum(scenario: str) -> str | None:
    return None if scenario == "null_status" else "working"


def follow_up(resting_status: Any) -> tuple[Step, ...]:
    """Steps after a user message to a session that had finished its turn (``finished``/``blocked``)."""
    return (
        Step(5, FOLLOW_UP_ACK, kind="follow_up"),
        Step(30, FOLLOW_UP_DONE, status_enum=resting_status, kind="follow_up"),
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
