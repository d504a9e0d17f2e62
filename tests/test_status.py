"""The status policy over the normalised session view (pure logic: no I/O, no Airflow)."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_devin.session import (
    V3_BUDGET_DETAILS,
    MessagePosition,
    SessionMessage,
    SessionSnapshot,
    SessionView,
    StatusClass,
)
from airflow_provider_devin.status import (
    EVENT_STATUSES,
    OnBlocked,
    SessionWatch,
    StatusPolicy,
    WaitOutcome,
    make_event,
    session_summary,
    validate_event,
)

SID = "devin-abc"


def view(cls: StatusClass, status: str = "running", detail: str | None = None, **fields) -> SessionView:
    return SessionView(session_id=SID, status_class=cls, status=status, status_detail=detail, **fields)


def snap(v: SessionView, *messages: SessionMessage, position: MessagePosition | None = None) -> SessionSnapshot:
    return SessionSnapshot(v, tuple(messages), position or MessagePosition())


def devin(text: str, event_id: str | None = None) -> SessionMessage:
    return SessionMessage(event_id, "devin", text)


ALL_ON_BLOCKED = ["succeed", "fail", "wait", "human"]


@pytest.mark.parametrize("on_blocked", ALL_ON_BLOCKED)
def test_finished_is_success_under_every_on_blocked(on_blocked):
    verdict = StatusPolicy(on_blocked=on_blocked).decide(view(StatusClass.FINISHED, detail="finished"))
    assert verdict.outcome is WaitOutcome.SUCCESS
    assert "running/finished" in verdict.message


@pytest.mark.parametrize("on_blocked", ALL_ON_BLOCKED)
def test_failed_is_a_retryable_failure_under_every_on_blocked(on_blocked):
    verdict = StatusPolicy(on_blocked=on_blocked).decide(view(StatusClass.FAILED, status="error"))
    assert verdict.outcome is WaitOutcome.FAILED
    assert verdict.retryable is True
    assert SID in verdict.message


@pytest.mark.parametrize(
    ("on_blocked", "outcome", "success"),
    [
        ("succeed", WaitOutcome.BLOCKED, True),
        ("fail", WaitOutcome.BLOCKED, False),
        ("wait", WaitOutcome.RUNNING, False),
        ("human", WaitOutcome.BLOCKED, False),  # the operator then asks a person (operators/_human.py)
    ],
)
def test_a_session_waiting_for_a_person_follows_on_blocked(on_blocked, outcome, success):
    policy = StatusPolicy(on_blocked=on_blocked)
    for detail in ("waiting_for_user", "waiting_for_approval"):
        assert policy.decide(view(StatusClass.NEEDS_HUMAN, detail=detail)).outcome is outcome
    assert policy.blocked_is_success() is success


@pytest.mark.parametrize("detail", V3_BUDGET_DETAILS)
def test_budget_suspensions_fail_at_once_without_retries_naming_reason_and_session(detail):
    verdict = StatusPolicy(max_acu_limit=7).decide(view(StatusClass.OUT_OF_BUDGET, "suspended", detail))
    assert verdict.outcome is WaitOutcome.FAILED
    assert verdict.retryable is False
    assert detail in verdict.message and SID in verdict.message
    assert "max_acu_limit was 7" in verdict.message


def test_user_request_fails_as_cancelled_without_retries():
    verdict = StatusPolicy().decide(view(StatusClass.CANCELLED, "suspended", "user_request"))
    assert verdict.outcome is WaitOutcome.FAILED
    assert verdict.retryable is False
    assert "cancelled" in verdict.message


@pytest.mark.parametrize(
    ("previous", "resolved"),
    [
        (StatusClass.FINISHED, StatusClass.FINISHED),
        (StatusClass.NEEDS_HUMAN, StatusClass.NEEDS_HUMAN),
        (None, StatusClass.NEEDS_HUMAN),
        (StatusClass.WORKING, StatusClass.PAUSED),
    ],
)
def test_inactivity_is_decided_from_the_previous_state(previous, resolved):
    assert StatusPolicy().resolve(StatusClass.IDLE, previous) is resolved


@pytest.mark.parametrize(
    ("previous", "resolved"),
    [
        (StatusClass.FINISHED, StatusClass.FINISHED),
        (StatusClass.WORKING, StatusClass.FAILED),
        (None, StatusClass.FAILED),
    ],
)
def test_exit_is_a_success_only_after_finished(previous, resolved):
    assert StatusPolicy().resolve(StatusClass.EXITED, previous) is resolved


@pytest.mark.parametrize("cls", [StatusClass.WORKING, StatusClass.UNKNOWN])
@pytest.mark.parametrize("on_blocked", ALL_ON_BLOCKED)
def test_working_and_unknown_keep_waiting(cls, on_blocked):
    assert StatusPolicy(on_blocked=on_blocked).decide(view(cls, "mystery", "new_detail")).outcome is WaitOutcome.RUNNING


def test_a_pause_keeps_waiting_until_the_stall_window_passes():
    policy = StatusPolicy(suspend_stall_timeout=60, max_acu_limit=5)
    paused = view(StatusClass.PAUSED, "suspend_requested")
    assert policy.decide(paused, suspended_for=59).outcome is WaitOutcome.RUNNING
    verdict = policy.decide(paused, suspended_for=60)
    assert verdict.outcome is WaitOutcome.FAILED
    assert "max_acu_limit (5 ACUs)" in verdict.message


def test_stall_message_says_a_human_paused_a_frontend_suspension():
    paused = view(StatusClass.PAUSED, "suspend_requested_frontend")
    assert "A human paused it" in StatusPolicy(suspend_stall_timeout=1).decide(paused, suspended_for=5).message


def test_acu_budget_fails_without_retries_once_passed_naming_consumed_and_budget():
    policy = StatusPolicy(acu_budget=10)
    assert policy.decide(view(StatusClass.WORKING, acus_consumed=10.0)).outcome is WaitOutcome.RUNNING
    verdict = policy.decide(view(StatusClass.WORKING, acus_consumed=12.5))
    assert verdict.outcome is WaitOutcome.FAILED
    assert verdict.retryable is False and verdict.reason == "acu_budget"
    assert "12.5 ACUs" in verdict.message and "acu_budget=10" in verdict.message


def test_acu_budget_is_ignored_when_the_api_reports_no_acus():
    assert StatusPolicy(acu_budget=1).decide(view(StatusClass.WORKING)).outcome is WaitOutcome.RUNNING


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("on_blocked", {"on_blocked": "maybe"}),
        ("suspend_stall_timeout", {"suspend_stall_timeout": 0}),
        ("suspend_stall_timeout", {"suspend_stall_timeout": True}),
        ("acu_budget", {"acu_budget": -1}),
        ("acu_budget", {"acu_budget": "ten"}),
    ],
)
def test_invalid_policy_values_are_rejected_naming_the_field(field, kwargs):
    with pytest.raises(ValueError, match=field):
        StatusPolicy(**kwargs)


def test_on_blocked_coerce_names_the_field():
    with pytest.raises(ValueError, match="on_blocked must be one of"):
        OnBlocked.coerce("sometimes")


# --- the watch ------------------------------------------------------------------------------------


def watch(**kwargs) -> SessionWatch:
    return SessionWatch(StatusPolicy(**kwargs.pop("policy", {})), SID, logging.getLogger("test.watch"), **kwargs)


def test_watch_logs_a_status_change_once_not_once_per_poll(caplog):
    w = watch()
    caplog.set_level(logging.INFO, "test.watch")
    for _ in range(3):
        w.observe(snap(view(StatusClass.WORKING, detail="working")))
    w.observe(snap(view(StatusClass.FINISHED, detail="finished")))
    lines = [r.getMessage() for r in caplog.records if "status" in r.getMessage()]
    assert lines == ["Devin status: running/working", "Devin status: running/working -> running/finished"]


def test_watch_warns_once_per_unknown_value(caplog):
    w = watch()
    caplog.set_level(logging.INFO, "test.watch")
    for _ in range(3):
        assert w.observe(snap(view(StatusClass.UNKNOWN, detail="reviewing"))).outcome is WaitOutcome.RUNNING
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "running/reviewing" in warnings[0].getMessage()


def test_watch_logs_each_new_devin_message_in_order_short_and_without_the_session_id(caplog):
    w = watch()
    caplog.set_level(logging.INFO, "test.watch")
    long_text = "word " * 200
    w.observe(
        snap(
            view(StatusClass.WORKING),
            SessionMessage("e1", "user", "the prompt"),
            devin("first", "e2"),
            devin(long_text, "e3"),
            position=MessagePosition("c1", "e3"),
        )
    )
    w.observe(snap(view(StatusClass.WORKING), devin("second", "e4"), position=MessagePosition("c1", "e4")))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Devin: ")]
    assert lines[0] == "Devin: first"
    assert len(lines[1]) <= len("Devin: ") + 300 and lines[1].endswith("…")
    assert lines[2] == "Devin: second"
    assert not any(SID in line for line in lines)
    assert w.position == MessagePosition("c1", "e4")
    assert w.last_devin_message == "second"


def test_watch_times_a_pause_and_resets_it_when_the_session_resumes():
    now = [1000.0]
    w = watch(policy={"suspend_stall_timeout": 100}, clock=lambda: now[0])
    paused = snap(view(StatusClass.PAUSED, "suspend_requested"))
    w.observe(paused)
    now[0] += 99
    assert w.observe(paused).outcome is WaitOutcome.RUNNING
    w.observe(snap(view(StatusClass.WORKING)))
    assert w.suspended_since is None
    now[0] += 50
    w.observe(paused)
    now[0] += 100
    assert w.observe(paused).outcome is WaitOutcome.FAILED


def test_watch_continues_a_suspension_recorded_by_an_earlier_process():
    w = watch(policy={"suspend_stall_timeout": 100}, suspended_since=0.0, clock=lambda: 150.0)
    assert w.observe(snap(view(StatusClass.PAUSED, "suspend_requested"))).outcome is WaitOutcome.FAILED


def test_watch_resolves_inactivity_from_the_previous_observation_and_from_a_carried_class():
    w = watch()
    w.observe(snap(view(StatusClass.FINISHED, detail="finished")))
    assert w.observe(snap(view(StatusClass.IDLE, "suspended", "inactivity"))).outcome is WaitOutcome.SUCCESS
    carried = watch(policy={"on_blocked": "fail"}, previous_class="needs_human")
    assert carried.observe(snap(view(StatusClass.IDLE, "suspended", "inactivity"))).outcome is WaitOutcome.BLOCKED
    assert watch(previous_class="not-a-class").previous_class is None


def test_watch_after_a_sent_message_ignores_the_stale_end_state_until_devin_replies():
    w = watch(reply_pending=True)
    finished = view(StatusClass.FINISHED, detail="finished")
    assert w.observe(snap(finished)).outcome is WaitOutcome.RUNNING
    assert w.observe(snap(finished, devin("done again"))).outcome is WaitOutcome.SUCCESS


def test_watch_after_a_sent_message_accepts_the_end_state_once_the_session_was_seen_working():
    w = watch(reply_pending=True)
    w.observe(snap(view(StatusClass.WORKING)))
    assert w.observe(snap(view(StatusClass.FINISHED))).outcome is WaitOutcome.SUCCESS


def test_a_failure_ends_a_wait_even_before_devin_replies():
    w = watch(reply_pending=True)
    assert w.observe(snap(view(StatusClass.FAILED, "error"))).outcome is WaitOutcome.FAILED


def test_summary_is_small_and_json_friendly_with_every_normalised_field():
    v = view(
        StatusClass.FINISHED,
        detail="finished",
        status_enum="finished",
        url="https://app.devin.ai/sessions/abc",
        title="Fix",
        pull_request_urls=("https://github.com/o/r/pull/1", "https://github.com/o/r/pull/2"),
        pull_request_states=("open", "merged"),
        structured_output={"ok": True},
        acus_consumed=3.5,
        messages=(devin("big history"),),
    )
    summary = session_summary(v, last_devin_message="bye")
    assert json.loads(json.dumps(summary)) == summary
    assert summary == {
        "session_id": SID,
        "url": "https://app.devin.ai/sessions/abc",
        "status_enum": "finished",
        "status": "running",
        "status_detail": "finished",
        "title": "Fix",
        "structured_output": {"ok": True},
        "pull_request_url": "https://github.com/o/r/pull/1",
        "pull_request_urls": ["https://github.com/o/r/pull/1", "https://github.com/o/r/pull/2"],
        "pull_requests": [
            {"url": "https://github.com/o/r/pull/1", "state": "open"},
            {"url": "https://github.com/o/r/pull/2", "state": "merged"},
        ],
        "acus_consumed": 3.5,
        "last_devin_message": "bye",
    }


def test_message_position_round_trips_and_tolerates_garbage():
    for position in (
        MessagePosition(),
        MessagePosition("cur|sor", "e9"),
        MessagePosition(None, "e1"),
        MessagePosition("7"),
    ):
        assert MessagePosition.decode(position.encode()) == position
    assert MessagePosition.decode("garbage") == MessagePosition()
    assert MessagePosition.decode(None) == MessagePosition()


# --- events -------------------------------------------------------------------------------------


def test_event_validation_accepts_a_well_formed_event_and_fills_defaults_of_older_events():
    event = make_event("success", SID, "done", {"session_id": SID}, retryable=False, reason="x")
    assert validate_event(event, SID) == event
    legacy = {"status": "success", "session_id": SID, "message": "", "summary": {}}
    assert validate_event(legacy, SID)["retryable"] is True


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
    with pytest.raises(ValueError, match="event status"):
        make_event("running", SID, "")
    assert {"success", "blocked", "failed", "timeout", "error"} == EVENT_STATUSES


def test_the_parse_time_on_blocked_check_knows_exactly_the_policy_values():
    from airflow_provider_devin.status import OnBlocked
    from airflow_provider_devin.validation import ON_BLOCKED_CHOICES, validate_on_blocked

    assert tuple(member.value for member in OnBlocked) == ON_BLOCKED_CHOICES
    assert validate_on_blocked(OnBlocked.WAIT) == "wait"
    expected = "on_blocked must be one of 'succeed', 'fail', 'wait', 'human', got 'sometimes'"
    with pytest.raises(ValueError, match=expected):
        OnBlocked.coerce("sometimes")
