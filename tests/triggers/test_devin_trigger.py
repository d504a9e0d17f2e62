"""DevinSessionTrigger: serialization, and real polling against the emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time

import pytest

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.devin import idempotency_tag, task_instance_key
from airflow_provider_devin.session import StatusClass
from airflow_provider_devin.triggers.devin import DevinSessionTrigger

ALLOWED_KWARGS = {
    "devin_conn_id",
    "session_id",
    "poll_interval",
    "deadline",
    "on_blocked",
    "suspend_stall_timeout",
    "max_acu_limit",
    "terminate_on_kill",
    "poll_error_window",
    "acu_budget",
    "reply_pending",
    "position",
    "handover",
    "previous_class",
    "last_status",
    "url",
    "deadline_limit",
}


def make_trigger(**overrides):
    kwargs = {
        "devin_conn_id": "devin_default",
        "session_id": "devin-0123",
        "poll_interval": 0.1,
        "deadline": time.time() + 60,
        "on_blocked": "succeed",
    }
    kwargs.update(overrides)
    return DevinSessionTrigger(**kwargs)


def rebuild(trigger):
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_serialize_round_trip_rebuilds_an_equal_trigger():
    trigger = make_trigger(on_blocked="wait", suspend_stall_timeout=90, max_acu_limit=5, terminate_on_kill=True)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_devin.triggers.devin.DevinSessionTrigger"
    again = rebuild(trigger)
    assert again.serialize() == (classpath, kwargs)
    assert again.policy == trigger.policy


def test_serialized_kwargs_are_plain_json_and_serde_serialisable():
    serde = pytest.importorskip("airflow.sdk.serde", reason="airflow.sdk.serde is new in Airflow 3.2")

    _, kwargs = make_trigger().serialize()
    assert set(kwargs) == ALLOWED_KWARGS
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert serde.deserialize(serde.serialize(kwargs)) == kwargs


def test_no_serialized_kwarg_holds_the_idempotency_key_or_the_api_key(devin_emulator):
    class TI:
        dag_id, task_id, run_id, map_index = "dag", "task", "manual__2026-01-01", -1

    key = task_instance_key({"ti": TI()})
    tag = idempotency_tag(key)
    _, kwargs = make_trigger().serialize()
    flat = json.dumps(kwargs)
    for secret in (key, tag, tag.split(":", 1)[1], devin_emulator.api_key):
        assert secret not in flat


def test_invalid_policy_values_fail_when_the_trigger_is_built():
    with pytest.raises(ValueError, match="on_blocked"):
        make_trigger(on_blocked="sometimes")


def create_session(scenario: str, **kwargs) -> str:
    hook = DevinHook()
    return hook.create_session(f"Work [emulator:scenario={scenario}]", **kwargs)["session_id"]


async def collect(trigger):
    return [event async for event in trigger.run()]


async def test_finished_session_yields_exactly_one_success_event_with_a_summary(devin_emulator):
    sid = create_session("pull_request")
    events = await collect(make_trigger(session_id=sid))
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["session_id"] == sid
    assert payload["summary"]["status_enum"] == "finished"
    assert payload["summary"]["pull_request_url"]
    assert payload["summary"]["last_devin_message"]


@pytest.mark.parametrize(("on_blocked", "status"), [("succeed", "blocked"), ("fail", "blocked")])
async def test_parked_blocked_session_yields_a_blocked_event(devin_emulator, on_blocked, status):
    sid = create_session("park_blocked")
    events = await collect(make_trigger(session_id=sid, on_blocked=on_blocked))
    assert [e.payload["status"] for e in events] == [status]


async def test_expired_session_yields_failed(devin_emulator):
    sid = create_session("expire")
    (event,) = await collect(make_trigger(session_id=sid))
    assert event.payload["status"] == "failed"
    assert "ended without finishing" in event.payload["message"]


async def test_deadline_yields_timeout_naming_the_last_status(devin_emulator):
    sid = create_session("working_forever")
    (event,) = await collect(make_trigger(session_id=sid, deadline=time.time() + 0.5))
    assert event.payload["status"] == "timeout"
    assert sid in event.payload["message"] and "working" in event.payload["message"]


async def test_unknown_session_yields_error_at_once(devin_emulator):
    started = time.monotonic()
    (event,) = await collect(make_trigger(session_id="devin-doesnotexist"))
    assert event.payload["status"] == "error"
    assert time.monotonic() - started < 10


@pytest.fixture
def no_retry_conn(devin_emulator, monkeypatch):
    """A connection whose hook does not retry, so each failed poll reaches the trigger."""
    conn = {
        "conn_type": "devin",
        "host": devin_emulator.base_url,
        "password": devin_emulator.api_key,
        "extra": {"max_retries": 0, "initial_retry_wait": 0.05},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_NORETRY", json.dumps(conn))
    return "devin_noretry"


async def test_transient_poll_errors_are_tolerated_within_the_outage_window(devin_emulator, api, no_retry_conn):
    sid = create_session("finish")
    devin_emulator.control.inject_fault("GET", api.status_poll(sid), status=503, times=3)
    (event,) = await collect(make_trigger(session_id=sid, devin_conn_id=no_retry_conn, poll_error_window=30))
    assert event.payload["status"] == "success"


async def test_polls_failing_for_longer_than_the_outage_window_yield_error(devin_emulator, api, no_retry_conn):
    sid = create_session("finish")
    devin_emulator.control.inject_fault("GET", api.status_poll(sid), status=503, times=1000)
    started = time.monotonic()
    (event,) = await collect(make_trigger(session_id=sid, devin_conn_id=no_retry_conn, poll_error_window=1.0))
    assert event.payload["status"] == "error"
    assert "poll_error_window=1 s" in event.payload["message"]
    assert 1.0 <= time.monotonic() - started < 10
    # The trigger never touches the session on error: a retry reattaches to it.
    assert not devin_emulator.control.journal(method="DELETE")


async def test_a_not_found_session_ends_the_wait_at_once_whatever_the_window(devin_emulator, api, no_retry_conn):
    (event,) = await collect(
        make_trigger(session_id="devin-0000000000000000000000000000dead", devin_conn_id=no_retry_conn)
    )
    assert event.payload["status"] == "error"
    assert "kept failing" not in event.payload["message"]


def test_max_poll_errors_from_old_kwargs_maps_to_a_window_never_shorter_than_the_default():
    from airflow_provider_devin.status import DEFAULT_POLL_ERROR_WINDOW

    old = make_trigger(max_poll_errors=5, poll_interval=30.0)
    assert old.poll_error_window == DEFAULT_POLL_ERROR_WINDOW
    slow = make_trigger(max_poll_errors=5, poll_interval=600.0)
    assert slow.poll_error_window == 3000.0
    assert "max_poll_errors" not in rebuild(old).serialize()[1]
    assert make_trigger(poll_error_window=0).poll_error_window == 0.0


@pytest.mark.parametrize("bad", [-1, "10", True])
def test_a_bad_poll_error_window_names_the_field(bad):
    with pytest.raises(ValueError, match="poll_error_window"):
        make_trigger(poll_error_window=bad)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def capture_log(trigger) -> ListHandler:
    """Route the trigger's own logger to a list (Airflow's structlog setup bypasses caplog)."""
    handler = ListHandler()
    logger = logging.getLogger(f"test.trigger.{id(trigger)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    trigger._log = logger
    return handler


async def test_logs_one_line_per_status_change_or_message_not_per_poll(devin_emulator, api):
    sid = create_session("working_forever")
    trigger = make_trigger(session_id=sid, poll_interval=0.05, deadline=time.time() + 2.5)
    log = capture_log(trigger)
    (event,) = await collect(trigger)
    assert event.payload["status"] == "timeout"
    polls = len(devin_emulator.control.journal(method="GET", path=api.status_poll(sid)))
    status_lines = [line for line in log.lines if line.startswith("Devin status:")]
    message_lines = [line for line in log.lines if line.startswith("Devin: ")]
    assert polls >= 10
    # One line per change: v1 starts "working"; v3 goes "new" -> "running/working" (the first
    # observation may come after the emulated "new" is over).
    assert len(status_lines) == 1 if api.version == "v1" else len(status_lines) in (1, 2)
    assert status_lines[-1].endswith("running/working") or api.version == "v1"
    assert len(message_lines) == 3  # working_forever writes three progress messages
    assert not any(sid in line for line in message_lines + status_lines)
    assert len(log.lines) == 1 + len(status_lines) + 3  # plus the one line naming the session and its URL
    assert sid in log.lines[0]


async def test_a_trigger_logs_only_the_messages_after_the_position_it_was_given(devin_emulator):
    sid = create_session("finish")
    devin_emulator.control.advance(25)  # the first two progress messages exist
    seen = DevinHook().read_session(sid)
    already = [m.text for m in seen.new_messages if m.from_devin]
    assert len(already) == 2
    trigger = make_trigger(session_id=sid, position=seen.position.encode())
    log = capture_log(trigger)
    (event,) = await collect(trigger)
    assert event.payload["status"] == "success"
    logged = [line.removeprefix("Devin: ") for line in log.lines if line.startswith("Devin: ")]
    assert logged and not set(logged) & set(already)
    assert event.payload["summary"]["last_devin_message"] == logged[-1]


def test_a_trigger_serialized_by_provider_0_1_still_loads():
    legacy = make_trigger(reply_after_index=3)
    assert legacy.reply_pending is True
    assert "reply_after_index" not in legacy.serialize()[1]


async def test_on_kill_terminates_the_session_when_configured(devin_emulator, api):
    sid = create_session("working_forever")
    await make_trigger(session_id=sid, terminate_on_kill=True).on_kill()
    assert api.deletes(devin_emulator.control) == [api.session(sid)]
    assert DevinHook().read_session(sid).view.status_class in (StatusClass.FAILED, StatusClass.EXITED)


async def test_on_kill_leaves_the_session_alone_when_not_configured(devin_emulator):
    sid = create_session("working_forever")
    await make_trigger(session_id=sid, terminate_on_kill=False).on_kill()
    assert not devin_emulator.control.journal(method="DELETE")


async def test_on_kill_tolerates_an_already_ended_session(devin_emulator, api):
    sid = create_session("working_forever")
    DevinHook().terminate_session(sid)
    trigger = make_trigger(session_id=sid, terminate_on_kill=True)
    log = capture_log(trigger)
    await trigger.on_kill()  # Devin refuses the second termination; on_kill must not raise
    (again,) = devin_emulator.control.journal(method="DELETE")[1:]
    assert again["path"] == api.session(sid) and 400 <= again["status"] < 500
    assert any("Could not terminate Devin session" in line and sid in line for line in log.lines)


async def test_cancelling_the_trigger_never_terminates_the_session(devin_emulator):
    sid = create_session("working_forever")
    trigger = make_trigger(session_id=sid, terminate_on_kill=True)
    task = asyncio.ensure_future(collect(trigger))
    await asyncio.sleep(0.5)
    task.cancel()  # what a triggerer restart does
    with pytest.raises(asyncio.CancelledError):
        await task
    await trigger.cleanup()
    assert not devin_emulator.control.journal(method="DELETE")
    from airflow_provider_devin.hooks._async import open_client_count

    assert open_client_count() == 0


async def test_a_trigger_rebuilt_after_a_triggerer_restart_finishes_the_same_wait(devin_emulator):
    sid = create_session("finish")
    first = make_trigger(session_id=sid, poll_interval=0.1)
    task = asyncio.ensure_future(collect(first))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await first.cleanup()
    (event,) = await collect(rebuild(first))
    assert event.payload["status"] == "success"
    assert event.payload["session_id"] == sid
    # Only reads happened: no create, message or terminate from either run.
    assert [j["method"] for j in devin_emulator.control.journal() if j["method"] != "GET"] == ["POST"]


async def test_a_trigger_does_not_log_again_the_status_the_worker_already_logged(devin_emulator):
    sid = create_session("working_forever")
    devin_emulator.control.advance(10)
    label = DevinHook().read_session(sid).view.status_label
    trigger = make_trigger(session_id=sid, last_status=label, deadline=time.time() + 1.0)
    log = capture_log(trigger)
    (event,) = await collect(trigger)
    assert event.payload["status"] == "timeout"
    assert not [line for line in log.lines if line.startswith("Devin status:")]


async def test_a_trigger_rebuilt_from_its_kwargs_logs_only_what_the_worker_had_not_logged(devin_emulator, api):
    """No log storm on a triggerer start: the worker's position and last status travel in the kwargs."""
    from airflow_provider_devin.status import OnBlocked, SessionWatch, StatusPolicy

    sid = create_session("finish")
    devin_emulator.control.advance(45)  # the three progress messages exist, the session still works
    worker_log = logging.getLogger("test.worker")
    watch = SessionWatch(StatusPolicy(on_blocked=OnBlocked.SUCCEED), sid, worker_log)
    snapshot = DevinHook().read_session(sid)
    assert not watch.observe(snapshot).outcome.is_terminal
    already = [m.text for m in snapshot.new_messages if m.from_devin]
    assert len(already) == 3
    # As the operator defers, then as a triggerer (re)starts it: from the serialized kwargs only.
    deferred = make_trigger(
        session_id=sid,
        position=watch.position.encode(),
        last_status=watch.last_label,
        previous_class=watch.previous_class.value if watch.previous_class else None,
    )
    trigger = rebuild(deferred)
    assert not any(text in json.dumps(trigger.serialize()[1]) for text in already), "a position, not message text"
    log = capture_log(trigger)
    (event,) = await collect(trigger)
    assert event.payload["status"] == "success"
    messages = [line.removeprefix("Devin: ") for line in log.lines if line.startswith("Devin: ")]
    statuses = [line for line in log.lines if line.startswith("Devin status:")]
    assert messages == [event.payload["summary"]["last_devin_message"]]  # only the one written after deferral
    assert len(statuses) == 1 and statuses[0].endswith("finished")  # the change, not the status it started in
    assert len(log.lines) == 1 + len(messages) + len(statuses)  # plus the line naming the session
