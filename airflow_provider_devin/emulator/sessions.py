"""One emulated Devin session: its fields, its schedule of changes, and how a message affects it.

Changes are scheduled as :class:`~airflow_provider_devin.emulator.scenarios.Step`s at absolute
emulated times and applied lazily, in order, whenever the session is read; each change carries
its own scheduled timestamp, so what a client sees depends only on the emulated clock, never on
when it happened to poll.

One model serves both API versions: the session's state is the v3 pair ``(v3_status,
status_detail)``; the v1 ``status_enum`` and legacy ``status`` are derived from it (see
:mod:`~airflow_provider_devin.emulator.scenarios`), unless pinned. ACUs accrue while it works.
"""

from __future__ import annotations

import heapq
import itertools
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_devin.emulator import scenarios
from airflow_provider_devin.emulator.clock import EmulatedClock
from airflow_provider_devin.emulator.structured_output import NOT_GIVEN, SessionHints, structured_output

_sequence = itertools.count()
_UNPINNED = scenarios.KEEP


@dataclass
class EmulatedSession:
    session_id: str
    url: str
    prompt: str
    title: str
    scenario: str
    created: float
    created_at: str
    requesting_user_email: str
    user_id: str
    tags: list[str] | None = None
    playbook_id: str | None = None
    snapshot_id: str | None = None
    structured_output_schema: dict[str, Any] | None = None
    max_acu_limit: int | None = None
    unlisted: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    updated: float = 0.0
    updated_at: str = ""
    v3_status: str = "new"
    status_detail: Any = None
    pinned_status_enum: Any = _UNPINNED
    pinned_legacy_status: str | None = None
    pull_request: dict[str, str] | None = None
    structured_output: Any = None
    given_structured_output: Any = NOT_GIVEN  # what a test gave (control API); NOT_GIVEN: derive it
    structured_output_shown: bool = False  # the work is done: structured_output is what Devin reports
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[float, int, scenarios.Step]] = field(default_factory=list)
    awaiting_answer: bool = False
    answers: int = 0  # questions answered so far
    terminated: bool = False
    # v3-only facts (the v1 views never show them)
    api_version: str = "v1"
    sequence: int = field(default_factory=lambda: next(_sequence))
    org_id: str = "org-emulator"
    service_user_id: str | None = None
    v3_user_id: str | None = None
    parent_session_id: str | None = None
    child_session_ids: list[str] = field(default_factory=list)
    is_archived: bool = False
    devin_mode: str | None = None
    repos: list[str] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    acu_rate: float = scenarios.DEFAULT_ACU_RATE
    acu_base: float = 0.0
    acu_since: float = 0.0

    # -- status -------------------------------------------------------------------------------

    @property
    def status_enum(self) -> Any:
        """v1 ``status_enum``: pinned, or derived from the v3 pair."""
        if self.pinned_status_enum is not _UNPINNED:
            return self.pinned_status_enum
        return scenarios.v1_status_enum(self.v3_status, self.status_detail)

    @property
    def status(self) -> str:
        """v1 legacy free-form ``status``."""
        if self.pinned_legacy_status is not None:
            return self.pinned_legacy_status
        return scenarios.legacy_status(self.status_enum)

    def set_v3(self, pair: scenarios.V3Status, at: float) -> None:
        """Move to a v3 ``(status, status_detail)``; a v1 pin lasts until the derived value changes."""
        self.acu_base, self.acu_since = self.acus_at(at), at
        before = scenarios.v1_status_enum(self.v3_status, self.status_detail)
        self.v3_status, self.status_detail = pair
        if scenarios.v1_status_enum(*pair) != before:
            self.pinned_status_enum = _UNPINNED
            self.pinned_legacy_status = None

    def force_status(self, at: float, status_enum: Any = _UNPINNED, legacy: str | None = None, v3: Any = None) -> None:
        """The control API's ``set_status``: a v3 pair, a v1 value, or both (v1 pins over v3)."""
        if v3 is None:
            v3 = scenarios.v3_for_status_enum(status_enum)
        self.set_v3(v3, at)
        self.pinned_status_enum = status_enum
        self.pinned_legacy_status = legacy

    @property
    def working(self) -> bool:
        return scenarios.is_working(self.v3_status, self.status_detail)

    @property
    def exited(self) -> bool:
        """No way back: terminated, v1 ``expired``, v3 ``exit``/``error``."""
        return self.terminated or self.status_enum == "expired" or self.v3_status in ("exit", "error")

    # -- ACUs ---------------------------------------------------------------------------------

    def acus_at(self, at: float) -> float:
        if not self.working:
            return self.acu_base
        return self.acu_base + self.acu_rate * max(at - self.acu_since, 0.0) / 60.0

    def set_acus(self, acus: float, at: float) -> None:
        self.acu_base, self.acu_since = float(acus), at

    def _limit_reached_at(self) -> float | None:
        if self.max_acu_limit is None or not self.working:
            return None
        remaining = self.max_acu_limit - self.acu_base
        if remaining <= 0:
            return self.acu_since
        if self.acu_rate <= 0:
            return None
        return self.acu_since + remaining / self.acu_rate * 60.0

    # -- schedule -----------------------------------------------------------------------------

    def schedule(self, start: float, steps: tuple[scenarios.Step, ...]) -> None:
        for step in steps:
            heapq.heappush(self.pending, (start + step.at, next(_sequence), step))

    def cancel(self, kind: str | None = None) -> None:
        if kind is None:
            self.pending.clear()
        else:
            self.pending = [item for item in self.pending if item[2].kind != kind]
            heapq.heapify(self.pending)

    def catch_up(self, now: float, clock: EmulatedClock) -> None:
        """Apply every change scheduled up to ``now`` (emulated seconds), and the ACU limit."""
        while True:
            next_at = self.pending[0][0] if self.pending else math.inf
            limit_at = self._limit_reached_at()
            if limit_at is not None and limit_at <= min(next_at, now):
                self.cancel()
                self.awaiting_answer = False
                self.set_v3(("suspended", "usage_limit_exceeded"), limit_at)
                self.acu_base = max(self.acu_base, float(self.max_acu_limit or 0))
                self.touch(limit_at, clock.isoformat(limit_at))
                continue
            if next_at > now:
                return
            at, _, step = heapq.heappop(self.pending)
            self._apply(at, step, clock)

    def _apply(self, at: float, step: scenarios.Step, clock: EmulatedClock) -> None:
        stamp = clock.isoformat(at)
        if step.pull_request and self.pull_request is None:
            self.pull_request = {"url": f"https://github.com/emulator/example/pull/{self.session_id[-6:]}"}
        text = step.message.format(url=(self.pull_request or {}).get("url", "")) if step.message else None
        if step.structured_output:
            self.structured_output_shown = True
            self.structured_output = self.final_output(text)
        if text is not None:
            self.add_devin_message(text, stamp, at)
        if step.v3 is not None:
            self.set_v3(step.v3, at)
        if step.status_enum is not scenarios.KEEP:
            self.pinned_status_enum = step.status_enum
        if step.awaiting_answer:
            self.awaiting_answer = True
        self.touch(at, stamp)

    def final_output(self, closing_message: str | None = None) -> Any:
        """The structured output when the work is done: given, or derived from the schema and what
        the session did (see :mod:`~airflow_provider_devin.emulator.structured_output`)."""
        if closing_message is None:
            devin = [m["message"] for m in self.messages if m["type"] == "devin_message"]
            closing_message = devin[-1] if devin else scenarios.DONE
        hints = SessionHints(
            pull_request_url=(self.pull_request or {}).get("url"), closing_message=closing_message, title=self.title
        )
        return structured_output(self.structured_output_schema, self.given_structured_output, hints)

    def give_structured_output(self, value: Any, at: float, stamp: str) -> None:
        """The control API's ``set_structured_output``: shown at once when the work is done, else then."""
        self.given_structured_output = value
        if self.structured_output_shown:
            self.structured_output = self.final_output()
            self.touch(at, stamp)

    # -- changes ------------------------------------------------------------------------------

    def touch(self, at: float, stamp: str) -> None:
        if at >= self.updated:
            self.updated, self.updated_at = at, stamp

    def add_devin_message(self, text: str, stamp: str, at: float) -> None:
        # Devin's own messages carry no username/origin (contract 5.3: those are on user messages).
        self.messages.append(
            {"type": "devin_message", "event_id": _event_id(), "message": text, "timestamp": stamp, "_at": at}
        )

    def add_user_message(self, kind: str, text: str, stamp: str, at: float) -> None:
        self.messages.append(
            {
                "type": kind,
                "event_id": _event_id(),
                "message": text,
                "timestamp": stamp,
                "username": self.requesting_user_email,
                "origin": "api",
                "user_id": self.user_id,
                "_at": at,
            }
        )

    def undeliverable_reason(self) -> str | None:
        """v1: why a message would not be delivered, or None when it would."""
        if self.terminated:
            return f"Session {self.session_id} has been terminated; the message was not delivered."
        if self.status_enum == "expired":
            return f"Session {self.session_id} has expired; the message was not delivered."
        if self.status_enum in ("suspend_requested", "suspend_requested_frontend"):
            return f"Session {self.session_id} is suspended; the message was not delivered."
        return None

    def receive_user_message(self, text: str, now: float, stamp: str) -> None:
        """A delivered user message and Devin's reaction to it (see the scenarios module)."""
        self.add_user_message("user_message", text, stamp, now)
        self.touch(now, stamp)
        if self.v3_status == "suspended":
            # v3 only (v1 refuses messages to suspended sessions): the message resumes it.
            self.cancel()
            self.awaiting_answer = False
            self.set_v3(scenarios.RESUMING, now)
            self.schedule(now, scenarios.AFTER_RESUME)
        elif self.awaiting_answer:
            self.awaiting_answer = False
            self.answers += 1
            self.set_v3(scenarios.WORKING, now)
            more = self.answers < scenarios.QUESTIONS.get(self.scenario, 1)
            self.schedule(now, scenarios.ASK_AGAIN if more else scenarios.AFTER_ANSWER)
        elif scenarios.is_resting_turn(self.v3_status, self.status_detail):
            resting = (self.v3_status, self.status_detail)
            self.cancel("follow_up")
            self.set_v3(scenarios.WORKING, now)
            self.schedule(now, scenarios.follow_up(resting))
        else:
            self.schedule(now, scenarios.working_ack())

    def terminate(self, at: float, stamp: str) -> None:
        # v1 has no "terminated" status_enum; "expired" is the one value an orchestrator
        # already treats as unrecoverable, and the legacy status says what happened. v3: exit.
        self.cancel()
        self.terminated = True
        self.awaiting_answer = False
        self.set_v3(scenarios.EXIT, at)
        self.pinned_status_enum = "expired"
        self.pinned_legacy_status = "stopped"
        self.touch(at, stamp)

    def archive(self, at: float, stamp: str) -> None:
        """v3 archive: "put it to sleep if currently running" (user_request while working, else inactivity)."""
        self.is_archived = True
        if self.v3_status in ("new", "claimed", "running", "resuming"):
            detail = "user_request" if self.working else "inactivity"
            self.cancel()
            self.awaiting_answer = False
            self.set_v3(("suspended", detail), at)
        self.touch(at, stamp)

    # -- v1 views -----------------------------------------------------------------------------

    def _common_fields(self) -> dict[str, Any]:
        """Fields both the list item and the details body carry."""
        return {
            "session_id": self.session_id,
            "status": self.status,
            "status_enum": self.status_enum,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "snapshot_id": self.snapshot_id,
            "playbook_id": self.playbook_id,
            "tags": list(self.tags) if self.tags is not None else None,
            "pull_request": dict(self.pull_request) if self.pull_request else None,
            "structured_output": self.structured_output,
        }

    def summary(self) -> dict[str, Any]:
        """A ``GET /v1/sessions`` item."""
        return {**self._common_fields(), "requesting_user_email": self.requesting_user_email}

    def details(self) -> dict[str, Any]:
        """A ``GET /v1/sessions/{session_id}`` body."""
        return {**self._common_fields(), "messages": [public(message) for message in self.messages]}

    def control_view(self, now: float) -> dict[str, Any]:
        """Everything, for the control API's ``sessions()`` (v1 fields plus v3 state and internals)."""
        view = self.details()
        view.update(
            url=self.url,
            scenario=self.scenario,
            requesting_user_email=self.requesting_user_email,
            unlisted=self.unlisted,
            terminated=self.terminated,
            awaiting_answer=self.awaiting_answer,
            max_acu_limit=self.max_acu_limit,
            structured_output_schema=self.structured_output_schema,
            structured_output_given=self.given_structured_output is not NOT_GIVEN,
            request=self.request,
            pending=[{"at": at, "message": step.message} for at, _, step in sorted(self.pending)],
            api_version=self.api_version,
            v3_status=self.v3_status,
            status_detail=self.status_detail,
            acus_consumed=round(self.acus_at(now), 6),
            acu_rate=self.acu_rate,
            is_archived=self.is_archived,
            org_id=self.org_id,
            parent_session_id=self.parent_session_id,
            child_session_ids=list(self.child_session_ids),
        )
        return view


def public(message: dict[str, Any]) -> dict[str, Any]:
    """A message without the emulator's private keys (``_at``: its emulated time)."""
    return {key: value for key, value in message.items() if not key.startswith("_")}


def new_session_id() -> tuple[str, str]:
    """``("devin-<32 hex>", "<32 hex>")``: the id and the web URL's path segment."""
    hex_part = uuid.uuid4().hex
    return f"devin-{hex_part}", hex_part


def _event_id() -> str:
    return f"event-{uuid.uuid4()}"
