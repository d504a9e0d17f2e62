"""Coalesced polling: waiting triggers of one connection share one batch request per interval (v3).

Every test runs real triggers against the emulator over loopback HTTP and reads the emulator's
journal to see what went over the wire.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from test_devin_trigger import capture_log, collect, create_session, make_trigger

from airflow_provider_devin.hooks._async import open_client_count
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.session import Handover, MessagePosition
from airflow_provider_devin.triggers import _poller
from airflow_provider_devin.triggers._poller import Subscription, active_pollers, poller_count

V3 = pytest.mark.parametrize("devin_api_version", ["v3"])


def batch_polls(control, api, since: float = 0.0) -> list[list[str]]:
    """The ``session_ids`` of each session-list request in the journal (after ``since``, monotonic)."""
    return [
        entry["query"].get("session_ids", [])
        for entry in api.session_lists(control)
        if entry["monotonic"] >= since and "session_ids" in entry["query"]
    ]


def add_connection(monkeypatch, devin_emulator, conn_id: str, extra: dict | None = None) -> str:
    conn = {"conn_type": "devin", "host": devin_emulator.base_url, "password": devin_emulator.api_key}
    if extra:
        conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


async def run_all(triggers):
    return [events for events in await asyncio.gather(*(collect(t) for t in triggers))]


async def wait_on_many(count: int, interval: float, wait_for: float):
    """``count`` working sessions, each waited on by its own trigger until ``wait_for`` s pass."""
    sids = [create_session("working_forever") for _ in range(count)]
    started = time.monotonic()
    deadline = time.time() + wait_for
    results = await run_all([make_trigger(session_id=s, poll_interval=interval, deadline=deadline) for s in sids])
    # Each trigger fired exactly one event, about its own session.
    assert [[e.payload["session_id"] for e in events] for events in results] == [[sid] for sid in sids]
    assert {events[0].payload["status"] for events in results} == {"timeout"}
    return sids, started


@V3
async def test_many_waiting_triggers_share_one_list_request_per_interval(devin_emulator, api):
    sids, started = await wait_on_many(30, interval=0.5, wait_for=2.6)
    polls = batch_polls(devin_emulator.control, api, started)
    # No trigger read its own session: one request per round carried every waiting session.
    assert not [e for e in devin_emulator.control.journal(method="GET") if e["path"] in map(api.session, sids)]
    full_rounds = [ids for ids in polls if len(ids) == len(sids)]
    assert sorted(full_rounds[0]) == sorted(sids)
    assert 4 <= len(full_rounds) <= 7  # ~2.6 s at 0.5 s
    assert len(polls) <= len(full_rounds) + 3  # plus a few join rounds while the triggers started


@V3
async def test_every_trigger_ends_with_its_own_result(devin_emulator):
    scenarios = {"finish": "success", "expire": "failed", "park_blocked": "blocked"}
    sids = {create_session(name): status for name, status in scenarios.items()}
    triggers = [make_trigger(session_id=sid, on_blocked="fail", poll_interval=0.2) for sid in sids]
    results = await run_all(triggers)
    assert {events[0].payload["session_id"]: events[0].payload["status"] for events in results} == sids
    assert all(len(events) == 1 for events in results)


@V3
async def test_a_cancelled_trigger_unsubscribes_and_the_last_one_closes_the_client(devin_emulator, api):
    keep, leave = create_session("working_forever"), create_session("working_forever")
    stayer = asyncio.ensure_future(collect(make_trigger(session_id=keep, poll_interval=0.2, deadline=time.time() + 3)))
    leaver = asyncio.ensure_future(collect(make_trigger(session_id=leave, poll_interval=0.2)))
    await asyncio.sleep(1.0)
    assert poller_count() == 1 and active_pollers()[0].subscribers == 2
    leaver.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaver
    left = time.monotonic()
    await asyncio.sleep(0.8)
    assert active_pollers()[0].subscribers == 1
    after = batch_polls(devin_emulator.control, api, left + 0.05)
    assert after and all(ids == [keep] for ids in after)
    stayer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stayer
    assert poller_count() == 0 and open_client_count() == 0


@pytest.fixture
def no_retry_conn(devin_emulator, monkeypatch):
    return add_connection(monkeypatch, devin_emulator, "devin_noretry", {"max_retries": 0})


@V3
async def test_a_failed_batch_request_is_one_transient_error_for_each_subscriber(devin_emulator, api, no_retry_conn):
    sids = [create_session("finish") for _ in range(4)]
    devin_emulator.control.inject_fault("GET", api.sessions, status=503, times=2)
    triggers = [make_trigger(session_id=s, devin_conn_id=no_retry_conn, poll_error_window=60) for s in sids]
    logs = [capture_log(t) for t in triggers]
    results = await run_all(triggers)
    assert [events[0].payload["status"] for events in results] == ["success"] * 4
    lists = api.session_lists(devin_emulator.control)
    failed = [entry["query"].get("session_ids", []) for entry in lists if entry["status"] == 503]
    assert len(failed) == 2
    # The triggers join the poller one by one (each looks its connection up first), so a failed
    # request may carry only those already subscribed; it must carry more than one to prove sharing.
    assert max(len(ids) for ids in failed) > 1
    # Each failed batch request is one failed poll of each session it carried.
    for sid, log in zip(sids, logs, strict=True):
        carried = sum(sid in ids for ids in failed)
        assert sum(line.startswith("Polling Devin failing") for line in log.lines) == carried


@V3
async def test_batch_requests_failing_past_the_window_end_every_wait_with_error(devin_emulator, api, no_retry_conn):
    sids = [create_session("finish") for _ in range(3)]
    devin_emulator.control.inject_fault("GET", api.sessions, status=503, times=1000)
    triggers = [make_trigger(session_id=s, devin_conn_id=no_retry_conn, poll_error_window=1.0) for s in sids]
    results = await run_all(triggers)
    assert [events[0].payload["status"] for events in results] == ["error"] * 3
    assert all("poll_error_window=1 s" in events[0].payload["message"] for events in results)
    # Shared, and held back by the connection's backoff: a few requests, not a few per trigger.
    assert 2 <= len(batch_polls(devin_emulator.control, api)) <= 3


@V3
async def test_sessions_of_different_connections_never_share_a_request(devin_emulator, api, monkeypatch):
    other = add_connection(monkeypatch, devin_emulator, "devin_other")
    mine = [create_session("working_forever") for _ in range(3)]
    theirs = [create_session("working_forever") for _ in range(3)]
    triggers = [make_trigger(session_id=s, poll_interval=0.3, deadline=time.time() + 1.5) for s in mine]
    triggers += [
        make_trigger(session_id=s, devin_conn_id=other, poll_interval=0.3, deadline=time.time() + 1.5) for s in theirs
    ]
    await run_all(triggers)
    polls = batch_polls(devin_emulator.control, api)
    assert any(set(ids) == set(mine) for ids in polls) and any(set(ids) == set(theirs) for ids in polls)
    assert all(set(ids) <= set(mine) or set(ids) <= set(theirs) for ids in polls)


@V3
async def test_more_than_200_sessions_go_in_requests_of_200(devin_emulator, api):
    sids, started = await wait_on_many(205, interval=1.0, wait_for=3.5)
    polls = batch_polls(devin_emulator.control, api, started)
    assert max(len(ids) for ids in polls) == 200
    full_round = [ids for ids in polls if len(ids) == 200]
    # Each full round sends the 205 sessions as 200 + 5, every session in exactly one of them.
    last = full_round[-1]
    rest = [ids for ids in polls if len(ids) == 5]
    assert rest and sorted(last + rest[-1]) == sorted(sids)


@V3
async def test_a_session_missing_from_the_list_is_read_on_its_own_and_404_is_not_found(devin_emulator, api):
    started = time.monotonic()
    # A 1 s interval: the 404 ends the wait before a second round could read the session again.
    (event,) = await collect(make_trigger(session_id="devin-doesnotexist", poll_interval=1.0))
    assert event.payload["status"] == "error"
    assert time.monotonic() - started < 10
    (own,) = devin_emulator.control.journal(method="GET", path=api.session("devin-doesnotexist"))
    assert own["status"] == 404
    # Usually one round; on a loaded machine a join round may repeat it while the read runs.
    polls = batch_polls(devin_emulator.control, api)
    assert polls and all(ids == ["devin-doesnotexist"] for ids in polls), polls


@pytest.mark.parametrize("devin_api_version", ["v1"])
async def test_on_v1_each_trigger_reads_its_own_session(devin_emulator, api):
    sids = [create_session("finish") for _ in range(3)]
    results = await run_all([make_trigger(session_id=s, poll_interval=0.2) for s in sids])
    assert [events[0].payload["status"] for events in results] == ["success"] * 3
    assert not api.session_lists(devin_emulator.control)
    assert all(devin_emulator.control.journal(method="GET", path=api.session(s)) for s in sids)
    assert poller_count() == 0


@V3
async def test_each_trigger_keeps_its_own_interval_and_deadline(devin_emulator, api):
    fast_sid, slow_sid = create_session("working_forever"), create_session("working_forever")
    started = time.monotonic()
    fast = make_trigger(session_id=fast_sid, poll_interval=0.2, deadline=time.time() + 1.2)
    slow = make_trigger(session_id=slow_sid, poll_interval=0.8, deadline=time.time() + 2.5)
    results = await run_all([fast, slow])
    assert [events[0].payload["status"] for events in results] == ["timeout", "timeout"]
    polls = batch_polls(devin_emulator.control, api, started)
    fast_polls = sum(ids == [fast_sid] for ids in polls)
    slow_polls = sum(ids == [slow_sid] for ids in polls)
    assert 5 <= fast_polls <= 8  # 1.2 s at 0.2 s
    assert 3 <= slow_polls <= 5  # 2.5 s at 0.8 s
    assert time.monotonic() - started < 4


@V3
async def test_messages_are_read_only_after_the_session_changed(devin_emulator, api):
    devin_emulator.control.set_speed(0.001)  # the session changes only when the test says so
    sid = create_session("working_forever")
    trigger = make_trigger(session_id=sid, poll_interval=0.2, deadline=time.time() + 6.0)
    log = capture_log(trigger)
    task = asyncio.ensure_future(collect(trigger))
    await asyncio.sleep(3.0)
    devin_emulator.control.advance(25)  # the first progress message
    (event,) = await task
    assert event.payload["status"] == "timeout"
    polls = len(batch_polls(devin_emulator.control, api))
    reads = len(devin_emulator.control.journal(method="GET", path=api.message(sid)))
    assert polls >= 25
    # Read for about a second (updated_at's resolution) after the start and after the change only.
    assert reads <= 16
    assert sum(line.startswith("Devin: Progress") for line in log.lines) == 1


def test_an_unchanged_updated_at_is_read_again_only_within_its_second():
    sub = Subscription("devin-1", MessagePosition())
    body = {"updated_at": 100, "status": "running", "status_detail": "working"}
    assert sub.wants_messages(body)[0]  # the first observation
    snapshot = type("Snap", (), {"position": MessagePosition("c", "e")})()
    sub.commit(sub.wants_messages(body)[1], snapshot, sent=10.0, received=10.1)
    assert sub.wants_messages(body)[0]  # the same second may still hold a later message
    sub.commit(sub.wants_messages(body)[1], snapshot, sent=11.2, received=11.3)
    assert not sub.wants_messages(body)[0]  # observed 1.1 s after first seen: that second is over
    assert sub.wants_messages({**body, "updated_at": 101})[0]
    assert sub.wants_messages({**body, "status_detail": "finished"})[0]
    assert sub.wants_messages({**body, "updated_at": None})[0]  # no updated_at: always read
    # Only a status change jumps the queue of reads, not a new message.
    assert not sub.status_changed({**body, "updated_at": 101})
    assert sub.status_changed({**body, "status_detail": "finished"})
    assert not Subscription("devin-2", MessagePosition()).status_changed(body)  # first sight


def message_reads(control, api, sid: str, since: float) -> list[dict]:
    """The journal's messages reads of ``sid`` after ``since`` (monotonic)."""
    return [e for e in control.journal(method="GET", path=api.message(sid)) if e["monotonic"] >= since]


def worker_handover(sid: str, *, settled: bool) -> tuple[str | None, list]:
    """What an operator hands its trigger after reading ``sid`` (position, observation).

    Unsettled: as if the worker had read the messages within ``updated_at``'s second.
    """
    snapshot = DevinHook().read_session(sid)
    handover = snapshot.handover()
    assert handover is not None and isinstance(handover[0], int)
    if not settled:
        handover[3] = handover[0] + 0.5
    assert Handover.decode(handover).settled is settled
    return snapshot.position.encode(), handover


def test_a_handover_is_settled_only_when_the_messages_were_read_a_second_after_updated_at():
    assert Handover.decode([100, "running", "working", 101.0]) == Handover((100, "running", "working"), True)
    assert Handover.decode([100, "running", "working", 100.9]).settled is False
    # What the contract does not promise is read again, never trusted: an ISO updated_at, no read time.
    assert Handover.decode(["2026-12-01T10:00:00Z", "running", None, 2e9]).settled is False
    assert Handover.decode([100, "running", None, None]).settled is False
    assert Handover.decode([True, "running", None, 200.0]).settled is False
    for unreadable in (None, "100|running", [100, "running"], {"updated_at": 100}):
        assert Handover.decode(unreadable) is None


@V3
async def test_a_settled_handover_reads_no_messages_until_the_session_changes(devin_emulator, api):
    devin_emulator.control.set_speed(0.001)  # the session changes only when the test says so
    sid = create_session("working_forever")
    await asyncio.sleep(1.1)  # the worker's read comes a full second after updated_at
    position, handover = worker_handover(sid, settled=True)
    started = time.monotonic()
    trigger = make_trigger(session_id=sid, poll_interval=0.2, position=position, handover=handover)
    trigger = make_trigger(**{**trigger.serialize()[1], "deadline": time.time() + 1.5})  # as a triggerer rebuilds it
    (event,) = await collect(trigger)
    assert event.payload["status"] == "timeout"
    polls = batch_polls(devin_emulator.control, api, started)
    reads = [
        e for e in devin_emulator.control.journal(method="GET", path=api.message(sid)) if e["monotonic"] >= started
    ]
    assert len(polls) >= 5 and reads == []


@V3
async def test_an_unsettled_or_outdated_handover_reads_the_messages(devin_emulator, api):
    devin_emulator.control.set_speed(0.001)
    moved = create_session("working_forever")
    await asyncio.sleep(1.1)
    moved_position, moved_handover = worker_handover(moved, settled=True)
    unsettled = create_session("working_forever")
    position, handover = worker_handover(unsettled, settled=False)
    moved_handover[0] -= 5  # the worker saw an older updated_at: something happened since
    started = time.monotonic()
    deadline = time.time() + 1.5
    await run_all(
        [
            make_trigger(
                session_id=unsettled, poll_interval=0.2, deadline=deadline, position=position, handover=handover
            ),
            make_trigger(
                session_id=moved, poll_interval=0.2, deadline=deadline, position=moved_position, handover=moved_handover
            ),
        ]
    )
    for sid in (unsettled, moved):
        reads = [
            e for e in devin_emulator.control.journal(method="GET", path=api.message(sid)) if e["monotonic"] >= started
        ]
        assert 1 <= len(reads) <= 7, sid  # within the first second, then no more


@V3
async def test_a_status_change_is_read_ahead_of_reads_still_waiting_for_a_slot(devin_emulator, api, monkeypatch):
    monkeypatch.setattr(_poller, "MAX_CONCURRENT_READS", 1)
    devin_emulator.control.set_speed(0.001)
    slow, queued = create_session("working_forever"), create_session("working_forever")
    handovers = {sid: worker_handover(sid, settled=False) for sid in (slow, queued)}
    # The slow session's start-up read takes the only slot and is held 6 s; the other one's queues.
    devin_emulator.control.inject_fault("GET", api.message(slow), delay=6, times=1)
    deadline = time.time() + 10

    def wait_on(sid):
        position, handover = handovers[sid]
        trigger = make_trigger(
            session_id=sid, poll_interval=0.2, deadline=deadline, position=position, handover=handover
        )
        return asyncio.ensure_future(collect(trigger))

    slow_wait = wait_on(slow)
    await asyncio.sleep(0.6)
    assert devin_emulator.control.faults() == []  # the held read is under way
    queued_wait = wait_on(queued)
    await asyncio.sleep(0.6)
    devin_emulator.control.set_status(queued, "finished")
    changed = time.monotonic()
    done, _ = await asyncio.wait({queued_wait}, timeout=8)
    assert done, "the finished session waited behind the held read"
    (event,) = queued_wait.result()
    assert event.payload["status"] == "success"
    assert time.monotonic() - changed < 3.5  # the held read is answered only ~4.8 s after the change
    (other,) = await slow_wait
    assert other.payload["status"] == "timeout"
