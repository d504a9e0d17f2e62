"""Contract 5.x: every session endpoint answers with the documented shapes and status codes."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

SESSION_ID = re.compile(r"^devin-[0-9a-f]{32}$")
SUMMARY_FIELDS = {
    "session_id",
    "status",
    "title",
    "created_at",
    "updated_at",
    "snapshot_id",
    "playbook_id",
    "tags",
    "pull_request",
    "structured_output",
    "status_enum",
    "requesting_user_email",
}
DETAIL_FIELDS = {
    "session_id",
    "status",
    "status_enum",
    "title",
    "created_at",
    "updated_at",
    "snapshot_id",
    "playbook_id",
    "tags",
    "pull_request",
    "structured_output",
    "messages",
}


def assert_iso_with_offset(value: str) -> None:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    assert value.endswith("+00:00"), value


def test_create_returns_id_url_and_is_new_session(client, emulator):
    created = client.create("Refactor the parser", title="Parser refactor")
    assert set(created) == {"session_id", "url", "is_new_session"}
    assert SESSION_ID.match(created["session_id"])
    hex_part = created["session_id"].removeprefix("devin-")
    assert created["url"] == f"{emulator.base_url}/sessions/{hex_part}"
    assert created["is_new_session"] is True


def test_get_session_has_every_documented_field_with_the_right_types(client):
    created = client.create("Refactor the parser", tags=["team-a"], playbook_id="playbook-1", snapshot_id="s-1")
    details = client.session(created["session_id"])
    assert set(details) == DETAIL_FIELDS
    assert details["session_id"] == created["session_id"]
    assert details["status"] == "running"
    assert details["status_enum"] == "working"
    assert details["title"] == "Refactor the parser"
    assert details["tags"] == ["team-a"]
    assert details["playbook_id"] == "playbook-1"
    assert details["snapshot_id"] == "s-1"
    assert details["pull_request"] is None
    assert details["structured_output"] is None
    assert_iso_with_offset(details["created_at"])
    assert_iso_with_offset(details["updated_at"])
    [first] = details["messages"]
    assert first["type"] == "initial_user_message"
    assert first["message"] == "Refactor the parser"
    assert first["event_id"].startswith("event-")
    assert first["username"] == "emulator-user@example.com"
    assert first["origin"] == "api"
    assert_iso_with_offset(first["timestamp"])


def test_singular_get_path_is_an_alias(client):
    session_id = client.create()["session_id"]
    response = client.get(f"/v1/session/{session_id}")
    assert response.status_code == 200
    assert response.json()["session_id"] == session_id


def test_list_sessions_wraps_summaries_newest_first(client):
    older = client.create("first")["session_id"]
    newer = client.create("second")["session_id"]
    response = client.get("/v1/sessions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"sessions"}
    assert [s["session_id"] for s in body["sessions"]] == [newer, older]
    assert set(body["sessions"][0]) == SUMMARY_FIELDS
    assert body["sessions"][0]["requesting_user_email"] == "emulator-user@example.com"


def test_list_sessions_filters_by_every_given_tag(client):
    both = client.create("a", tags=["x", "y"])["session_id"]
    client.create("b", tags=["x"])
    client.create("c")
    only_x = client.get("/v1/sessions", params={"tags": ["x"]}).json()["sessions"]
    x_and_y = client.get("/v1/sessions", params=[("tags", "x"), ("tags", "y")]).json()["sessions"]
    assert len(only_x) == 2
    assert [s["session_id"] for s in x_and_y] == [both]


def test_list_sessions_filters_by_user_email(client):
    client.create("mine")
    assert len(client.get("/v1/sessions", params={"user_email": "emulator-user@example.com"}).json()["sessions"]) == 1
    assert client.get("/v1/sessions", params={"user_email": "other@example.com"}).json()["sessions"] == []


def test_list_sessions_pages_with_limit_and_offset(client):
    ids = [client.create(f"task {n}")["session_id"] for n in range(5)]
    newest_first = list(reversed(ids))
    page1 = client.get("/v1/sessions", params={"limit": 2, "offset": 0}).json()["sessions"]
    page3 = client.get("/v1/sessions", params={"limit": 2, "offset": 4}).json()["sessions"]
    assert [s["session_id"] for s in page1] == newest_first[:2]
    assert [s["session_id"] for s in page3] == newest_first[4:]


def test_unlisted_sessions_are_hidden_from_the_list_but_readable(client):
    session_id = client.create("secret work", unlisted=True)["session_id"]
    assert client.get("/v1/sessions").json()["sessions"] == []
    assert client.session(session_id)["session_id"] == session_id


def test_send_message_returns_null_and_appears_as_user_message(client):
    session_id = client.create()["session_id"]
    response = client.post(f"/v1/sessions/{session_id}/message", json={"message": "Please add tests"})
    assert response.status_code == 200
    assert response.json() is None
    last = client.session(session_id)["messages"][-1]
    assert last["type"] == "user_message"
    assert last["message"] == "Please add tests"
    assert last["origin"] == "api"
    assert last["username"] == "emulator-user@example.com"


def test_singular_message_path_is_an_alias(client):
    session_id = client.create()["session_id"]
    response = client.post(f"/v1/session/{session_id}/message", json={"message": "hello"})
    assert response.status_code == 200
    assert client.session(session_id)["messages"][-1]["message"] == "hello"


def test_update_tags_replaces_the_list(client):
    session_id = client.create(tags=["old"])["session_id"]
    response = client.put(f"/v1/sessions/{session_id}/tags", json={"tags": ["new", "other"]})
    assert response.status_code == 200
    assert isinstance(response.json()["detail"], str)
    assert client.session(session_id)["tags"] == ["new", "other"]


def test_terminate_answers_detail_then_refuses_an_exited_session(client):
    session_id = client.create()["session_id"]
    first = client.delete(f"/v1/sessions/{session_id}")
    assert first.status_code == 200
    assert isinstance(first.json()["detail"], str)
    details = client.session(session_id)
    assert details["status"] == "stopped"
    assert details["status_enum"] == "expired"
    again = client.delete(f"/v1/sessions/{session_id}")
    assert again.status_code == 400
    assert "already exited" in again.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/sessions/devin-{missing}", None),
        ("GET", "/v1/session/devin-{missing}", None),
        ("POST", "/v1/sessions/devin-{missing}/message", {"message": "hi"}),
        ("PUT", "/v1/sessions/devin-{missing}/tags", {"tags": []}),
        ("DELETE", "/v1/sessions/devin-{missing}", None),
    ],
)
def test_unknown_session_is_404_with_string_detail(client, method, path, body):
    response = client.request(method, path.format(missing="0" * 32), json=body)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "Missing"),
        ({"Authorization": "Bearer apk_user_wrong"}, "Invalid"),
        ({"Authorization": "Basic x"}, "Missing"),
    ],
)
def test_missing_or_unknown_key_is_401_with_string_detail(emulator, headers, expected):
    import requests

    response = requests.get(f"{emulator.base_url}/v1/sessions", headers=headers, timeout=30)
    assert response.status_code == 401
    assert expected in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"prompt": ""}, ["body", "prompt"]),
        ({}, ["body", "prompt"]),
        ({"prompt": "x", "max_acu_limit": 0}, ["body", "max_acu_limit"]),
        ({"prompt": "x", "max_acu_limit": -5}, ["body", "max_acu_limit"]),
        ({"prompt": "x", "tags": [f"t{n}" for n in range(51)]}, ["body", "tags"]),
        (
            {"prompt": "x", "structured_output_schema": {"type": "object", "description": "d" * (64 * 1024)}},
            ["body", "structured_output_schema"],
        ),
        (
            {"prompt": "x", "structured_output_schema": {"$ref": "https://example.com/schema.json"}},
            ["body", "structured_output_schema"],
        ),
        ({"prompt": "x", "structured_output_schema": {"type": "no-such-type"}}, ["body", "structured_output_schema"]),
        ({"prompt": "x [emulator:scenario=nope]"}, ["body", "prompt"]),
        ({"prompt": "x", "tags": ["emulator-scenario:nope"]}, ["body", "tags"]),
    ],
)
def test_invalid_create_bodies_are_422_in_fastapi_shape(client, body, loc):
    response = client.post("/v1/sessions", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    assert any(error["loc"] == loc for error in errors), errors
    for error in errors:
        assert isinstance(error["msg"], str)
        assert isinstance(error["type"], str)


def test_fifty_tags_and_a_schema_just_under_64_kb_are_accepted(client):
    schema = {"type": "object", "description": "d" * (64 * 1024 - 100)}
    response = client.post(
        "/v1/sessions", json={"prompt": "x", "tags": [f"t{n}" for n in range(50)], "structured_output_schema": schema}
    )
    assert response.status_code == 200


def test_empty_message_and_too_many_tags_on_update_are_422(client):
    session_id = client.create()["session_id"]
    assert client.post(f"/v1/sessions/{session_id}/message", json={"message": ""}).status_code == 422
    assert client.post(f"/v1/sessions/{session_id}/message", json={}).status_code == 422
    response = client.put(f"/v1/sessions/{session_id}/tags", json={"tags": [str(n) for n in range(51)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "tags"]


def test_message_to_a_suspended_session_answers_200_with_detail_and_is_not_delivered(client, emulator):
    session_id = client.create("x [emulator:scenario=suspend]")["session_id"]
    emulator.control.advance(30)
    before = client.session(session_id)["messages"]
    response = client.post(f"/v1/sessions/{session_id}/message", json={"message": "wake up"})
    assert response.status_code == 200
    assert "suspended" in response.json()["detail"]
    after = client.session(session_id)
    assert after["messages"] == before
    assert after["status_enum"] == "suspend_requested"


def test_message_to_an_expired_session_answers_200_with_detail(client, emulator):
    session_id = client.create("x", tags=["emulator-scenario:expire"])["session_id"]
    emulator.control.advance(30)
    response = client.post(f"/v1/sessions/{session_id}/message", json={"message": "hello?"})
    assert response.status_code == 200
    assert "expired" in response.json()["detail"]


def test_title_is_generated_from_the_prompt_when_not_given(client):
    session_id = client.create("Fix the login bug [emulator:scenario=finish]\nDetails follow")["session_id"]
    assert client.session(session_id)["title"] == "Fix the login bug"


def test_keys_can_be_mapped_to_users(tmp_path):
    import requests

    from airflow_provider_devin.emulator import EmulatorServer

    with EmulatorServer(api_keys={"apk_alice": "alice@example.com", "apk_bob": "bob@example.com"}) as server:
        for key in ("apk_alice", "apk_bob"):
            requests.post(
                f"{server.base_url}/v1/sessions",
                json={"prompt": key},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            ).raise_for_status()
        listing = requests.get(
            f"{server.base_url}/v1/sessions",
            params={"user_email": "bob@example.com"},
            headers={"Authorization": "Bearer apk_alice"},
            timeout=30,
        ).json()["sessions"]
        assert [s["title"] for s in listing] == ["apk_bob"]
        assert (
            requests.get(
                f"{server.base_url}/v1/sessions", headers={"Authorization": f"Bearer {server.api_key}"}, timeout=30
            ).status_code
            == 200
        )
