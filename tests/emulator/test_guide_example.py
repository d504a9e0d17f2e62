"""The complete example from docs/emulator.md: a user's own Devin code, tested against the emulator.

Everything between the ``--8<--`` markers is shown in the docs as it stands; the tests below it
make sure the page never shows code that does not work.
"""

from __future__ import annotations

# --8<-- [start:example]
# test_triage.py: runs with plain `pytest`, no Devin account, no network, no extra setup.
import time

import pytest

from airflow_provider_devin.hooks.devin import DevinHook

TRIAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "root_cause": {"type": "string", "minLength": 10},
        "severity": {"enum": ["low", "medium", "high"]},
        "fixed": {"type": "boolean"},
    },
    "required": ["root_cause", "severity", "fixed"],
}


def triage(flaky_test: str, *, poll_every: float = 0.05, give_up_after: float = 30) -> dict:
    """The code under test: ask Devin to triage a flaky test and wait for its structured answer."""
    hook = DevinHook()  # the "devin_default" connection
    session = hook.create_session(
        f"Find out why {flaky_test} is flaky and fix it.",
        structured_output_schema=TRIAGE_SCHEMA,
        tags=["triage"],
    )
    deadline = time.monotonic() + give_up_after
    while time.monotonic() < deadline:
        details = hook.get_session(session["session_id"])
        if details["status_enum"] in ("finished", "blocked"):
            return {"url": session["url"], "pull_request": details["pull_request"], **details["structured_output"]}
        if details["status_enum"] == "expired":
            raise RuntimeError(f"Devin session {session['session_id']} expired")
        time.sleep(poll_every)
    raise TimeoutError(f"Devin session {session['session_id']} still running")


def test_triage_returns_devins_structured_answer(devin_emulator):
    # The fixture started the emulator and pointed AIRFLOW_CONN_DEVIN_DEFAULT at it.
    result = triage("tests/test_api.py::test_login")

    assert result["severity"] in ("low", "medium", "high")
    assert len(result["root_cause"]) >= 10
    [create] = devin_emulator.control.journal(method="POST", path="/v1/sessions")
    assert create["body"]["tags"] == ["triage"]


def test_triage_reports_the_pull_request(devin_emulator):
    devin_emulator.control.set_default_scenario("pull_request")

    result = triage("tests/test_api.py::test_login")

    assert result["pull_request"]["url"].startswith("https://github.com/")


def test_triage_survives_a_devin_outage(devin_emulator):
    devin_emulator.control.inject_fault("GET", "/v1/sessions/*", status=503, times=2)

    triage("tests/test_api.py::test_login")

    statuses = [entry["status"] for entry in devin_emulator.control.journal(method="GET")]
    assert statuses[:3] == [503, 503, 200]


def test_triage_fails_loudly_when_the_session_expires(devin_emulator):
    devin_emulator.control.set_default_scenario("expire")

    with pytest.raises(RuntimeError, match="expired"):
        triage("tests/test_api.py::test_login")


# --8<-- [end:example]
