"""A small Python client for the emulator's control API (stdlib only, so it imports fast).

::

    control = EmulatorControl("http://127.0.0.1:8787")
    control.inject_fault("GET", "/v1/sessions/*", status=503, times=2)
    control.advance(60)
    assert control.journal(method="GET")[-1]["status"] == 200
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

# The emulator is local: never send control calls through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class EmulatorControlError(RuntimeError):
    """The control API refused a call (unknown session or scenario, invalid fault...).

    :param status_code: the HTTP status the control API answered.
    :param detail: its ``detail`` (a string, or FastAPI's list of validation errors).
    """

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"emulator control API answered {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class EmulatorControl:
    """Drive a running emulator from tests.

    :param base_url: the emulator's base URL, e.g. ``http://127.0.0.1:8787``.
    :param timeout: seconds to wait for each control call.
    """

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmulatorControl({self.base_url!r})"

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            payload = err.read()
            try:
                detail = json.loads(payload).get("detail", payload)
            except ValueError:
                detail = payload.decode(errors="replace")
            raise EmulatorControlError(err.code, detail) from None

    # -- faults -------------------------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        omit_retry_after: bool = False,
        delay: float | None = None,
        drop_connection: bool = False,
        malformed_json: bool = False,
        times: int = 1,
        after_processing: bool = False,
    ) -> dict[str, Any]:
        """Make the next ``times`` Devin requests matching ``method`` and ``path_pattern`` misbehave.

        :param method: ``"GET"``, ``"POST"``... or ``"*"`` for any method.
        :param path_pattern: ``fnmatch`` pattern on the path, e.g. ``"/v1/sessions/*"`` or
            ``"/v3/organizations/*/sessions"``.
        :param status: answer 429, 500, 502 or 503 with a ``{"detail": ...}`` body (v3: a ``ProblemDetail``).
        :param retry_after: ``Retry-After`` seconds (429 sends ``1`` unless told otherwise).
        :param omit_retry_after: send no ``Retry-After`` header at all.
        :param delay: real seconds to wait first (on its own: then answer normally).
        :param drop_connection: close the socket without any HTTP response.
        :param malformed_json: answer 200 with a truncated JSON body.
        :param times: how many matching requests it applies to.
        :param after_processing: handle the request first (a create really creates a session), then
            replace the answer with the fault: the work was done but the answer was lost. With
            ``delay`` alone: the real answer comes ``delay`` seconds after the work was done (a
            slow create that succeeds although the client timed out).
        :return: the stored rule, with its ``fault_id``.
        """
        return self._call(
            "POST",
            "/faults",
            {
                "method": method,
                "path_pattern": path_pattern,
                "status": status,
                "retry_after": retry_after,
                "omit_retry_after": omit_retry_after,
                "delay": delay,
                "drop_connection": drop_connection,
                "malformed_json": malformed_json,
                "times": times,
                "after_processing": after_processing,
            },
        )

    def start_rate_limit(self, duration_s: float, retry_after_s: float = 5.0) -> dict[str, Any]:
        """A rate-limit storm: for ``duration_s`` real seconds every Devin API request (any method,
        any path, v1 and v3) is answered 429 with ``Retry-After: retry_after_s``, before any fault
        rule. Journal entries carry the storm's ``fault`` id. Ends on its own, or with
        :meth:`stop_rate_limit` or :meth:`reset`.

        :param duration_s: How long the storm lasts, in real seconds (> 0).
        :param retry_after_s: The ``Retry-After`` every answer carries (>= 0).
        :return: ``{"active", "remaining_s", "retry_after_s", "answered", "fault_id"}``.
        """
        return self._call("POST", "/rate-limit", {"duration_s": duration_s, "retry_after_s": retry_after_s})

    def rate_limit(self) -> dict[str, Any]:
        """The storm's state: ``active``, ``answered`` (requests it answered 429), ``remaining_s``..."""
        return self._call("GET", "/rate-limit")

    def stop_rate_limit(self) -> dict[str, Any]:
        """End the storm now; returns ``{"active": False, "answered": n}``."""
        return self._call("DELETE", "/rate-limit")

    def faults(self) -> list[dict[str, Any]]:
        """The rules still waiting for matching requests."""
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        """Drop every pending fault rule."""
        self._call("DELETE", "/faults")

    # -- journal ------------------------------------------------------------------------------

    def journal(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Requests the Devin API received, oldest first (the last 10,000).

        Each entry: ``method``, ``path``, ``query`` (name -> list of values), ``body`` (parsed JSON,
        a short description for multipart, or None), ``status`` (int, or ``"dropped"``), ``time``
        (ISO-8601, real clock), ``monotonic`` (the server's ``time.monotonic()``), ``user_agent``,
        ``client``, ``had_authorization`` and, when a fault applied, ``fault`` (its id). The
        ``Authorization`` header is never stored, and accepted keys are redacted everywhere.

        :param method: only this HTTP method.
        :param path: only paths matching this ``fnmatch`` pattern (an exact path matches itself).
        """
        return self._call("GET", "/journal", query={"method": method, "path": path})

    def clear_journal(self) -> None:
        """Forget the journal so far."""
        self._call("DELETE", "/journal")

    # -- sessions and time --------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        """Every session: its v1 details, its v3 state (``v3_status``, ``status_detail``,
        ``acus_consumed``, ``is_archived``... and ``v3``: the full v3 ``SessionResponse``) and
        emulator internals (scenario, pending changes...)."""
        return self._call("GET", "/sessions")

    def session(self, session_id: str) -> dict[str, Any]:
        """One session's view from :meth:`sessions` (``devin-<hex>`` or bare ``<hex>``).

        :param session_id: the session.
        :raises KeyError: when the emulator has no such session.
        """
        wanted = session_id if session_id.startswith("devin-") else f"devin-{session_id}"
        for view in self.sessions():
            if view["session_id"] == wanted:
                return view
        raise KeyError(f"the emulator has no session {session_id!r}")

    def set_scenario(self, session_id: str, scenario: str) -> dict[str, Any]:
        """Restart a session's timeline with another scenario, counted from the current emulated time.

        :param session_id: the session (``devin-...``).
        :param scenario: a scenario name (see ``scenarios()``).
        :return: the session's control view.
        """
        return self._call("POST", f"/sessions/{quote(session_id, safe='')}/scenario", {"scenario": scenario})

    def set_status(
        self,
        session_id: str,
        status_enum: Any = _UNSET,
        status: str | None = None,
        status_detail: Any = _UNSET,
        *,
        legacy_status: str | None = None,
    ) -> dict[str, Any]:
        """Force a session's status and drop its pending scheduled changes, so it stays there.

        v1 style, ``set_status(sid, "blocked")``: pins the v1 ``status_enum`` (any string, or None)
        and moves v3 to the matching pair (``running`` + ``waiting_for_user``). v3 style,
        ``set_status(sid, status="suspended", status_detail="out_of_credits")``: sets the v3 pair and
        derives v1 (``suspend_requested``). Both: v3 as given, v1 pinned to ``status_enum``.

        :param session_id: the session (``devin-...``).
        :param status_enum: the v1 value to pin.
        :param status: the v3 ``status`` when ``status_detail`` is given or ``status_enum`` is not;
            otherwise (the pre-v3 meaning) the v1 legacy ``status`` string.
        :param status_detail: the v3 ``status_detail`` (any string, or None).
        :param legacy_status: the v1 legacy ``status`` string to show.
        :return: the session's control view.
        """
        body: dict[str, Any] = {"status": status, "legacy_status": legacy_status}
        if status_enum is not _UNSET:
            body["status_enum"] = status_enum
        if status_detail is not _UNSET:
            body["status_detail"] = status_detail
        return self._call("POST", f"/sessions/{quote(session_id, safe='')}/status", body)

    def set_acus(self, session_id: str, acus: float) -> dict[str, Any]:
        """Set a session's v3 ``acus_consumed``; it keeps growing from there while the session works.

        :param session_id: the session (``devin-...``).
        :param acus: the new value (>= 0).
        :return: the session's control view.
        """
        return self._call("POST", f"/sessions/{quote(session_id, safe='')}/acus", {"acus": acus})

    def set_structured_output(self, session_id: str, value: Any) -> dict[str, Any]:
        """Give the ``structured_output`` the session reports when its scenario finishes the work.

        If the work is already done, the session shows it at once. The value is used as is (any
        JSON value, ``None`` included) and is **not** checked against the session's schema, so a
        test can hand a pipeline an invalid answer on purpose.

        :param session_id: the session (``devin-...``).
        :param value: the structured output.
        :return: the session's control view.
        """
        return self._call("POST", f"/sessions/{quote(session_id, safe='')}/structured-output", {"value": value})

    def set_default_structured_output(self, value: Any) -> None:
        """The ``structured_output`` of every session created from now on (until
        :meth:`clear_default_structured_output` or a reset), as :meth:`set_structured_output` gives it.

        :param value: the structured output (any JSON value, ``None`` included; not checked).
        """
        self._call("POST", "/default-structured-output", {"value": value})

    def clear_default_structured_output(self) -> None:
        """New sessions derive their structured output again (from the schema and the scenario)."""
        self._call("DELETE", "/default-structured-output")

    def set_allowed_tags(self, patterns: list[str] | None) -> None:
        """Org tag validation for v3: create and tag updates accept only tags matching a pattern.

        :param patterns: ``fnmatch`` patterns (e.g. ``["team:*", "airflow"]``), or None to turn it off.
            The emulator's own ``emulator-scenario:...`` tags are always accepted.
        """
        self._call("POST", "/allowed-tags", {"patterns": patterns})

    def add_api_key(
        self,
        key: str,
        *,
        org_id: str | None = None,
        principal: dict[str, Any] | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Accept one more key until the next reset (``cog_...`` = v3, anything else = v1).

        :param key: the key.
        :param org_id: the organization its v3 paths must name (default ``org-emulator``).
        :param principal: its ``GET /v3/self`` body (default: a service user of ``org_id``), e.g.
            ``{"principal_type": "service_user", "service_user_id": "su-1",
            "service_user_name": "ci", "org_id": None}``.
        :param email: the user behind it (v1 ``requesting_user_email``).
        :return: its settings (never the key).
        """
        return self._call("POST", "/api-keys", {"key": key, "org_id": org_id, "principal": principal, "email": email})

    def set_default_scenario(self, scenario: str) -> None:
        """Scenario for sessions created from now on without a prompt marker or tag.

        :param scenario: a scenario name (see ``scenarios()``).
        """
        self._call("POST", "/default-scenario", {"scenario": scenario})

    def advance(self, seconds: float) -> dict[str, Any]:
        """Jump the emulated clock forward.

        :param seconds: emulated seconds (>= 0).
        :return: the clock after the jump (see ``clock()``).
        """
        return self._call("POST", "/advance", {"seconds": seconds})

    def set_speed(self, speed: float) -> dict[str, Any]:
        """Change the clock's speed from now on (the clock does not jump).

        :param speed: emulated seconds per real second (> 0).
        :return: the clock (see ``clock()``).
        """
        return self._call("POST", "/speed", {"speed": speed})

    def clock(self) -> dict[str, Any]:
        """``{"emulated_seconds", "now", "speed", "epoch"}`` (``epoch``: the v3 timestamp of now)."""
        return self._call("GET", "/clock")

    def scenarios(self) -> list[str]:
        """The scenario names the emulator knows."""
        return self._call("GET", "/scenarios")

    def add_knowledge_folder(self, name: str, description: str = "") -> dict[str, Any]:
        """Create a knowledge folder (v1 has no endpoint for that; real orgs make them in the web app).

        :param name: the folder's name.
        :param description: its description.
        :return: the folder as ``GET /v1/knowledge`` lists it.
        """
        return self._call("POST", "/knowledge/folders", {"name": name, "description": description})

    def reset(self) -> None:
        """Forget all sessions, resources, faults, the journal, added keys, the tag allow-list, the
        default scenario and default structured output; restart the clock."""
        self._call("POST", "/reset")

    def health(self) -> bool:
        """True when the emulator answers."""
        return self._call("GET", "/health") == {"status": "ok"}
