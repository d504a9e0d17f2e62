"""All emulator state, in memory, behind one lock.

Request handlers and the control API call the methods here; each takes the lock once, so a
request sees (and changes) a consistent snapshot even under hundreds of polls per second. One
session model serves both API versions; the v3 operations live in
:class:`~airflow_provider_devin.emulator.state_v3.V3State`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import uuid
from collections import deque
from typing import Any

from airflow_provider_devin.emulator import DEFAULT_SPEED, scenarios, v3_views
from airflow_provider_devin.emulator.clock import EmulatedClock
from airflow_provider_devin.emulator.faults import Fault, FaultBook
from airflow_provider_devin.emulator.keys import DEFAULT_USER_EMAIL, ORG_ID, ApiKey, KeyConfig, make_key, parse_keys
from airflow_provider_devin.emulator.problem import ApiError
from airflow_provider_devin.emulator.sessions import EmulatedSession, new_session_id
from airflow_provider_devin.emulator.state_v3 import V3State
from airflow_provider_devin.emulator.structured_output import NOT_GIVEN

JOURNAL_LIMIT = 10_000
DEFAULT_FOLDER = {"name": "General", "description": "Knowledge shared across the organization."}

__all__ = ["DEFAULT_USER_EMAIL", "ORG_ID", "ApiError", "EmulatorState", "check_scenario"]


class EmulatorState(V3State):
    """The emulator's in-memory world, shared by the v1 and v3 APIs.

    :param speed: emulated seconds per real second.
    :param api_keys: accepted keys: an iterable of keys, or a mapping key -> the user email that
        owns it (used as ``requesting_user_email`` and message ``username``) or key -> settings
        (``email``, ``org_id``, ``principal``; see :mod:`~airflow_provider_devin.emulator.keys`).
        Default: ``DEFAULT_API_KEY`` (v1) and ``DEFAULT_V3_API_KEY`` (v3).
    """

    def __init__(self, speed: float = DEFAULT_SPEED, api_keys: KeyConfig | None = None):
        self.lock = threading.Lock()
        self.configured_speed = float(speed)
        self.clock = EmulatedClock(speed)
        self._configured_keys = parse_keys(api_keys)
        self.api_keys: dict[str, ApiKey] = dict(self._configured_keys)
        self.blob_secret = uuid.uuid4().hex
        self.journal: deque[dict[str, Any]] = deque(maxlen=JOURNAL_LIMIT)
        self.faults = FaultBook()
        self.generation = 0  # bumped by reset(); requests still in flight then are not journaled
        self._reset_world()

    def _reset_world(self) -> None:
        self.sessions: dict[str, EmulatedSession] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.default_scenario = scenarios.DEFAULT_SCENARIO
        self.default_structured_output: Any = NOT_GIVEN
        self.secrets: dict[str, dict[str, Any]] = {}
        self.knowledge: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.playbooks: dict[str, dict[str, Any]] = {}
        self.attachments: dict[tuple[str, str], tuple[bytes, str]] = {}
        # v3-only facts about v1-shaped resources (note/playbook/secret id -> emulated times, ...)
        self.resource_meta: dict[str, dict[str, Any]] = {}
        self.allowed_tags: list[str] | None = None
        self._add_folder(**DEFAULT_FOLDER)

    # -- helpers (lock held) ------------------------------------------------------------------

    def _now(self) -> tuple[float, str]:
        now = self.clock.now()
        return now, self.clock.isoformat(now)

    def _session(self, session_id: str) -> EmulatedSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise ApiError(404, f"Session {session_id} not found.")
        session.catch_up(self.clock.now(), self.clock)
        return session

    def _add_folder(self, name: str, description: str) -> dict[str, Any]:
        folder = {
            "id": f"folder-{uuid.uuid4().hex}",
            "name": name,
            "description": description,
            "created_at": self._now()[1],
        }
        self.folders[folder["id"]] = folder
        return folder

    def touch_resource(self, resource_id: str, by: str, *, created: bool = False) -> dict[str, Any]:
        """Record a note/playbook/secret change for its v3 view (emulated times, who); lock held."""
        now = self.clock.now()
        meta = self.resource_meta.setdefault(resource_id, {"created": now, "created_by": by})
        if created:
            meta.update(created=now, created_by=by)
        meta.update(updated=now, updated_by=by)
        meta.setdefault("sequence", len(self.resource_meta))
        return meta

    def user_for(self, api_key: str) -> str:
        info = self.api_keys.get(api_key)
        return info.email if info is not None else DEFAULT_USER_EMAIL

    def key_info(self, api_key: str) -> ApiKey:
        """The accepted key's settings (the middleware has already refused unknown keys)."""
        info = self.api_keys.get(api_key)
        return info if info is not None else make_key(api_key or "unknown")

    def add_api_key(self, key: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Accept one more key until the next reset (control API); returns its settings, not the key."""
        try:
            info = make_key(key, settings)
        except ValueError as err:
            raise ApiError(400, str(err)) from err
        with self.lock:
            self.api_keys[key] = info
        return {"version": info.version, "org_id": info.org_id, "email": info.email, "principal": info.principal}

    # -- sessions -----------------------------------------------------------------------------

    def create_session(self, api_key: str, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        """``POST /v1/sessions``. ``body`` is the validated request (defaults filled in)."""
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self.lock:
            if body.get("idempotent"):
                existing = self.idempotency.get((api_key, fingerprint))
                if existing is not None and existing in self.sessions:
                    found = self.sessions[existing]
                    return {"session_id": found.session_id, "url": found.url, "is_new_session": False}
            session = self._new_session(self.key_info(api_key), body, base_url, "v1")
            self.sessions[session.session_id] = session
            if body.get("idempotent"):
                self.idempotency[(api_key, fingerprint)] = session.session_id
            return {"session_id": session.session_id, "url": session.url, "is_new_session": True}

    def _new_session(self, key: ApiKey, body: dict[str, Any], base_url: str, version: str) -> EmulatedSession:
        """A scheduled session from a validated create body (v1 or v3 field names); lock held."""
        requested, _ = scenarios.scenario_from_request(body["prompt"], body.get("tags"))
        scenario = requested or self.default_scenario
        now, stamp = self._now()
        session_id, hex_part = new_session_id()
        session = EmulatedSession(
            session_id=session_id,
            url=f"{base_url}/sessions/{hex_part}",
            prompt=body["prompt"],
            title=body.get("title") or _title_from_prompt(body["prompt"]),
            scenario=scenario,
            created=now,
            created_at=stamp,
            requesting_user_email=key.email,
            user_id=body.get("create_as_user_id") or key.user_id,
            tags=list(body["tags"]) if body.get("tags") is not None else None,
            playbook_id=body.get("playbook_id"),
            snapshot_id=body.get("snapshot_id"),
            structured_output_schema=body.get("structured_output_schema"),
            max_acu_limit=body.get("max_acu_limit"),
            unlisted=bool(body.get("unlisted")),
            request=_redacted_request(body),
            api_version=version,
            org_id=key.org_id,
            service_user_id=key.service_user_id if version == "v3" else None,
            v3_user_id=body.get("create_as_user_id")
            or key.principal_user_id
            or (key.user_id if version == "v1" else None),
            devin_mode=body.get("devin_mode") or "normal",
            repos=list(body["repos"]) if body.get("repos") is not None else None,
            acu_rate=scenarios.acu_rate(scenario),
            acu_since=now,
            given_structured_output=copy.deepcopy(self.default_structured_output),
        )
        session.v3_status, session.status_detail = scenarios.initial_v3(scenario)
        session.pinned_status_enum = scenarios.initial_status_enum(scenario)
        session.add_user_message("initial_user_message", body["prompt"], stamp, now)
        session.touch(now, stamp)
        session.schedule(now, scenarios.SCENARIOS[scenario])
        return session

    def list_sessions(
        self, *, tags: list[str] | None, user_email: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """``GET /v1/sessions``: newest first; every given tag must be present (AND)."""
        with self.lock:
            now = self.clock.now()
            wanted = set(tags or ())
            picked: list[EmulatedSession] = []
            for session in reversed(self.sessions.values()):
                if session.unlisted:
                    continue
                if user_email is not None and session.requesting_user_email != user_email:
                    continue
                if wanted and not wanted.issubset(session.tags or ()):
                    continue
                picked.append(session)
            page = picked[offset : offset + limit]
            result = []
            for session in page:
                session.catch_up(now, self.clock)
                result.append(session.summary())
            return result

    def get_session(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            return self._session(session_id).details()

    def send_message(self, session_id: str, message: str) -> str | None:
        """``POST .../message``: None when delivered, else the ``detail`` explaining why not."""
        with self.lock:
            session = self._session(session_id)
            reason = session.undeliverable_reason()
            if reason is not None:
                return reason
            now, stamp = self._now()
            session.receive_user_message(message, now, stamp)
            return None

    def update_tags(self, session_id: str, tags: list[str]) -> None:
        with self.lock:
            session = self._session(session_id)
            session.tags = list(tags)
            session.touch(*self._now())

    def terminate(self, session_id: str) -> None:
        with self.lock:
            session = self._session(session_id)
            if session.exited:
                raise ApiError(
                    400, f"Session {session_id} has already exited ({session.status}) and cannot be terminated."
                )
            session.terminate(*self._now())

    # -- control ------------------------------------------------------------------------------

    def set_scenario(self, session_id: str, scenario: str) -> dict[str, Any]:
        """Restart a session's timeline with another scenario, counted from now."""
        check_scenario(scenario)
        with self.lock:
            session = self._session(session_id)
            now, stamp = self._now()
            session.cancel()
            session.scenario = scenario
            session.awaiting_answer = False
            session.terminated = False
            session.acu_rate = scenarios.acu_rate(scenario)
            session.set_v3(scenarios.WORKING, now)
            session.pinned_status_enum = scenarios.initial_status_enum(scenario)
            session.pinned_legacy_status = None
            session.touch(now, stamp)
            session.schedule(now, scenarios.SCENARIOS[scenario])
            return self._control_view(session, now)

    def _control_view(self, session: EmulatedSession, now: float) -> dict[str, Any]:
        view = session.control_view(now)
        view["v3"] = v3_views.session_response(session, self.clock, now, full=True)
        return view

    def set_status(
        self,
        session_id: str,
        status_enum: Any = scenarios.KEEP,
        legacy_status: str | None = None,
        v3: tuple[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Force a status; pending scheduled changes are dropped so it stays put.

        :param status_enum: a v1 value to pin (``KEEP``: derive it from ``v3``).
        :param legacy_status: the v1 legacy ``status`` string to pin.
        :param v3: the v3 ``(status, status_detail)``; derived from ``status_enum`` when None.
        """
        if status_enum is scenarios.KEEP and v3 is None:
            raise ApiError(400, "set_status needs status_enum (v1) or status/status_detail (v3).")
        with self.lock:
            session = self._session(session_id)
            now, stamp = self._now()
            session.cancel()
            session.awaiting_answer = False
            session.force_status(now, status_enum, legacy_status, v3)
            session.touch(now, stamp)
            return self._control_view(session, now)

    def set_acus(self, session_id: str, acus: float) -> dict[str, Any]:
        """Set a session's ``acus_consumed`` (it keeps growing from there while the session works)."""
        with self.lock:
            session = self._session(session_id)
            now = self.clock.now()
            session.set_acus(acus, now)
            return self._control_view(session, now)

    def set_structured_output(self, session_id: str, value: Any) -> dict[str, Any]:
        """Give the structured output a session reports when its work is done (at once if it is done).

        :param session_id: the session.
        :param value: any JSON value, used as is (not checked against the schema).
        """
        with self.lock:
            session = self._session(session_id)
            now, stamp = self._now()
            session.give_structured_output(value, now, stamp)
            return self._control_view(session, now)

    def set_default_structured_output(self, value: Any) -> None:
        """The structured output of sessions created from now on (``NOT_GIVEN``: derive it again)."""
        with self.lock:
            self.default_structured_output = value

    def set_allowed_tags(self, patterns: list[str] | None) -> None:
        """Org tag validation: v3 create and tag updates accept only matching tags (None: off)."""
        with self.lock:
            self.allowed_tags = list(patterns) if patterns is not None else None

    def set_default_scenario(self, scenario: str) -> None:
        check_scenario(scenario)
        with self.lock:
            self.default_scenario = scenario

    def advance(self, seconds: float) -> float:
        with self.lock:
            return self.clock.advance(seconds)

    def set_speed(self, speed: float) -> None:
        with self.lock:
            self.clock.set_speed(speed)

    def control_sessions(self) -> list[dict[str, Any]]:
        with self.lock:
            now = self.clock.now()
            views = []
            for session in self.sessions.values():
                session.catch_up(now, self.clock)
                views.append(self._control_view(session, now))
            return views

    def reset(self) -> None:
        """Forget everything (sessions, resources, faults, journal, added keys); the clock restarts."""
        with self.lock:
            self.clock = EmulatedClock(self.configured_speed)
            self.generation += 1
            self.journal.clear()
            self.faults.clear()
            self.api_keys = dict(self._configured_keys)
            self._reset_world()

    def web_view(self, session_id: str) -> dict[str, Any]:
        """What the session page shows: the control view (v1 and v3) plus the prompt and the clock."""
        with self.lock:
            session = self._session(session_id)
            now = self.clock.now()
            view = self._control_view(session, now)
            view.update(prompt=session.prompt, speed=self.clock.speed, emulated_seconds=now)
            return view

    def clock_info(self) -> dict[str, Any]:
        with self.lock:
            now, stamp = self._now()
            return {"emulated_seconds": now, "now": stamp, "speed": self.clock.speed, "epoch": self.clock.epoch(now)}

    def add_fault(self, fault: Fault) -> dict[str, Any]:
        with self.lock:
            return self.faults.add(fault).as_dict()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            return self.faults.take(method, path)

    def record(self, entry: dict[str, Any], generation: int) -> None:
        """Journal a finished request, unless a reset happened while it was in flight."""
        with self.lock:
            if generation == self.generation:
                self.journal.append(entry)

    def journal_entries(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.journal)

    def add_folder(self, name: str, description: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._add_folder(name, description))


def check_scenario(name: str) -> None:
    if name not in scenarios.SCENARIOS:
        known = ", ".join(sorted(scenarios.SCENARIOS))
        raise ApiError(400, f"Unknown emulator scenario {name!r}; known scenarios: {known}.")


def _title_from_prompt(prompt: str) -> str:
    text = scenarios.PROMPT_MARKER.sub("", prompt).strip()
    first_line = text.splitlines()[0].strip() if text else ""
    if not first_line:
        return "Untitled session"
    return first_line if len(first_line) <= 80 else first_line[:77].rstrip() + "..."


def _redacted_request(body: dict[str, Any]) -> dict[str, Any]:
    view = dict(body)
    if view.get("session_secrets"):
        view["session_secrets"] = [{**item, "value": "***"} for item in view["session_secrets"]]
    return view
