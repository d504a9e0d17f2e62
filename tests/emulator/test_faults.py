"""Injected faults: statuses, Retry-After, delays, dropped connections, malformed JSON."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_devin.emulator import EmulatorControlError


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_injected_status_answers_the_next_matching_request_only(client, emulator, status):
    emulator.control.inject_fault("GET", "/v1/sessions", status=status)
    failed = client.get("/v1/sessions")
    assert failed.status_code == status
    assert isinstance(failed.json()["detail"], str)
    assert client.get("/v1/sessions").status_code == 200


def test_429_carries_retry_after(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", status=429, retry_after=7)
    response = client.get("/v1/sessions")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_429_defaults_to_retry_after_one_second(client, emulator):
    emulator.control.inject_fault("*", "/v1/*", status=429)
    assert client.get("/v1/secrets").headers["Retry-After"] == "1"


def test_times_counts_matching_requests_and_patterns_are_globs(client, emulator):
    session_id = client.create()["session_id"]
    emulator.control.inject_fault("GET", "/v1/sessions/*", status=503, times=2)
    assert client.get("/v1/sessions").status_code == 200, "the pattern needs a path segment after /sessions/"
    assert client.get(f"/v1/sessions/{session_id}").status_code == 503
    assert client.post(f"/v1/sessions/{session_id}/message", json={"message": "hi"}).status_code == 200
    assert client.get(f"/v1/sessions/{session_id}").status_code == 503
    assert client.get(f"/v1/sessions/{session_id}").status_code == 200
    assert emulator.control.faults() == []


def test_delay_alone_slows_the_answer_but_keeps_it(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", delay=0.5)
    started = time.monotonic()
    response = client.get("/v1/sessions")
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 200
    assert emulator.control.journal(path="/v1/sessions")[-1]["status"] == 200


def test_delay_trips_a_client_read_timeout(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", delay=2)
    with pytest.raises(requests.ReadTimeout):
        client.get("/v1/sessions", timeout=0.3)


def test_dropped_connection_gives_the_client_a_connection_error(client, emulator):
    emulator.control.inject_fault("POST", "/v1/sessions", drop_connection=True)
    with pytest.raises(requests.ConnectionError) as caught:
        client.post("/v1/sessions", json={"prompt": "x"})
    assert "RemoteDisconnected" in repr(caught.value) or "reset" in repr(caught.value).lower()
    entry = emulator.control.journal(method="POST")[-1]
    assert entry["status"] == "dropped"
    assert entry["body"] == {"prompt": "x"}
    assert client.post("/v1/sessions", json={"prompt": "x"}).status_code == 200


def test_dropped_connection_with_httpx(emulator):
    import httpx

    emulator.control.inject_fault("GET", "/v1/sessions", drop_connection=True)
    with httpx.Client(headers={"Authorization": f"Bearer {emulator.api_key}"}) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{emulator.base_url}/v1/sessions")
        assert http.get(f"{emulator.base_url}/v1/sessions").status_code == 200


def test_malformed_json_is_a_200_that_does_not_parse(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", malformed_json=True)
    response = client.get("/v1/sessions")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


def test_faults_never_touch_the_control_api(emulator):
    emulator.control.inject_fault("*", "*", status=500, times=5)
    assert emulator.control.health()
    assert len(emulator.control.faults()) == 1


def test_faulted_requests_are_journaled_with_the_injected_status(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", status=502)
    client.get("/v1/sessions")
    entry = emulator.control.journal(path="/v1/sessions")[-1]
    assert entry["status"] == 502
    assert entry["fault"] >= 1


def test_faults_apply_before_auth(emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", status=503)
    assert requests.get(f"{emulator.base_url}/v1/sessions", timeout=30).status_code == 503


@pytest.mark.parametrize(
    "kwargs",
    [{"status": 404}, {"status": 200}, {"times": 0}, {"delay": -1}, {"after_processing": True}],
)
def test_invalid_fault_rules_are_refused(emulator, kwargs):
    with pytest.raises(EmulatorControlError) as caught:
        emulator.control.inject_fault("GET", "/v1/sessions", **kwargs)
    assert caught.value.status_code in (400, 422)


def test_clear_faults_drops_pending_rules(client, emulator):
    emulator.control.inject_fault("GET", "/v1/sessions", status=500, times=3)
    emulator.control.clear_faults()
    assert client.get("/v1/sessions").status_code == 200


def test_after_processing_faults_let_the_request_take_effect(client, emulator):
    emulator.control.inject_fault("POST", "/v1/sessions", status=502, after_processing=True)
    assert client.post("/v1/sessions", json={"prompt": "x"}).status_code == 502
    assert len(emulator.control.sessions()) == 1, "the session exists although the client saw a 502"
    assert emulator.control.journal(method="POST")[-1]["status"] == 502


def test_before_processing_faults_do_not_reach_the_app(client, emulator):
    emulator.control.inject_fault("POST", "/v1/sessions", status=502)
    assert client.post("/v1/sessions", json={"prompt": "x"}).status_code == 502
    assert emulator.control.sessions() == []


def test_a_rate_limit_storm_answers_every_api_request_429_until_it_ends(client, emulator):
    session_id = client.create()["session_id"]
    storm = emulator.control.start_rate_limit(0.6, retry_after_s=3)
    assert storm["active"] and storm["retry_after_s"] == 3
    answers = [
        client.get("/v1/sessions"),
        client.get(f"/v1/sessions/{session_id}"),
        client.post(f"/v1/sessions/{session_id}/message", json={"message": "hi"}),
    ]
    assert [answer.status_code for answer in answers] == [429, 429, 429]
    assert {answer.headers["Retry-After"] for answer in answers} == {"3"}
    assert emulator.control.health(), "the control API is never rate-limited"
    assert emulator.control.rate_limit()["answered"] == 3
    journal = emulator.control.journal()
    assert [entry["status"] for entry in journal[-3:]] == [429, 429, 429]
    assert {entry["fault"] for entry in journal[-3:]} == {storm["fault_id"]}
    time.sleep(0.7)
    assert client.get(f"/v1/sessions/{session_id}").status_code == 200
    assert emulator.control.rate_limit()["active"] is False


def test_a_rate_limit_storm_can_be_stopped_early_and_is_checked(client, emulator):
    emulator.control.start_rate_limit(60, retry_after_s=1)
    assert client.get("/v1/sessions").status_code == 429
    assert emulator.control.stop_rate_limit() == {"active": False, "answered": 1}
    assert client.get("/v1/sessions").status_code == 200
    with pytest.raises(EmulatorControlError):
        emulator.control.start_rate_limit(0)
