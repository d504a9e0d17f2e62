"""The retry policy end to end, on both API versions: faults injected into the emulator, waits
recorded by a fake clock."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_devin.exceptions import (
    DevinAuthError,
    DevinConnectionError,
    DevinNotFoundError,
    DevinServerError,
)
from airflow_provider_devin.hooks.devin import DevinHook

both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


def requests_to(devin_emulator, method, path):
    return [entry for entry in devin_emulator.control.journal(method=method) if entry["path"] == path]


@pytest.fixture
def session_id(hook):
    return hook.create_session("task")["session_id"]


@both_versions
def test_retry_after_header_is_honoured(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("GET", api.session(session_id), status=429, retry_after=7)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert clock.waits == [7]
    statuses = [entry["status"] for entry in requests_to(devin_emulator, "GET", api.session(session_id))]
    assert statuses == [429, 200]


@both_versions
def test_a_get_is_retried_after_503_then_succeeds(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("GET", api.session(session_id), status=503, times=2)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert len(clock.waits) == 2
    assert 0.5 <= clock.waits[0] <= 1.0 and 1.0 <= clock.waits[1] <= 2.0, "exponential backoff with jitter"


@both_versions
def test_a_get_is_retried_after_a_dropped_connection_and_a_broken_body(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("GET", api.session(session_id), drop_connection=True)
    assert hook.get_session(session_id)["session_id"] == session_id
    devin_emulator.control.inject_fault("GET", api.session(session_id), malformed_json=True)
    assert hook.get_session(session_id)["session_id"] == session_id
    assert len(clock.waits) == 2


@both_versions
def test_send_message_is_not_retried_after_an_ambiguous_failure(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("POST", api.message(session_id), drop_connection=True)
    with pytest.raises(DevinConnectionError) as caught:
        hook.send_message(session_id, "only once, please")
    assert caught.value.request_sent is True
    assert clock.waits == []
    assert len(requests_to(devin_emulator, "POST", api.message(session_id))) == 1


@both_versions
def test_send_message_is_not_retried_after_a_5xx(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("POST", api.message(session_id), status=502)
    with pytest.raises(DevinServerError):
        hook.send_message(session_id, "only once, please")
    assert clock.waits == []


@both_versions
def test_send_message_is_retried_after_a_429(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("POST", api.message(session_id), status=429, retry_after=2)
    assert hook.send_message(session_id, "delivered once") is None
    assert clock.waits == [2]
    messages = [m for m in hook.read_session(session_id).new_messages if m.text == "delivered once"]
    assert len(messages) == 1


def test_an_idempotent_create_is_retried_after_a_dropped_connection_without_a_duplicate(hook, devin_emulator, clock):
    devin_emulator.control.inject_fault("POST", "/v1/sessions", drop_connection=True)
    created = hook.create_session("exactly one", idempotent=True, tags=["airflow-ti:abc"])
    assert len(clock.waits) == 1
    assert [s["session_id"] for s in hook.list_sessions(tags=["airflow-ti:abc"])] == [created["session_id"]]


@both_versions
def test_a_plain_create_is_not_retried_after_a_5xx(hook, devin_emulator, clock, api):
    devin_emulator.control.inject_fault("POST", api.sessions, status=500)
    with pytest.raises(DevinServerError, match="create session failed with HTTP 500"):
        hook.create_session("maybe created")
    assert clock.waits == []
    assert len(api.creates(devin_emulator.control)) == 1


@pytest.mark.parametrize("devin_api_version", ["v3"])
def test_a_v3_create_is_never_repeated_after_a_lost_response(hook, devin_emulator, clock, api):
    devin_emulator.control.inject_fault("POST", api.sessions, drop_connection=True, after_processing=True)
    with pytest.raises(DevinConnectionError) as caught:
        hook.create_session("created, answer lost", tags=["airflow-ti:lost"])
    assert caught.value.request_sent is True
    assert clock.waits == []
    assert len(api.creates(devin_emulator.control)) == 1
    assert [view.tags for view in hook.find_sessions("airflow-ti:lost")] == [("airflow-ti:lost",)]


@pytest.mark.parametrize(
    ("devin_api_version", "bad_key"), [("v1", "apk_user_not_a_real_key"), ("v3", "cog_not_a_real_key")]
)
def test_401_is_not_retried(devin_emulator, monkeypatch, clock, bad_key):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_BADKEY",
        json.dumps(
            {"conn_type": "devin", "host": devin_emulator.base_url, "password": bad_key, "extra": {"org_id": "org-x"}}
        ),
    )
    hook = DevinHook("devin_badkey")
    hook._sleep = clock.sleep
    with pytest.raises(DevinAuthError, match="HTTP 401"):
        hook.list_sessions()
    assert clock.waits == []
    assert len(devin_emulator.control.journal()) == 1


@pytest.mark.parametrize("key", ["apk_user_emulator_test_key", "cog_emulator_test_key"])
def test_a_refused_connection_is_retried_up_to_the_limit_for_any_method(monkeypatch, clock, key):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_NOWHERE",
        json.dumps(
            {
                "conn_type": "devin",
                "host": f"http://127.0.0.1:{port}",
                "password": key,
                "extra": {"max_retries": 3, "max_retry_wait": 4, "org_id": "org-emulator"},
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


@both_versions
async def test_the_async_path_shares_the_policy(hook, devin_emulator, clock, session_id, api):
    devin_emulator.control.inject_fault("GET", api.session(session_id), status=429, retry_after=3)
    async with hook.async_api() as api_client:
        details = await api_client.get_session(session_id)
    assert details["session_id"] == session_id
    assert clock.waits == [3]


@both_versions
async def test_the_async_path_does_not_retry_a_404(hook, clock):
    async with hook.async_api() as api_client:
        with pytest.raises(DevinNotFoundError):
            await api_client.get_session("devin-missing")
    assert clock.waits == []
