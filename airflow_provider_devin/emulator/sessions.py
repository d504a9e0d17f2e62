"""One emulated Devin session: its fields, its schedule of changes, and how a message affects it.

Changes are scheduled as :class:`~airflow_provider_devin.emulator.scenarios.Step`s at absolute
emulated times and applied lazily, in order, whenever the session is read; each change carries
its own scheduled timestamp, so what a client sees depends only on the emulated clock, never on
when it happened to poll.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_devin.emulator import scenarios
from airflow_provider_devin.emulator.schema_instance import SchemaInstanceError, generate_instance

_sequence = itertools.count()
_EXITED = ("expired",)


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
    status_enum: Any = "working"
    status: str = "running"
    pull_request: dict[str, str] | None = None
    structured_output: Any = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[float, int, scenarios.Step]] = field(default_factory=list)
    awaiting_answer: bool = False
    terminated: bool = False

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

    def catch_up(self, now: float, isoformat: Callable[[float], str]) -> None:
        """Apply every change scheduled up to ``now`` (emulated seconds)."""
        while self.pending and self.pending[0][0] <= now:
            at, _, step = heapq.heappop(self.pending)
            self._apply(at, step, isoformat)

    def _apply(self, at: float, step: scenarios.Step, isoformat: Callable[[float], str]) -> None:
        stamp = isoformat(at)
        if step.pull_request and self.pull_request is None:
            self.pull_request = {"url": f"https://github.com/emulator/example/pull/{self.session_id[-6:]}"}
        if step.structured_output and self.structured_output_schema is not None:
            self.structured_output = _structured_output(self.structured_output_schema)
        if step.message is not None:
            text = step.message.format(url=(self.pull_request or {}).get("url", ""))
            self.add_devin_message(text, stamp)
        if step.status_enum is not scenarios.KEEP:
            self.set_status(step.status_enum)
        if step.awaiting_answer:
            self.awaiting_answer = True
        self.touch(at, stamp)

    # -- changes ------------------------------------------------------------------------------

    def touch(self, at: float, stamp: str) -> None:
        if at >= self.updated:
            self.updated, self.updated_at = at, stamp

    def set_status(self, status_enum: Any, status: str | None = None) -> None:
        self.status_enum = status_enum
        self.status = status if status is not None else scenarios.legacy_status(status_enum)

    def add_devin_message(self, text: str, stamp: str) -> None:
        # Devin's own messages carry no username/origin (contract 5.3: those are on user messages).
        self.messages.append({"type": "devin_message", "event_id": _event_id(), "message": text, "timestamp": stamp})

    def add_user_message(self, kind: str, text: str, stamp: str) -> None:
        self.messages.append(
            {
                "type": kind,
                "event_id": _event_id(),
                "message": text,
                "timestamp": stamp,
                "username": self.requesting_user_email,
                "origin": "api",
                "user_id": self.user_id,
            }
        )

    @property
    def exited(self) -> bool:
        return self.terminated or self.status_enum in _EXITED

    def undeliverable_reason(self) -> str | None:
        """Why a message would not be delivered, or None when it would."""
        if self.terminated:
            return f"Session {self.session_id} has been terminated; the message was not delivered."
        if self.status_enum == "expired":
            return f"Session {self.session_id} has expired; the message was not delivered."
        if self.status_enum in ("suspend_requested", "suspend_requested_frontend"):
            return f"Session {self.session_id} is suspended; the message was not delivered."
        return None

    def receive_user_message(self, text: str, now: float, stamp: str) -> None:
        """A delivered user message and Devin's reaction to it (see the scenarios module)."""
        self.add_user_message("user_message", text, stamp)
        self.touch(now, stamp)
        if self.awaiting_answer:
            self.awaiting_answer = False
            self.set_status("working")
            self.schedule(now, scenarios.AFTER_ANSWER)
        elif self.status_enum in ("finished", "blocked"):
            resting = self.status_enum
            self.cancel("follow_up")
            self.set_status("working")
            self.schedule(now, scenarios.follow_up(resting))
        else:
            self.schedule(now, scenarios.working_ack())

    def terminate(self, at: float, stamp: str) -> None:
        # v1 has no "terminated" status_enum; "expired" is the one value an orchestrator
        # already treats as unrecoverable, and the legacy status says what happened.
        self.cancel()
        self.terminated = True
        self.awaiting_answer = False
        self.set_status("expired", "stopped")
        self.touch(at, stamp)

    # -- views --------------------------------------------------------------------------------

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
        return {**self._common_fields(), "messages": [dict(message) for message in self.messages]}

    def control_view(self) -> dict[str, Any]:
        """Everything, for the control API's ``sessions()``."""
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
            request=self.request,
            pending=[{"at": at, "message": step.message} for at, _, step in sorted(self.pending)],
        )
        return view


def new_session_id() -> tuple[str, str]:
    """``("devin-<32 hex>", "<32 hex>")``: the id and the web URL's path segment."""
    hex_part = uuid.uuid4().hex
    return f"devin-{hex_part}", hex_part


def _event_id() -> str:
    return f"event-{uuid.uuid4()}"


def _structured_output(schema: dict[str, Any]) -> Any:
    try:
        return generate_instance(schema)
    except SchemaInstanceError:
        return None
