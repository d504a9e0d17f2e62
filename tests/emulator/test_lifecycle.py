"""Every scenario's timeline, driven by control.advance() on a (nearly) frozen clock."""

from __future__ import annotations

import pytest

SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 3}, "files_changed": {"type": "integer", "minimum": 1}},
    "required": ["summary", "files_changed"],
}


def devin_messages(details):
    return [m for m in details["messages"] if m["type"] == "devin_message"]


def status_after(client, emulator, session_id, seconds):
    emulator.control.advance(seconds)
    return client.session(session_id)


def test_default_scenario_works_then_finishes_with_generated_structured_output(client, emulator):
    import jsonschema

    session_id = client.create("Refactor", structured_output_schema=SCHEMA)["session_id"]
    assert client.session(session_id)["status_enum"] == "working"
    assert status_after(client, emulator, session_id, 59)["status_enum"] == "working"
    details = status_after(client, emulator, session_id, 1)
    assert details["status_enum"] == "finished"
    assert details["status"] == "finished"
    jsonschema.validate(details["structured_output"], SCHEMA)
    assert details["pull_request"] is None
    assert details["messages"][-1]["type"] == "devin_message"


def test_progress_messages_arrive_over_time_for_a_poller(client, emulator):
    session_id = client.create("Refactor")["session_id"]
    seen = []
    for step in (5, 15, 20, 20):
        seen.append(len(devin_messages(status_after(client, emulator, session_id, step))))
    assert seen == [1, 2, 3, 4]


def test_devin_messages_have_ids_and_timestamps_but_no_user_fields(client, emulator):
    session_id = client.create("Refactor")["session_id"]
    message = devin_messages(status_after(client, emulator, session_id, 5))[0]
    assert set(message) == {"type", "event_id", "message", "timestamp"}


def test_timestamps_follow_the_emulated_timeline_not_the_poll_time(client, emulator):
    from datetime import datetime

    session_id = client.create("Refactor")["session_id"]
    details = status_after(client, emulator, session_id, 600)
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in details["messages"]]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "one jump, still in event order"
    assert datetime.fromisoformat(details["updated_at"]) == stamps[-1], "updated when it finished (60 s)"
    emulator.control.advance(600)
    again = client.session(session_id)
    assert [m["timestamp"] for m in again["messages"]] == [m["timestamp"] for m in details["messages"]]
    assert again["updated_at"] == details["updated_at"], "a later poll does not move a past event"


def test_finish_without_a_schema_leaves_structured_output_null(client, emulator):
    session_id = client.create("Refactor")["session_id"]
    assert status_after(client, emulator, session_id, 60)["structured_output"] is None


def test_pull_request_scenario_sets_the_pr_url_then_finishes(client, emulator):
    session_id = client.create("Open a PR [emulator:scenario=pull_request]")["session_id"]
    assert status_after(client, emulator, session_id, 49)["pull_request"] is None
    at_50 = status_after(client, emulator, session_id, 1)
    assert at_50["pull_request"]["url"].startswith("https://github.com/")
    assert at_50["pull_request"]["url"] in devin_messages(at_50)[-1]["message"]
    assert at_50["status_enum"] == "working"
    assert status_after(client, emulator, session_id, 10)["status_enum"] == "finished"


def test_blocked_question_waits_for_an_answer_then_finishes(client, emulator):
    session_id = client.create("Ask me [emulator:scenario=blocked_question]", structured_output_schema=SCHEMA)[
        "session_id"
    ]
    blocked = status_after(client, emulator, session_id, 30)
    assert blocked["status_enum"] == "blocked"
    assert blocked["status"] == "blocked"
    assert devin_messages(blocked)[-1]["message"].startswith("Question:")
    assert status_after(client, emulator, session_id, 3600)["status_enum"] == "blocked", "it waits for a human"
    client.post(f"/v1/sessions/{session_id}/message", json={"message": "Use approach A"})
    assert client.session(session_id)["status_enum"] == "working"
    assert status_after(client, emulator, session_id, 39)["status_enum"] == "working"
    finished = status_after(client, emulator, session_id, 1)
    assert finished["status_enum"] == "finished"
    assert finished["structured_output"] is not None
    kinds = [m["type"] for m in finished["messages"]]
    assert kinds.index("user_message") < len(kinds) - 1


def test_park_blocked_does_the_work_then_parks_in_blocked(client, emulator):
    session_id = client.create("x", tags=["emulator-scenario:park_blocked"], structured_output_schema=SCHEMA)[
        "session_id"
    ]
    assert status_after(client, emulator, session_id, 59)["status_enum"] == "working"
    parked = status_after(client, emulator, session_id, 1)
    assert parked["status_enum"] == "blocked"
    assert parked["structured_output"]["files_changed"] >= 1
    assert status_after(client, emulator, session_id, 86400)["status_enum"] == "blocked"


def test_follow_up_on_a_parked_session_works_then_parks_again(client, emulator):
    session_id = client.create("x [emulator:scenario=park_blocked]")["session_id"]
    status_after(client, emulator, session_id, 60)
    client.post(f"/v1/sessions/{session_id}/message", json={"message": "One more change"})
    assert client.session(session_id)["status_enum"] == "working"
    again = status_after(client, emulator, session_id, 30)
    assert again["status_enum"] == "blocked"
    assert devin_messages(again)[-1]["message"] == "I've handled your follow-up."


def test_follow_up_on_a_finished_session_returns_to_finished(client, emulator):
    session_id = client.create("x")["session_id"]
    status_after(client, emulator, session_id, 60)
    client.post(f"/v1/sessions/{session_id}/message", json={"message": "Also update the docs"})
    assert client.session(session_id)["status_enum"] == "working"
    assert status_after(client, emulator, session_id, 30)["status_enum"] == "finished"


def test_message_while_working_gets_an_acknowledgement(client, emulator):
    session_id = client.create("x [emulator:scenario=working_forever]")["session_id"]
    client.post(f"/v1/sessions/{session_id}/message", json={"message": "status?"})
    details = status_after(client, emulator, session_id, 5)
    assert devin_messages(details)[-1]["message"] == "Noted, I'll take that into account."


def test_expire_scenario_expires_at_30_seconds(client, emulator):
    session_id = client.create("x [emulator:scenario=expire]")["session_id"]
    assert status_after(client, emulator, session_id, 29)["status_enum"] == "working"
    expired = status_after(client, emulator, session_id, 1)
    assert (expired["status_enum"], expired["status"]) == ("expired", "expired")
    terminate = client.delete(f"/v1/sessions/{session_id}")
    assert terminate.status_code == 400


def test_suspend_scenario_requests_suspension_and_stays(client, emulator):
    session_id = client.create("x [emulator:scenario=suspend]")["session_id"]
    suspended = status_after(client, emulator, session_id, 30)
    assert (suspended["status_enum"], suspended["status"]) == ("suspend_requested", "suspended")
    assert status_after(client, emulator, session_id, 86400)["status_enum"] == "suspend_requested"


def test_working_forever_never_leaves_working(client, emulator):
    session_id = client.create("x [emulator:scenario=working_forever]")["session_id"]
    details = status_after(client, emulator, session_id, 7 * 86400)
    assert details["status_enum"] == "working"
    assert len(devin_messages(details)) == 3


def test_unknown_status_reports_a_future_value_then_finishes(client, emulator):
    session_id = client.create("x [emulator:scenario=unknown_status]")["session_id"]
    odd = status_after(client, emulator, session_id, 20)
    assert odd["status_enum"] == "paused_for_review"
    assert odd["status"] == "paused"
    assert status_after(client, emulator, session_id, 40)["status_enum"] == "finished"


def test_null_status_reports_null_then_finishes(client, emulator):
    session_id = client.create("x [emulator:scenario=null_status]")["session_id"]
    details = client.session(session_id)
    assert details["status_enum"] is None
    assert details["status"] == "running"
    listed = client.get("/v1/sessions").json()["sessions"][0]
    assert listed["status_enum"] is None
    assert status_after(client, emulator, session_id, 60)["status_enum"] == "finished"


def test_prompt_marker_wins_over_the_tag(client, emulator):
    session_id = client.create("x [emulator:scenario=expire]", tags=["emulator-scenario:suspend"])["session_id"]
    assert status_after(client, emulator, session_id, 30)["status_enum"] == "expired"


def test_control_set_scenario_restarts_the_timeline_from_now(client, emulator):
    session_id = client.create("x")["session_id"]
    emulator.control.advance(50)
    view = emulator.control.set_scenario(session_id, "suspend")
    assert view["scenario"] == "suspend"
    assert status_after(client, emulator, session_id, 29)["status_enum"] == "working"
    assert status_after(client, emulator, session_id, 1)["status_enum"] == "suspend_requested"


def test_control_set_status_forces_any_value_and_stops_the_timeline(client, emulator):
    session_id = client.create("x")["session_id"]
    emulator.control.set_status(session_id, "resume_requested")
    details = client.session(session_id)
    assert (details["status_enum"], details["status"]) == ("resume_requested", "resuming")
    assert status_after(client, emulator, session_id, 600)["status_enum"] == "resume_requested"
    emulator.control.set_status(session_id, None, status="weird")
    details = client.session(session_id)
    assert (details["status_enum"], details["status"]) == (None, "weird")


def test_default_scenario_can_be_changed_for_new_sessions(client, emulator):
    emulator.control.set_default_scenario("pull_request")
    session_id = client.create("no marker")["session_id"]
    assert status_after(client, emulator, session_id, 60)["pull_request"] is not None


def test_unknown_scenario_through_the_control_api_is_refused(client, emulator):
    from airflow_provider_devin.emulator import EmulatorControlError

    session_id = client.create("x")["session_id"]
    with pytest.raises(EmulatorControlError) as caught:
        emulator.control.set_scenario(session_id, "nope")
    assert caught.value.status_code == 400
    assert "finish" in str(caught.value.detail)


def test_sessions_view_exposes_scenario_and_pending_changes(client, emulator):
    session_id = client.create("x [emulator:scenario=expire]")["session_id"]
    [view] = emulator.control.sessions()
    assert view["session_id"] == session_id
    assert view["scenario"] == "expire"
    assert [item["at"] for item in view["pending"]] == pytest.approx([5, 20, 30], abs=0.5)


def test_real_time_drives_the_clock_at_the_configured_speed(client, emulator):
    import time

    emulator.control.set_speed(600)  # ten emulated minutes per real second
    session_id = client.create("x")["session_id"]
    deadline = time.monotonic() + 10
    while client.session(session_id)["status_enum"] != "finished":
        assert time.monotonic() < deadline, "60 emulated seconds should pass in about 0.1 s"
        time.sleep(0.02)


def test_reset_forgets_sessions_and_restores_speed(client, emulator):
    client.create("x")
    emulator.control.reset()
    assert client.get("/v1/sessions").json() == {"sessions": []}
    assert emulator.control.clock()["speed"] == emulator.server.speed
