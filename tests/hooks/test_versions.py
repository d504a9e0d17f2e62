"""What the connection's API version decides: the org id, version-only calls, array params, message
positions across reads and hooks, and the tag re-check of find_sessions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_devin.exceptions import DevinConfigError, DevinResponseError
from airflow_provider_devin.hooks._dialect import UnsupportedInVersion
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.session import MessagePosition

V3_KEY = "cog_emulator_test_key"
v3_only = pytest.mark.parametrize("devin_api_version", ["v3"])
both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


def self_calls(devin_emulator) -> int:
    return len(devin_emulator.control.journal(path="/v3/self"))


def define(monkeypatch, conn_id: str, host: str, key: str, extra: dict[str, Any] | None = None) -> None:
    conn = {"conn_type": "devin", "host": host, "password": key, "extra": extra or {}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


# --- the organization ---------------------------------------------------------------------------


@v3_only
def test_org_id_from_the_extra_needs_no_self_call(devin_emulator, monkeypatch):
    define(monkeypatch, "devin_org", devin_emulator.base_url, V3_KEY, {"org_id": "org-emulator"})
    hook = DevinHook("devin_org")
    session_id = hook.create_session("task")["session_id"]
    hook.get_session(session_id)
    assert hook.org_id == "org-emulator"
    assert self_calls(devin_emulator) == 0


@v3_only
def test_org_id_from_self_is_asked_once_per_hook_instance(hook, devin_emulator):
    session_id = hook.create_session("task")["session_id"]
    for _ in range(5):
        hook.get_session(session_id)
        hook.read_session(session_id)
    assert hook.org_id == "org-emulator"
    assert self_calls(devin_emulator) == 1
    other = DevinHook()
    other.get_session(session_id)
    other.list_sessions()
    assert self_calls(devin_emulator) == 2, "one more for the new hook instance, then none"


@v3_only
async def test_the_async_path_resolves_the_org_once_per_hook_without_blocking(hook, devin_emulator):
    session_id = DevinHook().create_session("task")["session_id"]
    assert self_calls(devin_emulator) == 1
    async with hook.async_api() as api:
        for _ in range(3):
            await api.get_session(session_id)
        snapshot = await api.read_session(session_id)
        assert await api.org_id() == "org-emulator"
    async with hook.async_api() as api:
        await api.list_sessions(session_ids=[session_id])
    assert snapshot.view.session_id == session_id
    assert self_calls(devin_emulator) == 2, "the sync hook's, then one for this hook across both leases"
    assert hook.org_id == "org-emulator"
    assert self_calls(devin_emulator) == 2, "the sync path reuses what the async path resolved"


@v3_only
def test_a_key_without_an_org_and_no_extra_is_a_clear_error(devin_emulator, monkeypatch):
    key = "cog_enterprise_service_user_key"
    devin_emulator.control.add_api_key(
        key,
        principal={
            "principal_type": "service_user",
            "service_user_id": "su-1",
            "service_user_name": "ci",
            "org_id": None,
        },
    )
    define(monkeypatch, "devin_enterprise", devin_emulator.base_url, key)
    hook = DevinHook("devin_enterprise")
    with pytest.raises(DevinConfigError, match="set the connection extra org_id") as caught:
        hook.list_sessions()
    assert "Settings → Devin API" in str(caught.value)
    assert key not in str(caught.value)
    ok, message = hook.test_connection()
    assert not ok and "org_id" in message


# --- version-only operations fail before any request ---------------------------------------------

V1_ONLY = [
    lambda hook: hook.create_session("x", idempotent=True),
    lambda hook: hook.create_session("x", snapshot_id="snapshot-1"),
    lambda hook: hook.create_session("x", unlisted=True),
    lambda hook: hook.list_sessions(user_email="a@example.com"),
    lambda hook: hook.list_sessions(offset=10),
    lambda hook: hook.create_knowledge("n", "b", "t", macro="!m"),
]
V3_ONLY = [
    lambda hook: hook.create_session("x", repos=["acme/warehouse"]),
    lambda hook: hook.create_session("x", devin_mode="fast"),
    lambda hook: hook.terminate_session("devin-1", archive=True),
    lambda hook: hook.append_session_tags("devin-1", ["a"]),
    lambda hook: hook.get_session_tags("devin-1"),
    lambda hook: hook.archive_session("devin-1"),
    lambda hook: hook.unarchive_session("devin-1"),
    lambda hook: hook.list_messages("devin-1"),
    lambda hook: next(hook.iter_messages("devin-1")),
    lambda hook: hook.list_sessions(session_ids=["devin-1"]),
]


@v3_only
@pytest.mark.parametrize("call", V1_ONLY)
def test_v1_only_calls_fail_on_v3_before_any_request(hook, devin_emulator, call):
    with pytest.raises(UnsupportedInVersion, match="only in Devin's v1 API, but this connection uses v3"):
        call(hook)
    assert devin_emulator.control.journal() == [], "not even GET /v3/self"


@pytest.mark.parametrize("call", V3_ONLY)
def test_v3_only_calls_fail_on_v1_before_any_request(hook, devin_emulator, call):
    with pytest.raises(UnsupportedInVersion, match="only in Devin's v3 API, but this connection uses v1"):
        call(hook)
    assert devin_emulator.control.journal() == []


# --- v3-only operations ---------------------------------------------------------------------------


@v3_only
def test_v3_list_sends_repeated_array_parameters(hook, devin_emulator, api):
    first = hook.create_session("a", tags=["x", "y"])["session_id"]
    second = hook.create_session("b", tags=["x", "y"])["session_id"]
    listed = hook.list_sessions(tags=["x", "y"], session_ids=[first, second], limit=200)
    assert {s["session_id"] for s in listed} == {first, second}
    (entry,) = api.session_lists(devin_emulator.control)
    assert entry["query"]["tags"] == ["x", "y"]
    assert entry["query"]["session_ids"] == [first, second]
    assert entry["query"]["first"] == ["200"]


@both_versions
def test_list_sessions_page_follows_next_cursor_to_the_last_page(hook):
    created = {hook.create_session(f"task {n}", tags=["paged"])["session_id"] for n in range(3)}
    first = hook.list_sessions_page(tags=["paged"], limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    second = hook.list_sessions_page(tags=["paged"], limit=2, cursor=first.next_cursor)
    assert second.next_cursor is None
    assert {s["session_id"] for s in [*first.items, *second.items]} == created


@v3_only
def test_v3_tags_archive_and_terminate_with_archive(hook, devin_emulator, api):
    session_id = hook.create_session("task", tags=["a"])["session_id"]
    assert hook.append_session_tags(session_id, ["b", "a"]) == ["a", "b"]
    assert hook.get_session_tags(session_id) == ["a", "b"]
    assert hook.archive_session(session_id)["is_archived"] is True
    assert hook.unarchive_session(session_id)["is_archived"] is False
    hook.terminate_session(session_id, archive=True)
    view = hook.session_view(hook.get_session(session_id))
    assert view.status == "exit" and view.is_archived
    (delete,) = devin_emulator.control.journal(method="DELETE")
    assert delete["query"] == {"archive": ["true"]}


@v3_only
def test_v3_paths_accept_an_id_without_the_devin_prefix(hook, api, devin_emulator):
    session_id = hook.create_session("task")["session_id"]
    bare = session_id.removeprefix("devin-")
    assert hook.get_session(bare)["session_id"] == session_id
    assert devin_emulator.control.journal(method="GET")[-1]["path"] == api.session(session_id)


@v3_only
def test_messages_page_by_cursor(hook):
    session_id = hook.create_session("first")["session_id"]
    for index in range(4):
        hook.send_message(session_id, f"message {index}")
    page = hook.list_messages(session_id, page_size=2)
    assert len(page.items) == 2 and page.next_cursor
    everything = list(hook.iter_messages(session_id, page_size=2))
    texts = [m["message"] for m in everything if m["source"] == "user"]
    assert texts == ["first"] + [f"message {i}" for i in range(4)]
    assert len({m["event_id"] for m in everything}) == len(everything)


# --- read_session: each message once --------------------------------------------------------------


@both_versions
def test_read_session_delivers_each_message_once_across_reads_and_hooks(hook, devin_emulator):
    # The emulated Devin answers while the test runs: compare against the whole conversation at the end.
    session_id = hook.create_session("start")["session_id"]
    delivered: list[str | None] = []
    position: MessagePosition | None = None
    for round_ in range(3):
        for index in range(3):
            hook.send_message(session_id, f"round {round_} message {index}")
        snapshot = hook.read_session(session_id, position)
        delivered += [m.event_id for m in snapshot.new_messages]
        # A new hook (a new trigger run, a new worker) resumes from the encoded text alone.
        hook = DevinHook()
        position = MessagePosition.decode(snapshot.position.encode())
    whole = [m.event_id for m in DevinHook().read_session(session_id).new_messages]
    delivered += [m.event_id for m in DevinHook().read_session(session_id, position).new_messages]
    assert len(delivered) == len(set(delivered)), "no message twice"
    assert delivered[: len(whole)] == whole, "none missed, in order"


@both_versions
async def test_async_read_session_matches_the_sync_one(hook):
    session_id = hook.create_session("start")["session_id"]
    hook.send_message(session_id, "next")
    sync = hook.read_session(session_id)
    async with DevinHook().async_api() as api:
        asynchronous = await api.read_session(session_id)
        again = await api.read_session(session_id, asynchronous.position)
    sync_ids = [m.event_id for m in sync.new_messages]
    async_ids = [m.event_id for m in asynchronous.new_messages]
    assert async_ids[: len(sync_ids)] == sync_ids, "the same conversation (Devin may have added to it since)"
    assert not {m.event_id for m in again.new_messages} & set(async_ids)


@both_versions
def test_find_sessions_returns_the_tagged_sessions_newest_first(hook, devin_emulator):
    older = hook.create_session("a", tags=["airflow-ti:1"])["session_id"]
    devin_emulator.control.advance(60)
    newer = hook.create_session("b", tags=["airflow-ti:1", "other"])["session_id"]
    hook.create_session("c", tags=["airflow-ti:2"])
    assert [view.session_id for view in hook.find_sessions("airflow-ti:1")] == [newer, older]


# --- a scripted server for what the emulator does not do --------------------------------------------


@pytest.fixture
def scripted() -> Iterator[tuple[str, list[dict[str, Any]], list[str]]]:
    """A loopback HTTP server answering GETs with the queued JSON bodies; records request paths."""
    bodies: list[dict[str, Any]] = []
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            payload = json.dumps(bodies.pop(0) if bodies else {"detail": "no more"}).encode()
            self.send_response(200 if payload != b'{"detail": "no more"}' else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies, seen
    finally:
        server.shutdown()
        server.server_close()


def v3_session(session_id: str, tags: list[str], created_at: int) -> dict[str, Any]:
    return {"session_id": session_id, "status": "running", "tags": tags, "created_at": created_at, "url": "u"}


def scripted_hook(monkeypatch, host: str) -> DevinHook:
    define(monkeypatch, "devin_scripted", host, "cog_scripted_key", {"org_id": "org-s", "max_retries": 0})
    return DevinHook("devin_scripted")


def test_find_sessions_rechecks_the_tag_whatever_the_server_filter_did(scripted, monkeypatch):
    host, bodies, seen = scripted
    bodies += [
        {"items": [v3_session("devin-a", ["t"], 1), v3_session("devin-b", ["t-other"], 3)],
         "has_next_page": True, "end_cursor": "c1"},
        {"items": [v3_session("devin-c", ["x", "t"], 2)], "has_next_page": False, "end_cursor": None},
    ]  # fmt: skip
    found = scripted_hook(monkeypatch, host).find_sessions("t")
    assert [view.session_id for view in found] == ["devin-c", "devin-a"]
    assert seen[1].endswith("after=c1") or "after=c1" in seen[1]


def test_a_next_page_without_a_cursor_stops_the_listing_with_an_error(scripted, monkeypatch):
    host, bodies, seen = scripted
    bodies += [{"items": [v3_session("devin-a", ["t"], 1)], "has_next_page": True, "end_cursor": None}]
    with pytest.raises(DevinResponseError, match="has_next_page=true but sent no end_cursor"):
        list(scripted_hook(monkeypatch, host).iter_sessions(tags=["t"]))
    assert len(seen) == 1, "never a loop"


def test_a_messages_page_without_a_cursor_stops_read_session_with_an_error(scripted, monkeypatch):
    host, bodies, seen = scripted
    bodies += [
        v3_session("devin-a", [], 1),
        {"items": [{"event_id": "e1", "source": "devin", "message": "hi", "created_at": 1}],
         "has_next_page": True, "end_cursor": None},
    ]  # fmt: skip
    with pytest.raises(DevinResponseError, match="no end_cursor"):
        scripted_hook(monkeypatch, host).read_session("devin-a")
    assert len(seen) == 2
