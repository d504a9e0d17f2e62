"""The v3 session operations on the shared emulator state (mixed into ``EmulatorState``).

Every method takes the state lock once. Paths name sessions as ``devin-<hex>`` or bare ``<hex>``;
a session of another organization is "not found" (404), like an unknown id.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_devin.emulator import scenarios, v3_views
from airflow_provider_devin.emulator.clock import EmulatedClock
from airflow_provider_devin.emulator.keys import ApiKey
from airflow_provider_devin.emulator.models import MAX_TAGS
from airflow_provider_devin.emulator.problem import ApiError, field_error, paginate
from airflow_provider_devin.emulator.sessions import EmulatedSession

#: List filters that hold several values (repeated or comma-joined in the query).
ARRAY_FILTERS = ("session_ids", "tags", "origins", "user_ids", "service_user_ids", "automation_ids", "repo_names")


def devin_id(value: str) -> str:
    """The stored id for a path or filter id: ``devin-`` added when missing."""
    return value if value.startswith("devin-") else f"devin-{value}"


class V3State:
    """v3 operations; the attributes below are ``EmulatorState``'s."""

    lock: threading.Lock
    clock: EmulatedClock
    sessions: dict[str, EmulatedSession]
    allowed_tags: list[str] | None
    attachments: dict[tuple[str, str], tuple[bytes, str]]

    if TYPE_CHECKING:

        def _now(self) -> tuple[float, str]: ...

        def _new_session(self, key: ApiKey, body: dict[str, Any], base_url: str, version: str) -> EmulatedSession: ...

    # -- helpers (lock held) ------------------------------------------------------------------

    def _session_v3(self, org_id: str, session_id: str) -> EmulatedSession:
        session = self.sessions.get(devin_id(session_id))
        if session is None or session.org_id != org_id:
            raise ApiError(404, f"Session {session_id} not found in organization {org_id}.")
        session.catch_up(self.clock.now(), self.clock)
        return session

    def _view(self, session: EmulatedSession, *, full: bool) -> dict[str, Any]:
        return v3_views.session_response(session, self.clock, self.clock.now(), full=full)

    def _check_tags(self, tags: list[str] | None, loc: list[Any]) -> None:
        """Org tag validation (``set_allowed_tags``): 422 naming every tag not on the allow-list."""
        if self.allowed_tags is None:
            return
        errors = []
        for index, tag in enumerate(tags or ()):
            if tag.startswith(scenarios.TAG_PREFIX):
                continue  # the emulator's own scenario tags are not organization tags
            if not any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.allowed_tags):
                allowed = ", ".join(self.allowed_tags) or "none"
                msg = f"tag {tag!r} is not in the organization's allowed tags ({allowed})"
                errors.append(field_error([*loc, index], msg, "value_error", tag))
        if errors:
            bad = ", ".join(repr(error["input"]) for error in errors)
            raise ApiError(422, f"Tag validation is enabled for this organization; not allowed: {bad}.", errors)

    # -- sessions -----------------------------------------------------------------------------

    def create_session_v3(
        self, key: ApiKey, body: dict[str, Any], base_url: str, parent_id: str | None
    ) -> dict[str, Any]:
        """``POST /v3/organizations/{org}/sessions``: always a new session (v3 has no idempotency)."""
        with self.lock:
            self._check_tags(body.get("tags"), ["body", "tags"])
            parent = self._session_v3(key.org_id, parent_id) if parent_id else None
            session = self._new_session(key, body, base_url, "v3")
            session.attachments = [
                v3_views.attachment_entry(url, "user", self.attachments) for url in body.get("attachment_urls") or ()
            ]
            if parent is not None:
                session.parent_session_id = parent.session_id
                parent.child_session_ids.append(session.session_id)
            self.sessions[session.session_id] = session
            return self._view(session, full=False)

    def list_sessions_v3(self, org_id: str, filters: dict[str, Any], first: int, after: str | None) -> dict[str, Any]:
        """A page of ``GET .../sessions``: newest first, ``total`` null (see docs/emulator.md)."""
        with self.lock:
            now = self.clock.now()
            picked = []
            for session in reversed(self.sessions.values()):
                if session.org_id != org_id or session.unlisted:
                    continue
                session.catch_up(now, self.clock)
                if _matches(session, filters, self.clock):
                    picked.append(session)
            return paginate(
                picked,
                kind="sessions",
                key=lambda s: s.sequence,
                first=first,
                after=after,
                descending=True,
                with_total=False,
                render=lambda s: v3_views.session_response(s, self.clock, now, full=True),
            )

    def get_session_v3(self, org_id: str, session_id: str) -> dict[str, Any]:
        with self.lock:
            return self._view(self._session_v3(org_id, session_id), full=True)

    def send_message_v3(
        self, org_id: str, session_id: str, message: str, attachment_urls: list[str] | None
    ) -> dict[str, Any]:
        """Deliver a message; a suspended session resumes. Archived or exited: 409."""
        with self.lock:
            session = self._session_v3(org_id, session_id)
            if session.is_archived:
                raise ApiError(
                    409, f"Session {session.session_id} is archived; unarchive it before sending it messages."
                )
            if session.exited:
                raise ApiError(
                    409,
                    f"Session {session.session_id} has ended (status {session.v3_status}) and cannot receive messages.",
                )
            now, stamp = self._now()
            session.receive_user_message(message, now, stamp)
            session.attachments.extend(
                v3_views.attachment_entry(url, "user", self.attachments) for url in attachment_urls or ()
            )
            return self._view(session, full=False)

    def terminate_v3(self, org_id: str, session_id: str, archive: bool) -> dict[str, Any]:
        """``DELETE .../sessions/{id}``: status ``exit``; an already ended session is a 409."""
        with self.lock:
            session = self._session_v3(org_id, session_id)
            if session.exited:
                raise ApiError(
                    409,
                    f"Session {session.session_id} has already ended (status {session.v3_status}); "
                    "termination is irreversible and there is nothing left to stop.",
                )
            session.terminate(*self._now())
            if archive:
                session.is_archived = True
            return self._view(session, full=False)

    def archive_v3(self, org_id: str, session_id: str, archived: bool) -> dict[str, Any]:
        """Archive (and put to sleep if running) or unarchive (no resume, no cascade)."""
        with self.lock:
            session = self._session_v3(org_id, session_id)
            now, stamp = self._now()
            if archived:
                if not session.is_archived:
                    session.archive(now, stamp)
            elif session.is_archived:
                session.is_archived = False
                session.touch(now, stamp)
            return self._view(session, full=False)

    def tags_v3(self, org_id: str, session_id: str) -> dict[str, Any]:
        with self.lock:
            return {"tags": list(self._session_v3(org_id, session_id).tags or [])}

    def set_tags_v3(self, org_id: str, session_id: str, tags: list[str], append: bool) -> dict[str, Any]:
        """PUT replaces; POST appends, skipping tags already present; at most 50 in the end."""
        with self.lock:
            session = self._session_v3(org_id, session_id)
            self._check_tags(tags, ["body", "tags"])
            result = list(session.tags or []) if append else []
            for tag in tags:
                if tag not in result:
                    result.append(tag)
            if len(result) > MAX_TAGS:
                msg = f"a session carries at most {MAX_TAGS} tags; this update would leave {len(result)}"
                raise ApiError(422, msg + ".", [field_error(["body", "tags"], msg, "too_long")])
            session.tags = result
            session.touch(*self._now())
            return {"tags": list(result)}

    def messages_v3(self, org_id: str, session_id: str, first: int, after: str | None) -> dict[str, Any]:
        """A chronological page of the conversation."""
        with self.lock:
            session = self._session_v3(org_id, session_id)
            return paginate(
                list(enumerate(session.messages)),
                kind="messages",
                key=lambda pair: pair[0],
                first=first,
                after=after,
                render=lambda pair: v3_views.message_view(pair[1], self.clock),
            )

    def session_attachments_v3(self, org_id: str, session_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(item) for item in self._session_v3(org_id, session_id).attachments]


def _matches(session: EmulatedSession, filters: dict[str, Any], clock: EmulatedClock) -> bool:
    """Whether a session passes every given list filter (READINGS in docs/emulator.md)."""

    def many(name: str) -> set[Any]:
        return set(filters.get(name) or ())

    def one(name: str) -> Any:
        return filters.get(name)

    if many("session_ids") and session.session_id not in {devin_id(s) for s in many("session_ids")}:
        return False
    if many("tags") and not many("tags") & set(session.tags or ()):
        return False  # OR: the session carries any of the given tags
    created, updated = clock.epoch(session.created), clock.epoch(session.updated)
    bounds = (
        ("created_after", created, 1),
        ("created_before", created, -1),
        ("updated_after", updated, 1),
        ("updated_before", updated, -1),
    )
    for name, value, sign in bounds:
        limit = one(name)
        if limit is not None and (value - limit) * sign < 0:
            return False  # inclusive bounds
    if one("playbook_id") is not None and session.playbook_id != one("playbook_id"):
        return False
    if one("schedule_id") is not None or many("automation_ids"):
        return False  # no emulated session comes from a schedule or an automation
    if many("origins") and "api" not in many("origins"):
        return False
    if many("user_ids") and session.v3_user_id not in many("user_ids"):
        return False
    if many("service_user_ids") and session.service_user_id not in many("service_user_ids"):
        return False
    if many("repo_names") and not many("repo_names") & set(session.repos or ()):
        return False
    parent = one("parent_session_id")
    if parent is not None and session.parent_session_id != devin_id(parent):
        return False
    if one("category") is not None and v3_views.category_of(session.prompt) != one("category"):
        return False
    return not (one("is_archived") is not None and session.is_archived != one("is_archived"))
