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
        delay: float | None = None,
        drop_connection: bool = False,
        malformed_json: bool = False,
        times: int = 1,
        after_processing: bool = False,
    ) -> dict[str, Any]:
        """Make the next ``times`` Devin requests matching ``method`` and ``path_pattern`` misbehave.

        :param method: ``"GET"``, ``"POST"``... or ``"*"`` for any method.
        :param path_pattern: ``fnmatch`` pattern on the path, e.g. ``"/v1/sessions/*"``.
        :param status: answer 429, 500, 502 or 503 with a ``{"detail": ...}`` body.
        :param retry_after: ``Retry-After`` seconds (429 sends ``1`` unless told otherwise).
        :param delay: real seconds to wait first (on its own: then answer normally).
        :param drop_connection: close the socket without any HTTP response.
        :param malformed_json: answer 200 with a truncated JSON body.
        :param times: how many matching requests it applies to.
        :param after_processing: handle the request first (a create really creates a session), then
            replace the answer with the fault: the work was done but the answer was lost.
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
                "delay": delay,
                "drop_connection": drop_connection,
                "malformed_json": malformed_json,
                "times": times,
                "after_processing": after_processing,
            },
        )

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
        """Every session with its details plus emulator internals (scenario, pending changes...)."""
        return self._call("GET", "/sessions")

    def set_scenario(self, session_id: str, scenario: str) -> dict[str, Any]:
        """Restart a session's timeline with another scenario, counted from the current emulated time.

        :param session_id: the session (``devin-...``).
        :param scenario: a scenario name (see ``scenarios()``).
        :return: the session's control view.
        """
        return self._call("POST", f"/sessions/{quote(session_id, safe='')}/scenario", {"scenario": scenario})

    def set_status(self, session_id: str, status_enum: str | None, status: str | None = None) -> dict[str, Any]:
        """Force a session's status and drop its pending scheduled changes, so it stays there.

        :param session_id: the session (``devin-...``).
        :param status_enum: any string (including values v1 does not define), or None.
        :param status: the legacy ``status`` string; derived from ``status_enum`` when omitted.
        :return: the session's control view.
        """
        return self._call(
            "POST",
            f"/sessions/{quote(session_id, safe='')}/status",
            {"status_enum": status_enum, "status": status},
        )

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
        """``{"emulated_seconds", "now", "speed"}``."""
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
        """Forget all sessions, resources, faults and the journal; restart the clock."""
        self._call("POST", "/reset")

    def health(self) -> bool:
        """True when the emulator answers."""
        return self._call("GET", "/health") == {"status": "ok"}
