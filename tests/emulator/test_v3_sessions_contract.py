"""The v3 session endpoints' shapes, validation, pagination and filters (contract v3 §2-§4)."""

from __future__ import annotations

import time

import jsonschema
import pytest
from v3_client import assert_problem

SESSION_FIELDS = {
    "session_id",
    "url",
    "status",
    "status_detail",
    "tags",
    "org_id",
    "created_at",
    "updated_at",
    "acus_consumed",
    "pull_requests",
    "structured_output",
    "title",
    "user_id",
    "service_user_id",
    "playbook_id",
    "parent_session_id",
    "child_session_ids",
    "is_archived",
    "origin",
    "category",
    "subcategory",
    "devin_mode",
    "automation_id",
}
GET_LIST_ONLY = ("status_detail", "structured_output", "category")
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def test_create_returns_a_session_response_without_the_get_only_fields(v3, emulator):
    created = v3.create("Fix the flaky test", title="Flaky", tags=["team:a"], structured_output_schema=SCHEMA)
    assert set(created) == SESSION_FIELDS
    assert created["session_id"].startswith("devin-")
    assert created["url"] == f"{emulator.base_url}/sessions/{created['session_id'].removeprefix('devin-')}"
    assert created["status"] == "new"
    assert all(created[name] is None for name in GET_LIST_ONLY)
    assert (created["title"], created["tags"], created["org_id"]) == ("Flaky", ["team:a"], "org-emulator")
    assert isinstance(created["created_at"], int) and isinstance(created["updated_at"], int)
    assert created["acus_consumed"] == 0
    assert created["pull_requests"] == []
    assert created["origin"] == "api"
    assert created["is_archived"] is False
    assert created["child_session_ids"] == []
    assert created["devin_mode"] == "normal"
    assert created["automation_id"] is None
    assert created["service_user_id"].startswith("service-user-")


def test_get_fills_the_get_only_fields(v3, emulator):
    session_id = v3.create("Fix the bug", structured_output_schema=SCHEMA)["session_id"]
    emulator.control.advance(60)
    details = v3.session(session_id)
    assert set(details) == SESSION_FIELDS
    assert (details["status"], details["status_detail"]) == ("running", "finished")
    jsonschema.validate(details["structured_output"], SCHEMA)
    assert details["category"] == "bug_fixing"
    assert "messages" not in details


def test_per_session_paths_take_the_prefixed_and_the_bare_id(v3):
    session_id = v3.create()["session_id"]
    bare = session_id.removeprefix("devin-")
    assert v3.session(bare)["session_id"] == session_id
    assert v3.get(f"{v3.org}/sessions/{bare}/tags").json() == {"tags": []}
    assert v3.messages(bare)["items"][0]["message"] == "Fix the flaky test"


def test_unknown_session_is_a_404_problem(v3):
    assert_problem(v3.get(f"{v3.org}/sessions/devin-0000"), 404, "devin-0000")
    assert_problem(v3.send("devin-0000"), 404)
    assert_problem(v3.delete(f"{v3.org}/sessions/devin-0000"), 404)


def test_every_create_field_is_accepted(v3, emulator):
    parent = v3.create("parent")["session_id"]
    body = {
        "prompt": "Do it all",
        "title": "All fields",
        "tags": ["x"],
        "playbook_id": "playbook-1",
        "knowledge_ids": [],
        "secret_ids": ["secret-1"],
        "session_secrets": [{"key": "TOKEN", "value": "v", "sensitive": False}],
        "max_acu_limit": 10,
        "structured_output_schema": SCHEMA,
        "structured_output_required": False,
        "repos": ["owner/repo"],
        "attachment_urls": ["https://example.com/a/report.txt"],
        "create_as_user_id": "user-bob",
        "devin_mode": "fast",
        "resumable": False,
        "platform": "windows",
        "bypass_approval": True,
        "child_playbook_id": "playbook-2",
        "session_links": ["https://example.com/ticket/1"],
    }
    response = v3.post(f"{v3.org}/sessions", json=body, params={"devin_id": parent})
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["parent_session_id"] == parent
    assert created["user_id"] == "user-bob"
    assert created["devin_mode"] == "fast"
    assert created["playbook_id"] == "playbook-1"
    assert v3.session(parent)["child_session_ids"] == [created["session_id"]]
    [view] = [s for s in emulator.control.sessions() if s["session_id"] == created["session_id"]]
    assert view["request"]["session_secrets"][0]["value"] == "***"
    assert view["request"]["resumable"] is False


@pytest.mark.parametrize("field", ["idempotent", "snapshot_id", "unlisted", "planning_mode_agency"])
def test_v1_only_create_fields_are_422(v3, field):
    response = v3.post(f"{v3.org}/sessions", json={"prompt": "x", field: True})
    body = assert_problem(response, 422, field)
    assert body["errors"][0]["loc"] == ["body", field]
    assert body["errors"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "devin_mode": "turbo"}, "devin_mode"),
        ({"prompt": "x", "attachment_urls": ["not a url"]}, "attachment_urls"),
        ({"prompt": "x", "attachment_urls": ["https://e.com/" + "a" * 2100]}, "attachment_urls"),
        ({"prompt": "x", "session_secrets": [{"key": "", "value": "v"}]}, "session_secrets"),
        ({"prompt": "x", "session_secrets": [{"key": "k" * 257, "value": "v"}]}, "session_secrets"),
        (
            {"prompt": "x", "structured_output_schema": {"$ref": "https://example.com/s.json"}},
            "structured_output_schema",
        ),
        ({"prompt": "x", "structured_output_schema": {"type": "nope"}}, "structured_output_schema"),
        ({"prompt": "x", "structured_output_schema": {"description": "d" * 70000}}, "structured_output_schema"),
        ({"prompt": "x", "resumable": None}, "resumable"),
        ({"prompt": "x [emulator:scenario=nope]"}, "prompt"),
    ],
)
def test_invalid_create_bodies_are_422_problems_naming_the_field(v3, body, field):
    problem = assert_problem(v3.post(f"{v3.org}/sessions", json=body), 422, field)
    assert any(field in error["loc"] for error in problem["errors"])


def test_max_acu_limit_has_no_minimum_in_v3(v3):
    assert v3.post(f"{v3.org}/sessions", json={"prompt": "x", "max_acu_limit": 0}).status_code == 200


def test_an_unknown_platform_is_a_400_listing_the_labels(v3):
    body = assert_problem(v3.post(f"{v3.org}/sessions", json={"prompt": "x", "platform": "amiga"}), 400, "amiga")
    for label in ("default", "windows"):
        assert label in body["detail"]


def test_an_unknown_parent_is_a_404(v3):
    assert_problem(v3.post(f"{v3.org}/sessions", json={"prompt": "x"}, params={"devin_id": "devin-none"}), 404)


def test_v3_create_has_no_idempotency(v3, emulator):
    first = v3.create("Same body", tags=["run:1"])
    second = v3.create("Same body", tags=["run:1"])
    assert first["session_id"] != second["session_id"]
    assert len(emulator.control.sessions()) == 2


def test_timestamps_are_epoch_seconds_never_in_the_future(v3, emulator):
    before = int(time.time())
    session_id = v3.create()["session_id"]
    emulator.control.advance(86_400 * 365)  # a year of emulated time, in no real time
    details = v3.session(session_id)
    messages = v3.messages(session_id)["items"]
    now = time.time()
    stamps = [details["created_at"], details["updated_at"], *(m["created_at"] for m in messages)]
    assert all(isinstance(stamp, int) for stamp in stamps)
    assert all(before <= stamp <= now for stamp in stamps)
    assert details["created_at"] <= details["updated_at"]
    assert emulator.control.clock()["epoch"] <= now


def test_messages_are_chronological_v3_items(v3, emulator):
    session_id = v3.create("Start")["session_id"]
    emulator.control.advance(60)
    v3.send(session_id, "Thanks")
    items = v3.messages(session_id)["items"]
    assert all(set(item) == {"event_id", "source", "message", "created_at"} for item in items)
    assert [item["source"] for item in items] == ["user", "devin", "devin", "devin", "devin", "user"]
    assert (items[0]["message"], items[-1]["message"]) == ("Start", "Thanks")
    assert [item["created_at"] for item in items] == sorted(item["created_at"] for item in items)
    assert len({item["event_id"] for item in items}) == len(items)


def test_message_send_returns_a_session_response_without_get_only_fields(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.advance(60)
    response = v3.send(session_id, "one more thing")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == SESSION_FIELDS
    assert all(body[name] is None for name in GET_LIST_ONLY)
    assert body["status"] == "running"


@pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": "x", "attachment_urls": ["nope"]}])
def test_invalid_message_bodies_are_422(v3, body):
    session_id = v3.create()["session_id"]
    assert_problem(v3.post(f"{v3.org}/sessions/{session_id}/messages", json=body), 422)


def test_tags_get_put_replaces_post_appends_and_dedupes(v3, emulator):
    session_id = v3.create(tags=["a"])["session_id"]
    path = f"{v3.org}/sessions/{session_id}/tags"
    assert v3.get(path).json() == {"tags": ["a"]}
    assert v3.post(path, json={"tags": ["b", "a", "c"]}).json() == {"tags": ["a", "b", "c"]}
    assert v3.put(path, json={"tags": ["z"]}).json() == {"tags": ["z"]}
    assert v3.session(session_id)["tags"] == ["z"]
    assert emulator.control.sessions()[0]["tags"] == ["z"], "v1 sees the same tags"


def test_tag_bodies_are_capped_at_50(v3):
    session_id = v3.create()["session_id"]
    path = f"{v3.org}/sessions/{session_id}/tags"
    assert_problem(v3.put(path, json={"tags": [f"t{n}" for n in range(51)]}), 422, "tags")
    assert v3.put(path, json={"tags": [f"t{n}" for n in range(50)]}).status_code == 200
    assert_problem(v3.post(path, json={"tags": ["one-more"]}), 422, "50")
    assert_problem(v3.put(path, json={}), 422, "tags")


def test_terminate_archive_and_unarchive_return_session_responses(v3):
    session_id = v3.create()["session_id"]
    archived = v3.post(f"{v3.org}/sessions/{session_id}/archive").json()
    assert set(archived) == SESSION_FIELDS and archived["is_archived"] is True
    assert archived["status"] == "suspended" and archived["status_detail"] is None
    unarchived = v3.post(f"{v3.org}/sessions/{session_id}/unarchive").json()
    assert unarchived["is_archived"] is False and unarchived["status"] == "suspended"
    terminated = v3.delete(f"{v3.org}/sessions/{session_id}", params={"archive": "true"}).json()
    assert set(terminated) == SESSION_FIELDS
    assert (terminated["status"], terminated["status_detail"], terminated["is_archived"]) == ("exit", None, True)


def test_session_attachments_are_a_bare_array(v3):
    upload = v3.post(f"{v3.org}/attachments", files={"file": ("notes.txt", b"hello", "text/plain")}).json()
    session_id = v3.create(attachment_urls=[upload["url"]])["session_id"]
    v3.post(
        f"{v3.org}/sessions/{session_id}/messages", json={"message": "see", "attachment_urls": ["https://e.com/x.png"]}
    )
    items = v3.get(f"{v3.org}/sessions/{session_id}/attachments").json()
    assert isinstance(items, list)
    assert items[0] == {
        "attachment_id": upload["attachment_id"],
        "name": "notes.txt",
        "url": upload["url"],
        "source": "user",
        "content_type": "text/plain",
    }
    assert (items[1]["name"], items[1]["content_type"]) == ("x.png", "image/png")


# -- pagination ---------------------------------------------------------------------------------


def test_sessions_page_with_opaque_cursors_newest_first(v3):
    ids = [v3.create(f"task {n}")["session_id"] for n in range(5)]
    newest_first = list(reversed(ids))
    seen, after, pages = [], None, 0
    while True:
        params = {"first": 2, **({"after": after} if after else {})}
        page = v3.list(params)
        assert set(page) == {"items", "has_next_page", "end_cursor", "total"}
        assert page["total"] is None
        seen += [s["session_id"] for s in page["items"]]
        pages += 1
        if not page["has_next_page"]:
            assert page["end_cursor"] is None
            break
        assert isinstance(page["end_cursor"], str) and page["end_cursor"] not in ids
        after = page["end_cursor"]
    assert seen == newest_first
    assert pages == 3


def test_a_cursor_stays_valid_when_sessions_are_created_between_pages(v3):
    ids = [v3.create(f"task {n}")["session_id"] for n in range(3)]
    page1 = v3.list({"first": 2})
    v3.create("newcomer")
    page2 = v3.list({"first": 2, "after": page1["end_cursor"]})
    assert [s["session_id"] for s in page1["items"] + page2["items"]] == list(reversed(ids))
    assert page2["has_next_page"] is False and page2["end_cursor"] is None


@pytest.mark.parametrize("first", [0, 201, -1, "many"])
def test_first_outside_1_to_200_is_422(v3, first):
    session_id = v3.create()["session_id"]
    for path in (f"{v3.org}/sessions", f"{v3.org}/sessions/{session_id}/messages", f"{v3.org}/secrets"):
        body = assert_problem(v3.get(path, params={"first": first}), 422, "first")
        assert body["errors"][0]["loc"] == ["query", "first"]


def test_first_200_is_fine_and_the_default_is_100(v3, emulator):
    assert v3.list({"first": 200})["has_next_page"] is False
    session_id = v3.create()["session_id"]
    for _ in range(10):
        emulator.control.advance(60)
        for _ in range(11):
            v3.send(session_id, "again")
    page = v3.messages(session_id)
    assert len(page["items"]) == 100 and page["has_next_page"] is True
    assert page["total"] > 100


def test_messages_page_chronologically_and_count_a_total(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.advance(60)
    everything = v3.messages(session_id)["items"]
    page1 = v3.messages(session_id, first=3)
    page2 = v3.messages(session_id, first=3, after=page1["end_cursor"])
    assert page1["total"] == page2["total"] == len(everything) == 5
    assert page1["items"] + page2["items"] == everything
    assert (page2["has_next_page"], page2["end_cursor"]) == (False, None)


def test_a_foreign_or_broken_cursor_is_422(v3):
    session_id = v3.create()["session_id"]
    v3.create()
    sessions_cursor = v3.list({"first": 1})["end_cursor"]
    assert_problem(v3.get(f"{v3.org}/sessions", params={"after": "garbage!"}), 422, "after")
    assert_problem(v3.get(f"{v3.org}/sessions/{session_id}/messages", params={"after": sessions_cursor}), 422)


# -- filters ------------------------------------------------------------------------------------


def ids_of(page):
    return [s["session_id"] for s in page["items"]]


@pytest.mark.parametrize("form", ["repeated", "comma"])
def test_session_ids_filter_takes_repeated_and_comma_joined_values(v3, form):
    a, b, _ = (v3.create(f"s{n}")["session_id"] for n in range(3))
    params = [("session_ids", a), ("session_ids", b)] if form == "repeated" else {"session_ids": f"{a},{b}"}
    assert sorted(ids_of(v3.list(params))) == sorted([a, b])
    assert ids_of(v3.list({"session_ids": a.removeprefix("devin-")})) == [a], "bare ids work too"


@pytest.mark.parametrize("form", ["repeated", "comma"])
def test_tags_filter_matches_sessions_carrying_any_given_tag(v3, form):
    both = v3.create("a", tags=["x", "y"])["session_id"]
    only_x = v3.create("b", tags=["x"])["session_id"]
    only_y = v3.create("c", tags=["y"])["session_id"]
    v3.create("d", tags=["z"])
    v3.create("e")
    params = [("tags", "x"), ("tags", "y")] if form == "repeated" else {"tags": "x,y"}
    assert ids_of(v3.list(params)) == [only_y, only_x, both]
    assert ids_of(v3.list({"tags": "x"})) == [only_x, both]


def test_time_filters_are_inclusive_epoch_seconds(v3, emulator):
    old = v3.create("old")["session_id"]
    stamp = v3.session(old)["created_at"]
    assert old in ids_of(v3.list({"created_after": stamp, "created_before": stamp}))
    assert ids_of(v3.list({"created_after": stamp + 3600})) == []
    assert ids_of(v3.list({"updated_before": stamp - 1})) == []
    time.sleep(1.05)
    emulator.control.advance(5)  # old gets an update: Devin's acknowledgement
    fresh = v3.session(old)["updated_at"]
    assert fresh > stamp
    assert ids_of(v3.list({"updated_after": fresh})) == [old]


def test_is_archived_and_other_filters(v3):
    kept = v3.create("kept", repos=["o/r"], playbook_id="playbook-1")["session_id"]
    gone = v3.create("gone")["session_id"]
    child = v3.post(f"{v3.org}/sessions", json={"prompt": "child"}, params={"devin_id": kept}).json()["session_id"]
    v3.post(f"{v3.org}/sessions/{gone}/archive")
    assert ids_of(v3.list({"is_archived": "true"})) == [gone]
    assert gone not in ids_of(v3.list({"is_archived": "false"}))
    assert len(ids_of(v3.list())) == 3, "archived sessions are listed unless filtered out"
    assert ids_of(v3.list({"repo_names": "o/r"})) == [kept]
    assert ids_of(v3.list({"playbook_id": "playbook-1"})) == [kept]
    assert ids_of(v3.list({"parent_session_id": kept})) == [child]
    assert len(ids_of(v3.list({"origins": "api,webapp"}))) == 3
    assert ids_of(v3.list({"origins": "slack"})) == []
    assert ids_of(v3.list({"automation_ids": "auto-1"})) == []
    me = v3.session(kept)["service_user_id"]
    assert len(ids_of(v3.list({"service_user_ids": me}))) == 3
    assert ids_of(v3.list({"user_ids": "user-nobody"})) == []
    assert_problem(v3.get(f"{v3.org}/sessions", params={"created_after": "yesterday"}), 422, "created_after")


def test_both_versions_see_the_same_sessions(v3, client):
    from_v1 = client.create("made on v1", tags=["shared"])["session_id"]
    from_v3 = v3.create("made on v3", tags=["shared"])["session_id"]
    assert ids_of(v3.list({"tags": "shared"})) == [from_v3, from_v1]
    listed_v1 = client.get("/v1/sessions", params={"tags": "shared"}).json()["sessions"]
    assert [s["session_id"] for s in listed_v1] == [from_v3, from_v1]
    assert client.session(from_v3)["messages"][0]["message"] == "made on v3"
    assert v3.session(from_v1)["service_user_id"] is None
    assert v3.session(from_v1)["user_id"].startswith("user-")


def test_unknown_v3_paths_are_404_problems(v3):
    assert_problem(v3.get(f"{v3.org}/widgets"), 404, "widgets")
    assert_problem(v3.put(f"{v3.org}/sessions"), 405)
