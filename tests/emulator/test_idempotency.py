"""Idempotent create: the emulator's reading is "same key + identical body = same session"."""

from __future__ import annotations

import requests


def test_identical_idempotent_create_returns_the_existing_session(client, emulator):
    body = {"prompt": "Nightly fix run=42", "idempotent": True, "tags": ["airflow-ti:abc"]}
    first = client.post("/v1/sessions", json=body).json()
    second = client.post("/v1/sessions", json=body).json()
    assert first["is_new_session"] is True
    assert second == {"session_id": first["session_id"], "url": first["url"], "is_new_session": False}
    assert len(emulator.control.sessions()) == 1


def test_key_order_in_the_body_does_not_matter(client):
    first = client.post("/v1/sessions", json={"prompt": "p", "idempotent": True, "title": "t"}).json()
    second = client.post("/v1/sessions", json={"title": "t", "idempotent": True, "prompt": "p"}).json()
    assert second["session_id"] == first["session_id"]


def test_explicit_defaults_count_as_the_same_body(client):
    first = client.post("/v1/sessions", json={"prompt": "p", "idempotent": True}).json()
    second = client.post(
        "/v1/sessions", json={"prompt": "p", "idempotent": True, "tags": None, "unlisted": False}
    ).json()
    assert second["session_id"] == first["session_id"]


def test_any_other_body_creates_a_new_session(client):
    first = client.post("/v1/sessions", json={"prompt": "p", "idempotent": True}).json()
    other = client.post("/v1/sessions", json={"prompt": "p", "idempotent": True, "tags": ["x"]}).json()
    assert other["is_new_session"] is True
    assert other["session_id"] != first["session_id"]


def test_non_idempotent_creates_always_make_new_sessions(client):
    ids = {client.post("/v1/sessions", json={"prompt": "same"}).json()["session_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_non_idempotent_create_does_not_reuse_an_idempotent_one(client):
    first = client.post("/v1/sessions", json={"prompt": "p", "idempotent": True}).json()
    plain = client.post("/v1/sessions", json={"prompt": "p"}).json()
    assert plain["session_id"] != first["session_id"]
    assert plain["is_new_session"] is True


def test_idempotency_is_scoped_to_the_api_key():
    from airflow_provider_devin.emulator import EmulatorServer

    with EmulatorServer(api_keys=["apk_one", "apk_two"]) as server:
        body = {"prompt": "p", "idempotent": True}
        answers = [
            requests.post(
                f"{server.base_url}/v1/sessions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ).json()
            for key in ("apk_one", "apk_two", "apk_one")
        ]
    assert answers[0]["session_id"] != answers[1]["session_id"]
    assert answers[2]["session_id"] == answers[0]["session_id"]


def test_idempotent_retry_after_a_dropped_connection_finds_the_session(client, emulator):
    """The case idempotency exists for: the create landed, the answer was lost."""
    import pytest

    body = {"prompt": "p", "idempotent": True}
    emulator.control.inject_fault("POST", "/v1/sessions", drop_connection=True, after_processing=True)
    with pytest.raises(requests.ConnectionError):
        client.post("/v1/sessions", json=body)
    [created] = emulator.control.sessions()
    retried = client.post("/v1/sessions", json=body).json()
    assert retried["session_id"] == created["session_id"]
    assert retried["is_new_session"] is False
