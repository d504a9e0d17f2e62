"""The retry policy end to end: faults injected into the emulator, waits recorded by a fake clock."""

from __future__ import annotations

import socket

import pytest

from airflow_provider_devin.exceptions import (
    DevinAuthError,
    DevinConnectionError,
    DevinServerError,
)
from airflow_provider_devin.hooks.devin import DevinHook


def requests_to(devin_emulator, method, path):
    return [entry for entry in devin_emulator.control.journal(method=method) if entry["path"] == path]


@pytest.fixture
def session_id(hook):
    return hook.create_session("task")["session_id"]


def test_retry_after_header_is_honoured(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", status=429, retry_after=7)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert clock.waits == [7]
    statuses = [entry["status"] for entry in requests_to(devin_emulator, "GET", f"/v1/sessions/{session_id}")]
    assert statuses == [429, 200]


def test_a_get_is_retried_after_503_then_succeeds(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", status=503, times=2)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert len(clock.waits) == 2
    assert 0.5 <= clock.waits[0] <= 1.0 and 1.0 <= clock.waits[1] <= 2.0, "exponential backoff with jitter"


def test_a_get_is_retried_after_a_dropped_connection_and_a_broken_body(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", drop_connection=True)
    assert hook.get_session(session_id)["session_id"] == session_id
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", malformed_json=True)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert len(clock.waits) == 2


def test_send_message_is_not_retried_after_an_ambiguous_failure(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("POST", f"/v1/sessions/{session_id}/message", drop_connection=True)
    with pytest.raises(DevinConnectionError) as caught:
        hook.send_message(session_id, "only once, please")
    assert caught.value.request_sent is True
    assert clock.waits == []
    assert len(requests_to(devin_emulator, "POST", f"/v1/sessions/{session_id}/message")) == 1


def test_send_message_is_not_retried_after_a_5xx(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("POST", f"/v1/sessions/{session_id}/message", status=502)
    with pytest.raises(DevinServerError):
        hook.send_message(session_id, "only once, please")
    assert clock.waits == []


def test_send_message_is_retried_after_a_429(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("POST", f"/v1/sessions/{session_id}/message", status=429, retry_after=2)
    assert hook.send_message(session_id, "delivered once") is None
    assert clock.waits == [2]
    messages = [m for m in hook.get_session(session_id)["messages"] if m["message"] == "delivered once"]
    assert len(messages) == 1


def test_an_idempotent_create_is_retried_after_a_dropped_connection_without_a_duplicate(hook, devin_emulator, clock):
    devin_emulator.control.inject_fault("POST", "/v1/sessions", drop_connection=True)
    created = hook.create_session("exactly one", idempotent=True, tags=["airflow-ti:abc"])
    assert len(clock.waits) == 1
    assert [s["session_id"] for s in hook.list_sessions(tags=["airflow-ti:abc"])] == [created["session_id"]]


def test_a_plain_create_is_not_retried_after_a_5xx(hook, devin_emulator, clock):
    devin_emulator.control.inject_fault("POST", "/v1/sessions", status=500)
    with pytest.raises(DevinServerError, match="create session failed with HTTP 500"):
        hook.create_session("maybe created")
    assert clock.waits == []


def test_401_is_not_retried(devin_emulator, monkeypatch, clock):
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_BADKEY",
        json.dumps({"conn_type": "devin", "host": devin_emulator.base_url, "password": "apk_user_not_a_real_key"}),
    )
    hook = DevinHook("devin_badkey")
    hook._sleep = clock.sleep
    with pytest.raises(DevinAuthError, match="HTTP 401"):
        hook.list_sessions()
    assert clock.waits == []
    assert len(requests_to(devin_emulator, "GET", "/v1/sessions")) == 1


def test_a_refused_connection_is_retried_up_to_the_limit_for_any_method(monkeypatch, clock):
    import json

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_NOWHERE",
        json.dumps(
            {
                "conn_type": "devin",
                "host": f"http://127.0.0.1:{port}",
                "password": "apk_user_emulator_test_key",
                "extra": {"max_retries": 3, "max_retry_wait": 4},
            }
        ),
    )
    hook = DevinHook("devin_nowhere")
    hook._sleep = clock.sleep
    with pytest.raises(DevinConnectionError, match="never reached Devin") as caught:
        hook.send_message("devin-1", "hello")
    assert caught.value.request_sent is False
    assert len(clock.waits) == 3
    assert all(wait <= 4 for wait in clock.waits)


async def test_the_async_path_shares_the_policy(hook, devin_emulator, clock, session_id):
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", status=429, retry_after=3)
    async with hook.async_api() as api:
        details = await api.get_session(session_id)
    assert details["session_id"] == session_id
    assert clock.waits == [3]


async def test_the_async_path_does_not_retry_a_404(hook, clock):
    from airflow_provider_devin.exceptions import DevinNotFoundError

    async with hook.async_api() as api:
        with pytest.raises(DevinNotFoundError):
            await api.get_session("devin-missing")
    assert clock.waits == []
