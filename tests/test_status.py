"""The status policy: pure logic, so plain unit tests (no HTTP, no Airflow run)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_devin.status import (
    EVENT_STATUSES,
    OnBlocked,
    SessionStatus,
    SessionWatch,
    StatusPolicy,
    WaitOutcome,
    make_event,
    session_summary,
    validate_event,
)

SID = "devin-abc"

RUNNING_VALUES = [
    "working",
    "resume_requested",
    "resume_requested_frontend",
    "resumed",
    None,
    "paused_for_review",
    "",
    42,
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("on_blocked", ["succeed", "fail", "wait"])
def test_finished_is_success_under_every_on_blocked(on_blocked):
    verdict = StatusPolicy(on_blocked=on_blocked).decide("finished", session_id=SID)
    assert verdict.outcome is WaitOutcome.SUCCESS


@pytest.mark.parametrize("on_blocked", ["succeed", "fail", "wait"])
def test_expired_is_failure_under_every_on_blocked(on_blocked):
    verdict = StatusPolicy(on_blocked=on_blocked).decide("expired", session_id=SID)
    assert verdict.outcome is WaitOutcome.FAILED
    assert SID in verdict.message and "expired" in verdict.message


@pytest.mark.parametrize(
    ("on_blocked", "outcome", "success"),
    [("succeed", WaitOutcome.BLOCKED, True), ("fail", WaitOutcome.BLOCKED, False), ("wait", WaitOutcome.RUNNING, None)],
)
def test_blocked_follows_on_blocked(on_blocked, outcome, success):
    policy = StatusPolicy(on_blocked=on_blocked)
    assert policy.decide("blocked", session_id=SID).outcome is outcome
    if success is not None:
        assert policy.blocked_is_success() is success


@pytest.mark.parametrize("value", RUNNING_VALUES)
@pytest.mark.parametrize("on_blocked", ["succeed", "fail", "wait"])
def test_transitional_null_and_unknown_values_keep_waiting(value, on_blocked):
    verdict = StatusPolicy(on_blocked=on_blocked).decide(value, session_id=SID)
    assert verdict.outcome is WaitOutcome.RUNNING


@pytest.mark.parametrize("value", ["suspend_requested", "suspend_requested_frontend"])
def test_suspended_keeps_waiting_until_the_stall_window_passes(value):
    policy = StatusPolicy(suspend_stall_timeout=600)
    assert policy.decide(value, session_id=SID).outcome is WaitOutcome.RUNNING
    assert policy.decide(value, session_id=SID, suspended_for=599).outcome is WaitOutcome.RUNNING
    stalled = policy.decide(value, session_id=SID, suspended_for=600)
    assert stalled.outcome is WaitOutcome.FAILED
    for cause in ("ACU limit", "quota", "inactivity", "paused"):
        assert cause in stalled.message
    assert SID in stalled.message


def test_stall_message_names_max_acu_limit_when_set():
    policy = StatusPolicy(suspend_stall_timeout=1, max_acu_limit=7)
    message = policy.decide("suspend_requested", session_id=SID, suspended_for=5).message
    assert "max_acu_limit (7 ACUs)" in message


def test_stall_message_says_a_human_paused_a_frontend_suspension():
    message = (
        StatusPolicy(suspend_stall_timeout=1)
        .decide("suspend_requested_frontend", session_id=SID, suspended_for=5)
        .message
    )
    assert "A human paused it" in message


def test_every_documented_status_parses_and_unknown_never_raises():
    for value in [
        "working",
        "blocked",
        "expired",
        "finished",
        "suspend_requested",
        "suspend_requested_frontend",
        "resume_requested",
        "resume_requested_frontend",
        "resumed",
    ]:
        assert SessionStatus.parse(value).value == value
    for weird in (None, "FINISHED ", "brand_new_state", 3, {"a": 1}, []):
        SessionStatus.parse(weird)  # never raises
    assert SessionStatus.parse("brand_new_state") is SessionStatus.UNKNOWN
    assert SessionStatus.parse("FINISHED ") is SessionStatus.FINISHED


def test_is_terminal_is_only_finished_and_expired():
    terminal = {s for s in SessionStatus if s.is_terminal}
    assert terminal == {SessionStatus.FINISHED, SessionStatus.EXPIRED}
    assert not WaitOutcome.RUNNING.is_terminal
    assert all(o.is_terminal for o in WaitOutcome if o is not WaitOutcome.RUNNING)
    assert {"success", "blocked", "failed", "timeout", "error"} == EVENT_STATUSES


def test_invalid_policy_values_are_rejected_naming_the_field():
    with pytest.raises(ValueError, match="on_blocked"):
        StatusPolicy(on_blocked="maybe")
    with pytest.raises(ValueError, match="suspend_stall_timeout"):
        StatusPolicy(suspend_stall_timeout=0)
    with pytest.raises(ValueError, match="on_blocked"):
        OnBlocked.coerce("SUCCEED!")


def details(status, messages=(), **extra):
    return {"session_id": SID, "status_enum": status, "messages": list(messages), **extra}


def devin(text, event_id):
    return {"type": "devin_message", "message": text, "event_id": event_id}


def test_watch_logs_a_status_change_once_not_once_per_poll(caplog):
    log = logging.getLogger("test.watch")
    watch = SessionWatch(StatusPolicy(), SID, log)
    with caplog.at_level(logging.INFO, logger="test.watch"):
        for _ in range(20):
            watch.observe(details("working"))
        watch.observe(details("finished"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "working -> finished" in lines[1]


def test_watch_warns_once_per_unknown_value(caplog):
    log = logging.getLogger("test.watch.unknown")
    watch = SessionWatch(StatusPolicy(), SID, log)
    with caplog.at_level(logging.INFO, logger="test.watch.unknown"):
        for _ in range(5):
            assert watch.observe(details("paused_for_review")).outcome is WaitOutcome.RUNNING
        for _ in range(5):
            assert watch.observe(details(None)).outcome is WaitOutcome.RUNNING
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "paused_for_review" in warnings[0] and "null" in warnings[1]


def test_watch_logs_each_new_devin_message_once_deduplicated_and_truncated(caplog):
    log = logging.getLogger("test.watch.messages")
    watch = SessionWatch(StatusPolicy(), SID, log)
    history = [
        {"type": "initial_user_message", "message": "do it", "event_id": "e0"},
        devin("first", "e1"),
    ]
    with caplog.at_level(logging.INFO, logger="test.watch.messages"):
        watch.observe(details("working", history))
        watch.observe(details("working", history))
        history.append(devin("x" * 5000, "e2"))
        watch.observe(details("working", history))
        # A reordered history (same ids) must not log them again.
        watch.observe(details("working", list(reversed(history))))
    messages = [r.getMessage() for r in caplog.records if "Devin (session" in r.getMessage()]
    assert len(messages) == 2
    assert messages[0].endswith("first")
    assert len(messages[1]) < 400


def test_watch_times_a_suspension_and_resets_it_when_the_session_resumes():
    clock = FakeClock()
    watch = SessionWatch(StatusPolicy(suspend_stall_timeout=60), SID, logging.getLogger("t"), clock=clock)
    assert watch.observe(details("suspend_requested")).outcome is WaitOutcome.RUNNING
    clock.now += 59
    assert watch.observe(details("suspend_requested")).outcome is WaitOutcome.RUNNING
    clock.now += 1
    assert watch.observe(details("suspend_requested")).outcome is WaitOutcome.FAILED

    watch = SessionWatch(StatusPolicy(suspend_stall_timeout=60), SID, logging.getLogger("t"), clock=clock)
    watch.observe(details("suspend_requested"))
    clock.now += 50
    watch.observe(details("resumed"))
    clock.now += 50
    assert watch.observe(details("suspend_requested")).outcome is WaitOutcome.RUNNING


def test_watch_continues_a_suspension_recorded_by_an_earlier_process():
    clock = FakeClock()
    watch = SessionWatch(
        StatusPolicy(suspend_stall_timeout=60), SID, logging.getLogger("t"), suspended_since=clock.now - 61, clock=clock
    )
    assert watch.observe(details("suspend_requested")).outcome is WaitOutcome.FAILED


def test_watch_after_a_sent_message_ignores_the_stale_end_state_until_devin_replies():
    history = [devin("done", "e1"), {"type": "user_message", "message": "more [airflow-ti:x]", "event_id": "e2"}]
    watch = SessionWatch(StatusPolicy(), SID, logging.getLogger("t"), reply_after_index=1)
    assert watch.observe(details("finished", history)).outcome is WaitOutcome.RUNNING
    assert watch.observe(details("blocked", history)).outcome is WaitOutcome.RUNNING
    history.append(devin("on it", "e3"))
    assert watch.observe(details("finished", history)).outcome is WaitOutcome.SUCCESS


def test_watch_after_a_sent_message_accepts_the_end_state_once_the_session_was_seen_working():
    history = [devin("done", "e1"), {"type": "user_message", "message": "more", "event_id": "e2"}]
    watch = SessionWatch(StatusPolicy(), SID, logging.getLogger("t"), reply_after_index=1)
    assert watch.observe(details("working", history)).outcome is WaitOutcome.RUNNING
    assert watch.observe(details("finished", history)).outcome is WaitOutcome.SUCCESS


def test_expired_ends_a_wait_even_before_devin_replies():
    watch = SessionWatch(StatusPolicy(), SID, logging.getLogger("t"), reply_after_index=0)
    assert watch.observe(details("expired", [devin("hi", "e1")])).outcome is WaitOutcome.FAILED


def test_summary_is_small_and_json_friendly():
    summary = session_summary(
        details(
            "finished",
            [devin("first", "e1"), {"type": "user_message", "message": "thanks"}, devin("last", "e3")],
            title="Fix",
            structured_output={"ok": True},
            pull_request={"url": "https://github.com/o/r/pull/1"},
        ),
        url="https://app.devin.ai/sessions/abc",
    )
    assert summary == {
        "session_id": SID,
        "url": "https://app.devin.ai/sessions/abc",
        "status_enum": "finished",
        "title": "Fix",
        "structured_output": {"ok": True},
        "pull_request_url": "https://github.com/o/r/pull/1",
        "last_devin_message": "last",
    }


def test_event_validation_accepts_a_well_formed_event():
    event = make_event("success", SID, "done", {"session_id": SID, "status_enum": "finished"})
    assert validate_event(event, SID)["status"] == "success"


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {"status": "running", "session_id": SID, "summary": {}},
        {"status": "weird", "session_id": SID, "summary": {}},
        {"status": "success", "session_id": "devin-other", "summary": {}},
        {"status": "success", "session_id": SID},
    ],
)
def test_event_validation_fails_loudly_on_anything_unexpected(event):
    with pytest.raises(ValueError):
        validate_event(event, SID)


def test_an_event_cannot_be_built_with_a_non_terminal_status():
    with pytest.raises(ValueError):
        make_event("running", SID, "x")


def test_watch_memory_stays_bounded_on_a_long_conversation_without_relogging(caplog):
    log = logging.getLogger("test.watch.long")
    watch = SessionWatch(StatusPolicy(), SID, log)
    history = [devin(f"step {i}", f"e{i}") for i in range(500)]
    with caplog.at_level(logging.INFO, logger="test.watch.long"):
        for _ in range(3):
            watch.observe(details("working", history))
    assert len(watch._seen_events) <= SessionWatch._MAX_SEEN_EVENTS
    assert len([r for r in caplog.records if "Devin (session" in r.getMessage()]) == 500
