"""The request journal: what it records, how it filters, and that it never holds the key."""

from __future__ import annotations

import json
import time

import requests


def test_journal_records_method_path_query_body_status_and_client(client, emulator):
    client.http.headers["User-Agent"] = "journal-test/1.0"
    client.post("/v1/sessions", json={"prompt": "x", "tags": ["a"]})
    client.get("/v1/sessions", params={"limit": 5, "tags": ["a", "b"]})
    post, get = emulator.control.journal()
    assert post["method"] == "POST"
    assert post["path"] == "/v1/sessions"
    assert post["body"] == {"prompt": "x", "tags": ["a"]}
    assert post["status"] == 200
    assert post["user_agent"] == "journal-test/1.0"
    assert post["client"].startswith("127.0.0.1:")
    assert post["had_authorization"] is True
    assert get["query"] == {"limit": ["5"], "tags": ["a", "b"]}
    assert get["body"] is None
    assert post["time"] < get["time"]


def test_journal_filters_by_method_and_path_pattern(client, emulator):
    session_id = client.create()["session_id"]
    client.get(f"/v1/sessions/{session_id}")
    client.get("/v1/secrets")
    assert [e["path"] for e in emulator.control.journal(method="get")] == [f"/v1/sessions/{session_id}", "/v1/secrets"]
    assert len(emulator.control.journal(path="/v1/sessions*")) == 2
    assert emulator.control.journal(path=f"/v1/sessions/{session_id}")[0]["method"] == "GET"


def test_journal_does_not_record_control_calls_and_can_be_cleared(client, emulator):
    emulator.control.sessions()
    client.get("/v1/sessions")
    assert len(emulator.control.journal()) == 1
    emulator.control.clear_journal()
    assert emulator.control.journal() == []


def test_multipart_bodies_are_described_not_stored(client, emulator):
    client.post("/v1/attachments", files={"file": ("notes.txt", b"hello")})
    body = emulator.control.journal(path="/v1/attachments")[0]["body"]
    assert body.startswith("<multipart/form-data:")
    assert "hello" not in body


def test_journal_never_contains_the_api_key(emulator):
    key = emulator.api_key
    base = emulator.base_url
    auth = {"Authorization": f"Bearer {key}"}
    requests.get(f"{base}/v1/sessions", headers=auth, timeout=30)
    # Careless clients: the key in the query string, the body, the user agent and the path.
    requests.get(f"{base}/v1/sessions", params={"api_key": key}, headers=auth, timeout=30)
    requests.post(f"{base}/v1/sessions", json={"prompt": f"use {key}", "title": key}, headers=auth, timeout=30)
    requests.post(f"{base}/v1/secrets", data=f"not json {key}", headers=auth, timeout=30)
    requests.get(f"{base}/v1/sessions/{key}", headers={**auth, "User-Agent": f"agent {key}"}, timeout=30)
    requests.get(f"{base}/v1/sessions", headers={"Authorization": "Bearer apk_user_some_other_leaked_key"}, timeout=30)
    emulator.control.inject_fault("GET", "/v1/secrets", drop_connection=True)
    try:
        requests.get(f"{base}/v1/secrets", params={"k": key}, headers=auth, timeout=30)
    except requests.ConnectionError:
        pass
    journal = emulator.control.journal()
    assert len(journal) == 7
    dumped = json.dumps(journal)
    assert key not in dumped
    assert "apk_user_some_other_leaked_key" not in dumped, "an unknown presented key is redacted too"
    assert "Bearer" not in dumped
    assert journal[1]["query"] == {"api_key": ["***"]}
    assert journal[2]["body"]["title"] == "***"


def test_secret_values_are_redacted_in_the_journal(client, emulator):
    client.post("/v1/secrets", json={"type": "key-value", "key": "TOKEN", "value": "s3cr3t-value", "sensitive": True})
    client.post(
        "/v1/sessions",
        json={"prompt": "x", "session_secrets": [{"key": "A", "value": "inline-s3cr3t", "sensitive": True}]},
    )
    dumped = json.dumps(emulator.control.journal()) + json.dumps(emulator.control.sessions())
    assert "s3cr3t-value" not in dumped
    assert "inline-s3cr3t" not in dumped


def test_blob_downloads_are_journaled_without_authorization(client, emulator):
    url = client.post("/v1/attachments", files={"file": ("a.txt", b"data")}).json()
    assert client.http.get(url, timeout=30).content == b"data"
    blob = emulator.control.journal(path="/_emulator/blob/*")
    assert len(blob) == 1
    assert blob[0]["had_authorization"] is False, "requests drops Authorization on a cross-host redirect"
    assert blob[0]["status"] == 200


def test_requests_still_in_flight_at_reset_are_not_journaled_afterwards(client, emulator):
    import threading

    emulator.control.inject_fault("GET", "/v1/secrets", delay=1.0)
    slow = threading.Thread(target=lambda: client.get("/v1/secrets"))
    slow.start()
    time.sleep(0.3)
    emulator.control.reset()
    slow.join()
    assert emulator.control.journal() == []
