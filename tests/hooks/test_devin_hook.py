"""Every DevinHook method against the emulator, a real Devin server on loopback, on v1 and v3."""

from __future__ import annotations

import io
import json

import pytest

from airflow_provider_devin.exceptions import DevinAPIError, DevinNotFoundError, DevinValidationError
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.session import StatusClass

both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


@both_versions
def test_create_then_get_a_session(hook, devin_emulator, api):
    created = hook.create_session("Fix the flaky test", title="flaky", tags=["team-data"])
    assert created["session_id"].startswith("devin-")
    assert created["url"].startswith(devin_emulator.base_url)

    view = hook.session_view(hook.get_session(created["session_id"]))
    assert view.session_id == created["session_id"]
    assert (view.title, view.tags) == ("flaky", ("team-data",))
    assert view.status_class is StatusClass.WORKING
    first = hook.read_session(created["session_id"]).new_messages[0]
    assert (first.source, first.text) == ("user", "Fix the flaky test")


def test_a_v1_create_says_whether_it_is_new(hook):
    assert hook.create_session("task")["is_new_session"] is True


@both_versions
def test_create_sends_empty_lists_and_omits_none(hook, devin_emulator, api):
    hook.create_session("x", knowledge_ids=[], secret_ids=None, max_acu_limit=3)
    (entry,) = api.creates(devin_emulator.control)
    assert entry["body"]["knowledge_ids"] == []
    assert "secret_ids" not in entry["body"]
    assert entry["body"]["max_acu_limit"] == 3


def test_v1_sends_unlisted(hook, devin_emulator, api):
    hook.create_session("x", unlisted=True)
    (entry,) = api.creates(devin_emulator.control)
    assert entry["body"]["unlisted"] is True


def test_an_idempotent_create_repeated_returns_the_same_session(hook):
    first = hook.create_session("same task", idempotent=True, tags=["k"])
    second = hook.create_session("same task", idempotent=True, tags=["k"])
    assert second["session_id"] == first["session_id"]
    assert second["is_new_session"] is False


@both_versions
def test_list_sessions_filters_by_tag_and_pages(hook, devin_emulator, api):
    for index in range(5):
        hook.create_session(f"task {index}", tags=["batch-7"])
    hook.create_session("unrelated", tags=["other"])

    assert len(hook.list_sessions(tags=["batch-7"], limit=100)) == 5

    before = len(api.session_lists(devin_emulator.control))
    found = list(hook.iter_sessions(tags=["batch-7"], page_size=2))
    after = len(api.session_lists(devin_emulator.control))
    assert len({session["session_id"] for session in found}) == len(found) == 5
    assert after - before == 3, "pages of 2, 2 and 1"


def test_v1_list_sessions_takes_an_offset(hook):
    for index in range(5):
        hook.create_session(f"task {index}", tags=["batch-7"])
    assert len(hook.list_sessions(tags=["batch-7"], limit=2, offset=4)) == 1


@both_versions
def test_iter_sessions_rejects_a_zero_page_size_before_any_request(hook, devin_emulator):
    with pytest.raises(ValueError, match="page_size must be a positive integer"):
        next(hook.iter_sessions(page_size=0))
    assert devin_emulator.control.journal() == []


@both_versions
def test_send_message_is_read_back_once(hook):
    session_id = hook.create_session("task")["session_id"]
    start = hook.read_session(session_id).position
    assert hook.send_message(session_id, "Please also update the changelog.") is None
    new = hook.read_session(session_id, start).new_messages
    assert [(m.source, m.text) for m in new if m.source == "user"] == [("user", "Please also update the changelog.")]


@both_versions
def test_update_session_tags_replaces_them(hook):
    session_id = hook.create_session("task", tags=["a"])["session_id"]
    hook.update_session_tags(session_id, ["b", "c"])
    assert hook.session_view(hook.get_session(session_id)).tags == ("b", "c")


@both_versions
def test_terminate_ends_the_session_and_a_second_terminate_is_a_4xx(hook):
    session_id = hook.create_session("task")["session_id"]
    hook.terminate_session(session_id)
    with pytest.raises(DevinAPIError) as caught:
        hook.terminate_session(session_id)
    assert 400 <= caught.value.status_code < 500
    assert session_id in str(caught.value)


@both_versions
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


@pytest.mark.parametrize("devin_api_version", ["v3"])
def test_a_v3_422_problem_detail_carries_field_errors(hook, api):
    request = ApiRequest.build("list sessions", "GET", api.sessions, params={"first": 500})
    with pytest.raises(DevinValidationError) as caught:
        hook._call(request)
    assert caught.value.status_code == 422
    assert caught.value.errors, "ProblemDetail.errors (or a list detail) became .errors"
    assert "first" in str(caught.value)


@both_versions
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


@both_versions
def test_uploading_a_missing_file_fails_before_any_request(hook, devin_emulator, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        hook.upload_attachment(tmp_path / "nope.csv")
    assert devin_emulator.control.journal() == []


@both_versions
def test_secrets_lifecycle(hook):
    secret_id = hook.create_secret("key-value", "WAREHOUSE_TOKEN", "s3cr3t-value", note="dbt")
    listed = hook.list_secrets()
    assert {"id": secret_id, "type": "key-value", "key": "WAREHOUSE_TOKEN"}.items() <= next(
        s for s in listed if s["id"] == secret_id
    ).items()
    assert "s3cr3t-value" not in repr(listed)
    assert hook.delete_secret(secret_id)
    assert all(s["id"] != secret_id for s in hook.list_secrets())


@both_versions
def test_knowledge_lifecycle(hook):
    note = hook.create_knowledge("dbt style", "Use CTEs.", "When editing dbt models")
    assert note["name"] == "dbt style"
    updated = hook.update_knowledge(note["id"], "dbt style", "Use CTEs, no SELECT *.", "When editing dbt models")
    assert updated["body"] == "Use CTEs, no SELECT *."
    listing = hook.list_knowledge()
    assert isinstance(listing["folders"], list)
    assert [n["body"] for n in listing["knowledge"] if n["id"] == note["id"]] == ["Use CTEs, no SELECT *."]
    hook.delete_knowledge(note["note_id"])
    assert all(n["id"] != note["id"] for n in hook.list_knowledge()["knowledge"])


@both_versions
def test_knowledge_notes_read_the_same_on_both_versions(hook):
    created = hook.create_knowledge("style", "Use CTEs.", "When editing dbt models", pinned_repo="acme/dbt")
    [listed] = [n for n in hook.list_knowledge()["knowledge"] if n["id"] == created["id"]]
    for note in (created, listed):
        # v1 names and v3 names, same values, whatever the connection speaks.
        assert note["id"] == note["note_id"] and note["id"]
        assert note["trigger_description"] == note["trigger"] == "When editing dbt models"
        assert note["parent_folder_id"] is None and note["folder_id"] is None
        assert (note["macro"], note["pinned_repo"]) == (None, "acme/dbt")


@both_versions
def test_playbooks_lifecycle(hook, devin_api_version):
    playbook = hook.create_playbook("Nightly fix", "1. Reproduce\n2. Fix", macro="!nightly")
    assert playbook["playbook_id"].startswith("playbook-")
    assert hook.get_playbook(playbook["playbook_id"])["title"] == "Nightly fix"
    status = hook.update_playbook(playbook["playbook_id"], "Nightly fix v2", "1. Reproduce")
    assert status == ("success" if devin_api_version == "v1" else None)
    assert hook.get_playbook(playbook["playbook_id"])["title"] == "Nightly fix v2"
    assert any(p["playbook_id"] == playbook["playbook_id"] for p in hook.list_playbooks())
    hook.delete_playbook(playbook["playbook_id"])
    assert all(p["playbook_id"] != playbook["playbook_id"] for p in hook.list_playbooks())


@both_versions
def test_playbooks_always_carry_macro_and_status(hook, devin_api_version):
    hook.create_playbook("No macro", "1. Do it")
    [listed] = [p for p in hook.list_playbooks() if p["title"] == "No macro"]
    assert listed["macro"] is None
    assert listed["status"] == ("published" if devin_api_version == "v1" else None)


def test_test_connection_names_the_v1_api(hook, devin_emulator):
    ok, message = hook.test_connection()
    assert ok, message
    assert message == f"Connected to the Devin v1 API at {devin_emulator.base_url}."
    assert len(devin_emulator.control.journal()) == 1


@pytest.mark.parametrize("devin_api_version", ["v3"])
def test_test_connection_names_the_v3_api_and_org_with_one_request(hook, devin_emulator):
    ok, message = hook.test_connection()
    assert ok, message
    assert message == f"Connected to the Devin v3 API at {devin_emulator.base_url} (organization org-emulator)."
    assert [entry["path"] for entry in devin_emulator.control.journal()] == ["/v3/self"]


@pytest.mark.parametrize(
    ("devin_api_version", "wrong", "hint"),
    [("v1", "apk_user_wrong_key_for_tests", "apk_user_"), ("v3", "cog_wrong_key_for_tests", "cog_")],
)
def test_test_connection_reports_a_bad_key_without_showing_it(devin_emulator, monkeypatch, wrong, hint):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_WRONG",
        json.dumps({"conn_type": "devin", "host": devin_emulator.base_url, "password": wrong}),
    )
    ok, message = DevinHook("devin_wrong").test_connection()
    assert not ok
    assert "401" in message and hint in message
    assert wrong not in message


@both_versions
def test_one_http_session_is_reused_across_calls(hook):
    session_id = hook.create_session("task")["session_id"]
    first = hook.get_conn()
    hook.get_session(session_id)
    hook.list_sessions()
    assert hook.get_conn() is first


@both_versions
def test_session_url_for_a_known_id_points_at_the_emulator_page(hook):
    created = hook.create_session("task")
    assert hook.session_url(created["session_id"]) == created["url"]


@both_versions
def test_version_properties(hook, devin_api_version):
    assert hook.api_version == devin_api_version
    assert hook.supports_idempotent_create is (devin_api_version == "v1")
    assert hook.org_id == (None if devin_api_version == "v1" else "org-emulator")
