"""Injected faults: what the next N matching Devin requests get instead of a normal answer."""

from __future__ import annotations

import fnmatch
import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

INJECTABLE_STATUSES = (429, 500, 502, 503)
_ids = itertools.count(1)


@dataclass
class Fault:
    """One fault rule.

    :param method: HTTP method to match, or ``"*"`` for any.
    :param path_pattern: ``fnmatch`` pattern on the path, e.g. ``"/v1/sessions/*"`` or
        ``"/v3/organizations/*/sessions"``.
    :param status: answer with this status (429, 500, 502 or 503) and a ``{"detail": ...}`` body
        (v1) or a ``ProblemDetail`` (v3).
    :param retry_after: ``Retry-After`` header value in seconds (429 defaults to ``1``).
    :param omit_retry_after: send no ``Retry-After`` at all (a 429 that does not say when to retry).
    :param delay: real seconds to wait before answering (alone: then answer normally).
    :param drop_connection: close the socket without sending any HTTP response.
    :param malformed_json: answer 200 with a body that is not valid JSON.
    :param times: how many matching requests it applies to.
    :param after_processing: let the emulator handle the request first (a create really creates),
        then replace the answer with the fault: "the work was done but the answer was lost". With
        ``delay`` alone: the real answer is sent ``delay`` seconds after the work was done (a slow
        create that succeeds server-side while the client has already timed out).
    """

    method: str
    path_pattern: str
    status: int | None = None
    retry_after: float | None = None
    omit_retry_after: bool = False
    delay: float | None = None
    drop_connection: bool = False
    malformed_json: bool = False
    times: int = 1
    after_processing: bool = False
    fault_id: int = 0

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.status is not None and self.status not in INJECTABLE_STATUSES:
            raise ValueError(f"status must be one of {INJECTABLE_STATUSES}, got {self.status}")
        if self.times < 1:
            raise ValueError(f"times must be >= 1, got {self.times}")
        if self.delay is not None and self.delay < 0:
            raise ValueError(f"delay must be >= 0, got {self.delay}")
        if not self.path_pattern.startswith("/") and not self.path_pattern.startswith("*"):
            raise ValueError(f"path_pattern must start with '/' or '*', got {self.path_pattern!r}")
        if self.after_processing and not (self.status or self.drop_connection or self.malformed_json or self.delay):
            raise ValueError("after_processing needs status, drop_connection, malformed_json or delay")
        if self.omit_retry_after:
            self.retry_after = None
        elif self.status == 429 and self.retry_after is None:
            self.retry_after = 1
        if not self.fault_id:
            self.fault_id = next(_ids)

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path_pattern)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RateLimitStorm:
    """Every Devin API request gets 429 with ``Retry-After`` until ``until`` (monotonic seconds).

    :param until: When the storm ends (``time.monotonic()``; real time, not the emulator clock).
    :param retry_after: The ``Retry-After`` seconds every answer carries.
    :param fault: The rule the answers are made from (its ``fault_id`` marks journal entries).
    :param answered: How many requests it answered so far.
    """

    until: float
    retry_after: float
    fault: Fault
    answered: int = 0

    def as_dict(self) -> dict[str, Any]:
        remaining = max(0.0, self.until - time.monotonic())
        return {
            "active": remaining > 0,
            "remaining_s": remaining,
            "retry_after_s": self.retry_after,
            "answered": self.answered,
            "fault_id": self.fault.fault_id,
        }


class FaultBook:
    """The active rules (and a rate-limit storm, if any); the caller holds the state lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.storm: RateLimitStorm | None = None

    def start_storm(self, duration: float, retry_after: float) -> RateLimitStorm:
        """From now on, for ``duration`` real seconds, answer every API request 429 (before any rule)."""
        if duration <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration}")
        if retry_after < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {retry_after}")
        fault = Fault("*", "*", status=429, retry_after=retry_after)
        self.storm = RateLimitStorm(time.monotonic() + duration, retry_after, fault)
        return self.storm

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first rule matching this request, using up one of its ``times``."""
        storm = self.storm
        if storm is not None and time.monotonic() < storm.until:
            storm.answered += 1
            return storm.fault
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()
        self.storm = None

    def active(self) -> list[dict[str, Any]]:
        return [fault.as_dict() for fault in self._faults]
