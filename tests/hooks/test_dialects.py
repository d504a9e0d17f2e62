"""The v1 and v3 dialects as pure logic: request builders, response readers, the snapshot reader."""

from __future__ import annotations

import pytest

from airflow_provider_devin.exceptions import DevinResponseError
from airflow_provider_devin.hooks._dialect import CreateSessionFields, SnapshotReader, UnsupportedInVersion
from airflow_provider_devin.hooks._v1 import V1Dialect
from airflow_provider_devin.hooks._v3 import V3Dialect, classify, devin_id, read_cursor_page, read_self_org_id
from airflow_provider_devin.session import V3_BUDGET_DETAILS, MessagePosition, StatusClass

V1 = V1Dialect()
V3 = V3Dialect("org-abc123")
ORG = "/v3/organizations/org-abc123"


# --- v3 builders ----------------------------------------------------------------------------------


def test_v3_paths_are_org_scoped_and_session_ids_get_the_devin_prefix():
    assert V3.get_session("devin-1a2b").path == f"{ORG}/sessions/devin-1a2b"
    assert V3.get_session("1a2b").path == f"{ORG}/sessions/devin-1a2b"
    assert devin_id("abc") == devin_id("devin-abc") == "devin-abc"
    assert V3.send_message("1a2b", "hi").path == f"{ORG}/sessions/devin-1a2b/messages"
    assert V3.archive_session("x").path == f"{ORG}/sessions/devin-x/archive"
    assert V3.unarchive_session("x").path == f"{ORG}/sessions/devin-x/unarchive"
    assert V3.list_messages("x").path == f"{ORG}/sessions/devin-x/messages"
    assert V3.upload_attachment("a.txt").path == f"{ORG}/attachments"
    assert V3.download_attachment("https://h/v3/x/attachments/u-1/a.txt").path == f"{ORG}/attachments/u-1/a.txt"
    assert V3.list_knowledge().path == f"{ORG}/knowledge/notes"
    assert V3.get_playbook("playbook-1").path == f"{ORG}/playbooks/playbook-1"
    assert V3.delete_secret("secret-1").path == f"{ORG}/secrets/secret-1"


def test_v3_array_filters_are_sent_as_repeated_parameters():
    request = V3.list_sessions(tags=["a", "b"], session_ids=["devin-1", "devin-2"], page_size=200, cursor="c1")
    assert request.params == (
        ("first", "200"),
        ("after", "c1"),
        ("tags", "a"),
        ("tags", "b"),
        ("session_ids", "devin-1"),
        ("session_ids", "devin-2"),
    )


def test_v3_list_filters_take_epoch_seconds_and_booleans_as_true_false():
    request = V3.list_sessions(updated_after=1_700_000_000, is_archived=False, page_size=1)
    assert ("updated_after", "1700000000") in request.params
    assert ("is_archived", "false") in request.params
    with pytest.raises(ValueError, match="updated_after must be integer epoch seconds"):
        V3.list_sessions(updated_after="2026-01-01")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 201, -1, True])
def test_v3_page_size_is_bounded(size):
    with pytest.raises(ValueError, match="limit must be"):
        V3.list_sessions(page_size=size)


def test_v3_terminate_sends_archive_only_when_given():
    assert V3.terminate_session("x").params == ()
    assert V3.terminate_session("x", archive=True).params == (("archive", "true"),)
    assert V3.terminate_session("x").method == "DELETE"


def test_v3_create_accepts_every_documented_field():
    request = V3.create_session(
        "Fix the flaky test",
        title="flaky",
        tags=["team-data"],
        playbook_id="playbook-1",
        knowledge_ids=[],
        secret_ids=["secret-1"],
        session_secrets={"TOKEN": "s3cr3t"},
        structured_output_schema={"type": "object"},
        max_acu_limit=5,
        repos=["acme/warehouse"],
        attachment_urls=["https://api.devin.ai/v3/organizations/o/attachments/u/f.csv"],
        structured_output_required=False,
        devin_mode="lite",
        create_as_user_id="user-1",
        resumable=False,
        platform="windows",
        bypass_approval=True,
        child_playbook_id="playbook-2",
        session_links=["https://app.devin.ai/sessions/abc"],
    )
    assert request.path == f"{ORG}/sessions"
    assert request.replay_safe is False, "v3 has no idempotency: a create is never repeated blindly"
    body = request.json_body
    assert "idempotent" not in body
    assert body["knowledge_ids"] == []
    assert body["session_secrets"] == [{"key": "TOKEN", "value": "s3cr3t", "sensitive": True}]
    assert body["repos"] == ["acme/warehouse"]
    assert body["structured_output_required"] is False
    assert body["resumable"] is False
    assert body["devin_mode"] == "lite"
    assert set(body) >= {"create_as_user_id", "platform", "bypass_approval", "child_playbook_id", "session_links"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"devin_mode": "turbo"}, "devin_mode must be one of normal, fast, lite, ultra, fusion"),
        ({"attachment_urls": ["not a url"]}, r"attachment_urls\[0\] must be an absolute URL"),
        ({"attachment_urls": ["https://x/" + "a" * 2100]}, r"attachment_urls\[0\] is 2110 characters"),
        ({"attachment_urls": "https://x/a"}, "attachment_urls must be a list of URLs"),
        ({"repos": ["acme warehouse"]}, r"repos\[0\] must be a repository name"),
        ({"resumable": "no"}, "resumable must be true or false"),
        ({"session_secrets": [{"key": "K" * 300, "value": "v"}]}, "longer than 256"),
        ({"max_acu_limit": 0}, "max_acu_limit must be greater than 0"),
        ({"tags": "one"}, "tags must be a list of strings"),
    ],
)
def test_v3_create_fields_are_checked_client_side(fields, message):
    with pytest.raises(ValueError, match=message):
        V3.create_session("x", **fields)


# --- version-only operations and arguments ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: V3.create_session("x", idempotent=True), "idempotent=True"),
        (lambda: V3.create_session("x", snapshot_id="snap-1"), "'snapshot_id'"),
        (lambda: V3.create_session("x", unlisted=True), "'unlisted'"),
        (lambda: V3.list_sessions(user_email="a@b.c"), "'user_email'"),
        (lambda: V3.list_sessions(offset=5), "'offset'"),
        (lambda: V3.create_knowledge("n", "b", "t", macro="!m"), "'macro'"),
    ],
)
def test_v1_only_arguments_are_refused_on_v3_naming_the_version(call, what):
    with pytest.raises(UnsupportedInVersion, match=f"{what}.* exists only in Devin's v1 API, .* uses v3"):
        call()


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: V1.create_session("x", repos=["a/b"]), "'repos'"),
        (lambda: V1.create_session("x", devin_mode="fast"), "'devin_mode'"),
        (lambda: V1.terminate_session("devin-1", archive=True), "'archive'"),
        (lambda: V1.append_session_tags("devin-1", ["a"]), "append_session_tags"),
        (lambda: V1.get_session_tags("devin-1"), "get_session_tags"),
        (lambda: V1.archive_session("devin-1"), "archive_session"),
        (lambda: V1.unarchive_session("devin-1"), "unarchive_session"),
        (lambda: V1.list_messages("devin-1"), "list_messages"),
        (lambda: V1.list_sessions(session_ids=["devin-1"]), "'session_ids'"),
    ],
)
def test_v3_only_operations_are_refused_on_v1_naming_the_version(call, what):
    with pytest.raises(UnsupportedInVersion, match=f"{what}.* exists only in Devin's v3 API, .* uses v1"):
        call()


# One value per create field that each version would accept if it had the field.
_SAMPLE_VALUES = {
    "idempotent": True,
    "title": "t",
    "tags": ["a"],
    "playbook_id": "playbook-1",
    "snapshot_id": "snap-1",
    "knowledge_ids": [],
    "secret_ids": [],
    "session_secrets": {"K": "v"},
    "structured_output_schema": {"type": "object"},
    "max_acu_limit": 3,
    "unlisted": True,
    "repos": ["o/r"],
    "attachment_urls": ["https://h/a/u/f.txt"],
    "structured_output_required": True,
    "devin_mode": "fast",
    "create_as_user_id": "user-1",
    "resumable": False,
    "platform": "default",
    "bypass_approval": True,
    "child_playbook_id": "playbook-2",
    "session_links": ["https://app.devin.ai/sessions/1"],
}


@pytest.mark.parametrize("name", sorted(CreateSessionFields.__optional_keys__))
def test_every_create_field_is_sent_by_one_version_at_least_and_refused_by_the_other(name):
    sent = 0
    for dialect, other in ((V1, "v3"), (V3, "v1")):
        try:
            body = dialect.create_session("x", **{name: _SAMPLE_VALUES[name]}).json_body
        except UnsupportedInVersion as err:
            assert f"exists only in Devin's {other} API" in str(err)
            continue
        sent += 1
        assert name in body or (name == "attachment_urls" and "ATTACHMENT:" in body["prompt"])
    assert sent >= 1


def test_unsupported_in_version_is_a_value_error():
    assert issubclass(UnsupportedInVersion, ValueError)


def test_v1_turns_attachment_urls_into_its_attachment_prompt_lines():
    urls = ["https://api.devin.ai/v1/attachments/u1/a.csv", "https://api.devin.ai/v1/attachments/u2/b.md"]
    body = V1.create_session("Fix it.\n", attachment_urls=urls).json_body
    assert body["prompt"] == f'Fix it.\n\nATTACHMENT:"{urls[0]}"\nATTACHMENT:"{urls[1]}"'
    message = V1.send_message("devin-1", "See the file", attachment_urls=urls[:1]).json_body
    assert message == {"message": f'See the file\n\nATTACHMENT:"{urls[0]}"'}
    assert V1.create_session("plain", attachment_urls=[]).json_body["prompt"] == "plain"
    with pytest.raises(ValueError, match="attachment_urls must be a list"):
        V1.create_session("x", attachment_urls="https://x/a")


# --- pagination ---------------------------------------------------------------------------------


def test_a_next_page_without_a_cursor_is_a_protocol_error():
    with pytest.raises(DevinResponseError, match="has_next_page=true but sent no end_cursor"):
        read_cursor_page({"items": [], "has_next_page": True, "end_cursor": None}, "list sessions", "/p")
    with pytest.raises(DevinResponseError, match="without an 'items' list"):
        read_cursor_page({"sessions": []}, "list sessions", "/p")


def test_v3_session_pages_follow_end_cursor_only_while_has_next_page():
    page = V3.read_session_page({"items": [{"session_id": "a"}], "has_next_page": True, "end_cursor": "c2"},
                                page_size=1, cursor=None)  # fmt: skip
    assert (page.items, page.next_cursor) == ([{"session_id": "a"}], "c2")
    last = V3.read_session_page({"items": [], "has_next_page": False, "end_cursor": "c3"}, page_size=1, cursor="c2")
    assert last.next_cursor is None


def test_v1_session_pages_continue_at_the_next_offset_only_after_a_full_page():
    assert V1.read_session_page({"sessions": [{}, {}]}, page_size=2, cursor="4").next_cursor == "6"
    assert V1.read_session_page({"sessions": [{}]}, page_size=2, cursor="4").next_cursor is None
    assert V1.list_sessions(page_size=2, cursor="6").params[:2] == (("limit", "2"), ("offset", "6"))


# --- readers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("new", None, StatusClass.WORKING),
        ("claimed", None, StatusClass.WORKING),
        ("resuming", None, StatusClass.WORKING),
        ("running", None, StatusClass.WORKING),
        ("running", "working", StatusClass.WORKING),
        ("running", "finished", StatusClass.FINISHED),
        ("running", "waiting_for_user", StatusClass.NEEDS_HUMAN),
        ("running", "waiting_for_approval", StatusClass.NEEDS_HUMAN),
        ("running", "dreaming", StatusClass.UNKNOWN),
        ("suspended", "inactivity", StatusClass.IDLE),
        ("suspended", "user_request", StatusClass.CANCELLED),
        ("suspended", "error", StatusClass.FAILED),
        ("suspended", None, StatusClass.PAUSED),
        ("suspended", "vacation", StatusClass.UNKNOWN),
        ("exit", None, StatusClass.EXITED),
        ("error", None, StatusClass.FAILED),
        ("teleported", None, StatusClass.UNKNOWN),
        (None, None, StatusClass.UNKNOWN),
        *[("suspended", reason, StatusClass.OUT_OF_BUDGET) for reason in V3_BUDGET_DETAILS],
    ],
)
def test_v3_status_classification(status, detail, expected):
    assert classify(status, detail) is expected


@pytest.mark.parametrize(
    ("status_enum", "expected"),
    [
        ("working", StatusClass.WORKING),
        ("resume_requested", StatusClass.WORKING),
        ("resume_requested_frontend", StatusClass.WORKING),
        ("resumed", StatusClass.WORKING),
        ("finished", StatusClass.FINISHED),
        ("blocked", StatusClass.NEEDS_HUMAN),
        ("suspend_requested", StatusClass.PAUSED),
        ("suspend_requested_frontend", StatusClass.PAUSED),
        ("expired", StatusClass.FAILED),
        (None, StatusClass.UNKNOWN),
        ("hibernating", StatusClass.UNKNOWN),
    ],
)
def test_v1_status_classification(status_enum, expected):
    assert V1.read_session({"session_id": "devin-1", "status_enum": status_enum}).status_class is expected


def test_v3_session_view_carries_prs_output_acus_and_v1_words():
    view = V3.read_session(
        {
            "session_id": "devin-1",
            "url": "https://app.devin.ai/sessions/1",
            "status": "suspended",
            "status_detail": "out_of_credits",
            "tags": ["a"],
            "created_at": 1_700_000_000,
            "updated_at": 1_700_000_100,
            "acus_consumed": 3,
            "pull_requests": [{"pr_url": "https://github.com/a/b/pull/1", "pr_state": "open"}, {"pr_state": None}],
            "structured_output": {"ok": True},
            "is_archived": True,
        }
    )
    assert view.status_class is StatusClass.OUT_OF_BUDGET
    assert view.status_enum == "suspend_requested"
    assert view.status_label == "suspended/out_of_credits"
    assert view.pull_request_urls == ("https://github.com/a/b/pull/1",)
    assert view.acus_consumed == 3.0
    assert view.structured_output == {"ok": True}
    assert (view.created_at, view.updated_at, view.is_archived) == (1_700_000_000, 1_700_000_100, True)
    assert view.messages == ()


def test_v1_session_view_carries_the_one_pr_and_the_conversation():
    view = V1.read_session(
        {
            "session_id": "devin-1",
            "status_enum": "blocked",
            "pull_request": {"url": "https://github.com/a/b/pull/2"},
            "messages": [
                {"type": "initial_user_message", "message": "do it", "event_id": "e1"},
                {"type": "devin_message", "message": "done", "event_id": "e2"},
                {"type": "mystery"},
            ],
        }
    )
    assert view.status_enum == "blocked" and view.acus_consumed is None
    assert view.pull_request_url == "https://github.com/a/b/pull/2"
    assert [(m.source, m.text) for m in view.messages] == [("user", "do it"), ("devin", "done")]


def test_self_org_id_is_used_only_when_it_is_a_string():
    assert read_self_org_id({"principal_type": "service_user", "org_id": "org-1"}) == "org-1"
    assert read_self_org_id({"principal_type": "service_user", "org_id": None}) is None
    assert read_self_org_id({"principal_type": "service_user"}) is None
    assert read_self_org_id([]) is None


# --- the snapshot reader (both versions) ---------------------------------------------------------


def v1_body(*texts):
    messages = [{"type": "devin_message", "message": t, "event_id": f"e{i}"} for i, t in enumerate(texts)]
    return {"session_id": "devin-1", "status_enum": "working", "messages": messages}


def run(reader, session_body, pages):
    reader.feed_session(session_body)
    requests = []
    pages = list(pages)
    while (request := reader.next_message_request()) is not None:
        requests.append(request)
        reader.feed_messages(pages.pop(0))
    assert pages == [], "every scripted page was read"
    return reader.snapshot(), requests


def test_v1_snapshot_delivers_only_messages_after_the_position():
    first, _ = run(SnapshotReader(V1, "devin-1"), v1_body("a", "b"), [])
    assert [m.text for m in first.new_messages] == ["a", "b"]
    assert first.position == MessagePosition("2", "e1")
    second, _ = run(SnapshotReader(V1, "devin-1", MessagePosition.decode(first.position.encode())),
                    v1_body("a", "b", "c"), [])  # fmt: skip
    assert [m.text for m in second.new_messages] == ["c"]


def test_v1_snapshot_trusts_the_last_event_over_the_count():
    position = MessagePosition("5", "e0")  # the count is off; the event id says where we were
    snapshot, _ = run(SnapshotReader(V1, "devin-1", position), v1_body("a", "b"), [])
    assert [m.text for m in snapshot.new_messages] == ["b"]


def message_page(ids, *, end_cursor=None, has_next=False):
    items = [{"event_id": i, "source": "devin", "message": f"text {i}", "created_at": 1} for i in ids]
    return {"items": items, "has_next_page": has_next, "end_cursor": end_cursor}


V3_SESSION = {"session_id": "devin-1", "status": "running", "status_detail": "working"}


def test_v3_snapshot_pages_forward_and_keeps_the_cursor_of_the_last_page():
    snapshot, requests = run(
        SnapshotReader(V3, "devin-1"),
        V3_SESSION,
        [message_page(["e1", "e2"], end_cursor="c1", has_next=True), message_page(["e3"])],
    )
    assert [m.event_id for m in snapshot.new_messages] == ["e1", "e2", "e3"]
    assert [dict(r.params).get("after") for r in requests] == [None, "c1"]
    assert snapshot.position == MessagePosition("c1", "e3"), "v3 sends no cursor past the last page"
    assert snapshot.view.messages == ()


def test_v3_snapshot_skips_what_it_already_delivered_on_the_resumed_page():
    position = MessagePosition.decode(MessagePosition("c1", "e3").encode())
    snapshot, requests = run(SnapshotReader(V3, "devin-1", position), V3_SESSION, [message_page(["e3", "e4"])])
    assert dict(requests[0].params)["after"] == "c1"
    assert [m.event_id for m in snapshot.new_messages] == ["e4"]
    assert snapshot.position == MessagePosition("c1", "e4")


def test_v3_snapshot_with_nothing_new_keeps_its_position():
    position = MessagePosition("c1", "e3")
    snapshot, _ = run(SnapshotReader(V3, "devin-1", position), V3_SESSION, [message_page(["e3"])])
    assert snapshot.new_messages == ()
    assert snapshot.position == position


def test_v3_snapshot_uses_an_end_cursor_when_the_last_page_carries_one():
    snapshot, _ = run(SnapshotReader(V3, "devin-1"), V3_SESSION, [message_page(["e1"], end_cursor="c9")])
    assert snapshot.position == MessagePosition("c9", "e1")


def test_v3_snapshot_refuses_a_cursor_that_comes_back():
    reader = SnapshotReader(V3, "devin-1")
    reader.feed_session(V3_SESSION)
    reader.next_message_request()
    reader.feed_messages(message_page(["e1"], end_cursor="c1", has_next=True))
    reader.next_message_request()
    reader.feed_messages(message_page(["e2"], end_cursor="c1", has_next=True))
    with pytest.raises(DevinResponseError, match="refusing to loop"):
        reader.next_message_request()


def test_v3_snapshot_reports_a_next_page_without_a_cursor():
    reader = SnapshotReader(V3, "devin-1")
    reader.feed_session(V3_SESSION)
    reader.next_message_request()
    with pytest.raises(DevinResponseError, match="no end_cursor"):
        reader.feed_messages(message_page(["e1"], has_next=True))
