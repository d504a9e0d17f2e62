"""Every DevinHook method against the emulator, a real Devin v1 server on loopback."""

from __future__ import annotations

import io

import pytest

from airflow_provider_devin.exceptions import DevinAPIError, DevinNotFoundError, DevinValidationError
from airflow_provider_devin.hooks._http import ApiRequest


def creates(devin_emulator):
    return [entry for entry in devin_emulator.control.journal(method="POST") if entry["path"] == "/v1/sessions"]


def test_create_then_get_a_session(hook, devin_emulator):
    created = hook.create_session("Fix the flaky test", title="flaky", tags=["team-data"])
    assert created["session_id"].startswith("devin-")
    assert created["url"].startswith(devin_emulator.base_url)
    assert created["is_new_session"] is True

    details = hook.get_session(created["session_id"])
    assert details["session_id"] == created["session_id"]
    assert details["title"] == "flaky"
    assert details["tags"] == ["team-data"]
    assert details["messages"][0]["type"] == "initial_user_message"
    assert details["messages"][0]["message"] == "Fix the flaky test"


def test_create_sends_empty_lists_and_omits_none(hook, devin_emulator):
    hook.create_session("x", knowledge_ids=[], secret_ids=None, max_acu_limit=3, unlisted=True)
    (entry,) = creates(devin_emulator)
    assert entry["body"]["knowledge_ids"] == []
    assert "secret_ids" not in entry["body"]
    assert entry["body"]["max_acu_limit"] == 3
    assert entry["body"]["unlisted"] is True


def test_an_idempotent_create_repeated_returns_the_same_session(hook):
    first = hook.create_session("same task", idempotent=True, tags=["k"])
    second = hook.create_session("same task", idempotent=True, tags=["k"])
    assert second["session_id"] == first["session_id"]
    assert second["is_new_session"] is False


def test_list_sessions_filters_by_tag_and_pages(hook, devin_emulator):
    for index in range(5):
        hook.create_session(f"task {index}", tags=["batch-7"])
    hook.create_session("unrelated", tags=["other"])

    assert len(hook.list_sessions(tags=["batch-7"], limit=100)) == 5
    assert len(hook.list_sessions(tags=["batch-7"], limit=2, offset=4)) == 1

    before = len(devin_emulator.control.journal(method="GET", path="/v1/sessions"))
    found = list(hook.iter_sessions(tags=["batch-7"], page_size=2))
    after = len(devin_emulator.control.journal(method="GET", path="/v1/sessions"))
    assert len(found) == 5
    assert len({session["session_id"] for session in found}) == 5
    assert after - before == 3, "pages of 2, 2 and a short page of 1"


def test_send_message_appears_as_a_user_message(hook):
    session_id = hook.create_session("task")["session_id"]
    assert hook.send_message(session_id, "Please also update the changelog.") is None
    messages = hook.get_session(session_id)["messages"]
    assert any(m["type"] == "user_message" and m["message"] == "Please also update the changelog." for m in messages)


def test_update_session_tags_replaces_them(hook):
    session_id = hook.create_session("task", tags=["a"])["session_id"]
    hook.update_session_tags(session_id, ["b", "c"])
    assert hook.get_session(session_id)["tags"] == ["b", "c"]


def test_terminate_ends_the_session_and_a_second_terminate_is_a_4xx(hook):
    session_id = hook.create_session("task")["session_id"]
    hook.terminate_session(session_id)
    with pytest.raises(DevinAPIError) as caught:
        hook.terminate_session(session_id)
    assert 400 <= caught.value.status_code < 500
    assert session_id in str(caught.value)


def test_an_unknown_session_is_not_found(hook):
    with pytest.raises(DevinNotFoundError, match="get session devin-doesnotexist failed with HTTP 404"):
        hook.get_session("devin-doesnotexist")


def test_a_server_side_422_carries_the_detail_list(hook):
    request = ApiRequest.build("create session", "POST", "/v1/sessions", json_body={"prompt": "x", "max_acu_limit": 0})
    with pytest.raises(DevinValidationError) as caught:
        hook._call(request)
    assert caught.value.status_code == 422
    assert any(error["loc"][-1] == "max_acu_limit" for error in caught.value.errors)
    assert "max_acu_limit" in str(caught.value)


@pytest.mark.parametrize("kind", ["path", "bytes", "file"])
def test_upload_then_download_an_attachment(hook, tmp_path, kind):
    content = b"id,amount\n1,-5\n"
    path = tmp_path / "failing_rows.csv"
    path.write_bytes(content)
    source = {"path": path, "bytes": content, "file": io.BytesIO(content)}[kind]
    url = hook.upload_attachment(source, filename="failing_rows.csv")
    assert url.startswith("http") and url.endswith("/failing_rows.csv")
    assert '"' not in url
    assert hook.download_attachment(url) == content


def test_uploading_a_missing_file_fails_before_any_request(hook, devin_emulator, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        hook.upload_attachment(tmp_path / "nope.csv")
    assert devin_emulator.control.journal(method="POST") == []


def test_secrets_lifecycle(hook):
    secret_id = hook.create_secret("key-value", "WAREHOUSE_TOKEN", "s3cr3t-value", note="dbt")
    listed = hook.list_secrets()
    assert {"id": secret_id, "type": "key-value", "key": "WAREHOUSE_TOKEN"}.items() <= next(
        s for s in listed if s["id"] == secret_id
    ).items()
    assert "s3cr3t-value" not in repr(listed)
    assert hook.delete_secret(secret_id)
    assert all(s["id"] != secret_id for s in hook.list_secrets())


def test_knowledge_lifecycle(hook):
    note = hook.create_knowledge("dbt style", "Use CTEs.", "When editing dbt models")
    assert note["name"] == "dbt style"
    updated = hook.update_knowledge(note["id"], "dbt style", "Use CTEs, no SELECT *.", "When editing dbt models")
    assert updated["body"] == "Use CTEs, no SELECT *."
    listing = hook.list_knowledge()
    assert isinstance(listing["folders"], list)
    assert [n["body"] for n in listing["knowledge"] if n["id"] == note["id"]] == ["Use CTEs, no SELECT *."]
    hook.delete_knowledge(note["id"])
    assert all(n["id"] != note["id"] for n in hook.list_knowledge()["knowledge"])


def test_playbooks_lifecycle(hook):
    playbook = hook.create_playbook("Nightly fix", "1. Reproduce\n2. Fix", macro="!nightly")
    assert playbook["playbook_id"].startswith("playbook-")
    assert hook.get_playbook(playbook["playbook_id"])["title"] == "Nightly fix"
    assert hook.update_playbook(playbook["playbook_id"], "Nightly fix v2", "1. Reproduce") == "success"
    assert hook.get_playbook(playbook["playbook_id"])["title"] == "Nightly fix v2"
    assert any(p["playbook_id"] == playbook["playbook_id"] for p in hook.list_playbooks())
    assert hook.delete_playbook(playbook["playbook_id"]) == "success"


def test_test_connection_succeeds_with_a_good_key(hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert "Connected" in message


def test_test_connection_reports_a_bad_key_without_showing_it(devin_emulator, monkeypatch):
    import json

    from airflow_provider_devin.hooks.devin import DevinHook

    wrong = "apk_user_wrong_key_for_tests"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_WRONG",
        json.dumps({"conn_type": "devin", "host": devin_emulator.base_url, "password": wrong}),
    )
    ok, message = DevinHook("devin_wrong").test_connection()
    assert not ok
    assert "401" in message
    assert wrong not in message


def test_one_http_session_is_reused_across_calls(hook):
    session_id = hook.create_session("task")["session_id"]
    first = hook.get_conn()
    hook.get_session(session_id)
    hook.list_sessions()
    assert hook.get_conn() is first


def test_session_url_for_a_known_id_points_at_the_emulator_page(hook):
    created = hook.create_session("task")
    assert hook.session_url(created["session_id"]) == created["url"]
