"""One status machine seen through both versions, ACUs, resume, archive, tag allow-list, faults on v3."""

from __future__ import annotations

import time

import pytest
import requests
from v3_client import assert_problem

from airflow_provider_devin.emulator.scenarios import BUDGET_REASONS, SCENARIOS

NEW = ("new", None, "working")
WORKING = ("running", "working", "working")
FINISHED = ("running", "finished", "finished")


def suspended(detail):
    return ("suspended", detail, "suspend_requested")


# scenario -> [(emulated seconds after creation, v3 status, v3 status_detail, v1 status_enum)]
TIMELINES = {
    "finish": [(0, *NEW), (5, *WORKING), (59, *WORKING), (60, *FINISHED), (6000, *FINISHED)],
    "pull_request": [(49, *WORKING), (60, *FINISHED)],
    "blocked_question": [
        (29, *WORKING),
        (30, "running", "waiting_for_user", "blocked"),
        (9000, "running", "waiting_for_user", "blocked"),
    ],
    # Until its first answer, each question scenario is blocked_question; what follows each answer is
    # exercised by tests/operators/test_human_in_the_loop.py and tests/dags/test_ask_a_human_example.py.
    **{
        name: [
            (29, *WORKING),
            (30, "running", "waiting_for_user", "blocked"),
            (9000, "running", "waiting_for_user", "blocked"),
        ]
        for name in ("two_questions", "three_questions")
    },
    "waiting_for_approval": [(29, *WORKING), (30, "running", "waiting_for_approval", "blocked")],
    "park_blocked": [(59, *WORKING), (60, "running", "waiting_for_user", "blocked")],
    "expire": [(29, *WORKING), (30, "exit", None, "expired")],
    "error": [(29, *WORKING), (30, "error", None, "expired")],
    "suspend": [(29, *WORKING), (30, *suspended(None)), (9000, *suspended(None))],
    "suspended_error": [(30, *suspended("error"))],
    "user_request": [(29, *WORKING), (30, *suspended("user_request"))],
    **{reason: [(29, *WORKING), (30, *suspended(reason))] for reason in BUDGET_REASONS},
    "inactivity_after_finish": [(60, *FINISHED), (119, *FINISHED), (120, *suspended("inactivity"))],
    "exit_after_finish": [(60, *FINISHED), (119, *FINISHED), (120, "exit", None, "expired")],
    "working_forever": [(5, *WORKING), (6000, *WORKING)],
    "acu_hungry": [(5, *WORKING), (6000, *WORKING)],
    "unknown_status": [
        (19, *WORKING),
        (20, "running", "paused_for_review", "paused_for_review"),
        (59, "running", "paused_for_review", "paused_for_review"),
        (60, *FINISHED),
    ],
    "unknown_detail": [(20, "running", "waiting_for_ci", "waiting_for_ci"), (60, *FINISHED)],
    "unknown_v3_status": [(20, "hibernating", None, "hibernating"), (60, *FINISHED)],
    "null_status": [
        (0, "new", None, None),
        (5, "running", "working", None),
        (59, "running", "working", None),
        (60, *FINISHED),
    ],
}


def test_every_scenario_has_a_timeline_here():
    assert set(TIMELINES) == set(SCENARIOS)
    assert {"user_usage_limit_exceeded", "out_of_credits", "total_session_limit_exceeded"} <= set(SCENARIOS)


@pytest.mark.parametrize("created_on", ["v1", "v3"])
@pytest.mark.parametrize("scenario", sorted(TIMELINES))
def test_each_scenario_reads_the_same_on_both_versions(client, v3, emulator, scenario, created_on):
    prompt = f"Work [emulator:scenario={scenario}]"
    creator = v3 if created_on == "v3" else client
    session_id = creator.create(prompt)["session_id"]
    elapsed = 0.0
    for at, status, detail, status_enum in TIMELINES[scenario]:
        emulator.control.advance(at - elapsed)
        elapsed = at
        seen_v3 = v3.session(session_id)
        seen_v1 = client.session(session_id)
        assert (seen_v3["status"], seen_v3["status_detail"]) == (status, detail), (scenario, at)
        assert seen_v1["status_enum"] == status_enum, (scenario, at)


def test_the_legacy_v1_status_follows(client, v3, emulator):
    suspended_id = v3.create("x [emulator:scenario=out_of_credits]")["session_id"]
    errored_id = v3.create("x [emulator:scenario=error]")["session_id"]
    emulator.control.advance(30)
    assert client.session(suspended_id)["status"] == "suspended"
    assert client.session(errored_id)["status"] == "expired"


def test_a_pull_request_shows_on_v3_as_a_list(v3, client, emulator):
    session_id = v3.create("PR [emulator:scenario=pull_request]")["session_id"]
    emulator.control.advance(50)
    [pr] = v3.session(session_id)["pull_requests"]
    assert pr == {"pr_url": client.session(session_id)["pull_request"]["url"], "pr_state": "open"}


# -- ACUs -----------------------------------------------------------------------------------------


def test_acus_grow_while_working_and_stop_when_it_rests(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.advance(30)
    assert v3.session(session_id)["acus_consumed"] == pytest.approx(0.25)
    emulator.control.advance(30)
    assert v3.session(session_id)["acus_consumed"] == pytest.approx(0.5)
    emulator.control.advance(3600)
    assert v3.session(session_id)["acus_consumed"] == pytest.approx(0.5), "a finished session burns nothing"


def test_acu_hungry_burns_fast_and_keeps_working(v3, emulator):
    session_id = v3.create("x [emulator:scenario=acu_hungry]")["session_id"]
    readings = []
    for _ in range(3):
        emulator.control.advance(60)
        readings.append(v3.session(session_id)["acus_consumed"])
    assert readings == pytest.approx([30, 60, 90])
    assert v3.session(session_id)["status_detail"] == "working"


def test_max_acu_limit_suspends_with_usage_limit_exceeded(v3, client, emulator):
    session_id = v3.create("x [emulator:scenario=acu_hungry]", max_acu_limit=5)["session_id"]
    emulator.control.advance(9)
    assert v3.session(session_id)["status"] == "running"
    emulator.control.advance(1)
    details = v3.session(session_id)
    assert (details["status"], details["status_detail"]) == ("suspended", "usage_limit_exceeded")
    assert details["acus_consumed"] == pytest.approx(5)
    assert client.session(session_id)["status_enum"] == "suspend_requested"
    emulator.control.advance(600)
    assert v3.session(session_id)["acus_consumed"] == pytest.approx(5)


def test_max_acu_limit_also_applies_to_v1_sessions(client, v3, emulator):
    session_id = client.create("x [emulator:scenario=working_forever]", max_acu_limit=1)["session_id"]
    emulator.control.advance(119)
    assert client.session(session_id)["status_enum"] == "working"
    emulator.control.advance(1)
    assert client.session(session_id)["status_enum"] == "suspend_requested"
    assert v3.session(session_id)["status_detail"] == "usage_limit_exceeded"


def test_control_set_acus_moves_the_counter(v3, emulator):
    session_id = v3.create("x [emulator:scenario=working_forever]")["session_id"]
    view = emulator.control.set_acus(session_id, 40)
    assert view["acus_consumed"] == pytest.approx(40)
    emulator.control.advance(60)
    assert v3.session(session_id)["acus_consumed"] == pytest.approx(40.5)
    assert emulator.control.session(session_id)["v3"]["acus_consumed"] == pytest.approx(40.5)


# -- messages, resume, archive, terminate ---------------------------------------------------------


def test_a_v3_message_resumes_a_suspended_session(v3, client, emulator):
    session_id = v3.create("x [emulator:scenario=out_of_credits]")["session_id"]
    emulator.control.advance(30)
    answer = v3.send(session_id, "Credits topped up, carry on")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["status_detail"]) == ("resuming", None)
    assert client.session(session_id)["status_enum"] == "resume_requested"
    emulator.control.advance(5)
    assert (v3.session(session_id)["status"], v3.session(session_id)["status_detail"]) == ("running", "working")
    emulator.control.advance(25)
    assert v3.session(session_id)["status_detail"] == "finished"
    assert [m["source"] for m in v3.messages(session_id)["items"]][-3:] == ["user", "devin", "devin"]


def test_v1_still_does_not_deliver_to_a_suspended_session(client, emulator):
    session_id = client.create("x [emulator:scenario=suspend]")["session_id"]
    emulator.control.advance(30)
    response = client.post(f"/v1/sessions/{session_id}/message", json={"message": "hi"})
    assert "not delivered" in response.json()["detail"]
    assert client.session(session_id)["status_enum"] == "suspend_requested"


def test_answering_an_approval_request_finishes_the_work(v3, emulator):
    session_id = v3.create("x [emulator:scenario=waiting_for_approval]")["session_id"]
    emulator.control.advance(30)
    assert v3.session(session_id)["status_detail"] == "waiting_for_approval"
    v3.send(session_id, "Approved")
    assert v3.session(session_id)["status_detail"] == "working"
    emulator.control.advance(40)
    assert v3.session(session_id)["status_detail"] == "finished"


def test_a_follow_up_to_a_finished_session_works_then_finishes_again(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.advance(60)
    v3.send(session_id, "One more change")
    assert v3.session(session_id)["status_detail"] == "working"
    emulator.control.advance(30)
    assert v3.session(session_id)["status_detail"] == "finished"


def test_an_archived_session_refuses_messages_with_409(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.advance(60)
    archived = v3.post(f"{v3.org}/sessions/{session_id}/archive").json()
    assert archived["is_archived"] is True
    assert v3.session(session_id)["status_detail"] == "inactivity", "a finished turn goes to sleep"
    assert_problem(v3.send(session_id), 409, "archived")
    v3.post(f"{v3.org}/sessions/{session_id}/unarchive")
    assert v3.send(session_id).json()["status"] == "resuming"


def test_archiving_a_working_session_suspends_it_as_a_user_request(v3, emulator):
    session_id = v3.create("x [emulator:scenario=working_forever]")["session_id"]
    emulator.control.advance(10)
    v3.post(f"{v3.org}/sessions/{session_id}/archive")
    emulator.control.advance(600)
    details = v3.session(session_id)
    assert (details["status"], details["status_detail"], details["is_archived"]) == ("suspended", "user_request", True)


@pytest.mark.parametrize("scenario", ["expire", "error"])
def test_an_ended_session_refuses_messages_with_409(v3, emulator, scenario):
    session_id = v3.create(f"x [emulator:scenario={scenario}]")["session_id"]
    emulator.control.advance(30)
    assert_problem(v3.send(session_id), 409, scenario if scenario == "error" else "exit")


def test_terminate_exits_and_v1_sees_expired_stopped(v3, client, emulator):
    session_id = v3.create("x [emulator:scenario=working_forever]")["session_id"]
    terminated = v3.delete(f"{v3.org}/sessions/{session_id}")
    assert terminated.status_code == 200
    assert (terminated.json()["status"], terminated.json()["is_archived"]) == ("exit", False)
    details = client.session(session_id)
    assert (details["status_enum"], details["status"]) == ("expired", "stopped")
    emulator.control.advance(600)
    assert v3.session(session_id)["status"] == "exit"
    assert_problem(v3.send(session_id), 409)
    assert_problem(v3.delete(f"{v3.org}/sessions/{session_id}"), 409, "already ended")
    assert client.delete(f"/v1/sessions/{session_id}").status_code == 400


def test_terminating_a_session_that_exited_on_its_own_is_409(v3, emulator):
    session_id = v3.create("x [emulator:scenario=expire]")["session_id"]
    emulator.control.advance(30)
    assert_problem(v3.delete(f"{v3.org}/sessions/{session_id}"), 409)


# -- control: status ------------------------------------------------------------------------------


def test_set_status_v3_style_derives_v1(v3, client, emulator):
    session_id = v3.create()["session_id"]
    view = emulator.control.set_status(session_id, status="suspended", status_detail="payment_declined")
    assert (view["v3_status"], view["status_detail"], view["status_enum"]) == (
        "suspended",
        "payment_declined",
        "suspend_requested",
    )
    emulator.control.advance(600)
    assert v3.session(session_id)["status_detail"] == "payment_declined"
    assert client.session(session_id)["status_enum"] == "suspend_requested"
    emulator.control.set_status(session_id, status="claimed")
    assert (v3.session(session_id)["status"], client.session(session_id)["status_enum"]) == ("claimed", "working")


def test_set_status_v1_style_maps_to_v3(v3, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.set_status(session_id, "blocked")
    assert (v3.session(session_id)["status"], v3.session(session_id)["status_detail"]) == (
        "running",
        "waiting_for_user",
    )
    emulator.control.set_status(session_id, "expired")
    assert v3.session(session_id)["status"] == "exit"


def test_set_status_both_pins_v1_over_the_v3_pair(v3, client, emulator):
    session_id = v3.create()["session_id"]
    emulator.control.set_status(session_id, "resumed", status="running", status_detail="working")
    assert client.session(session_id)["status_enum"] == "resumed"
    assert v3.session(session_id)["status_detail"] == "working"


def test_sessions_view_carries_the_v3_response(v3, emulator):
    session_id = v3.create(tags=["t"])["session_id"]
    view = emulator.control.session(session_id.removeprefix("devin-"))
    assert view["api_version"] == "v3"
    assert view["v3"]["session_id"] == session_id
    assert view["v3"]["status"] == view["v3_status"] == "new"
    assert view["org_id"] == "org-emulator"


# -- tag allow-list -------------------------------------------------------------------------------


def test_tag_validation_rejects_tags_not_allowed_on_create_and_updates(v3, client, emulator):
    emulator.control.set_allowed_tags(["team:*", "airflow"])
    problem = assert_problem(
        v3.post(f"{v3.org}/sessions", json={"prompt": "x", "tags": ["team:a", "airflow-run:42"]}), 422, "airflow-run:42"
    )
    assert problem["errors"][0]["loc"] == ["body", "tags", 1]
    assert "airflow-run:42" in problem["errors"][0]["msg"]
    assert emulator.control.sessions() == []
    allowed = v3.create(tags=["team:a", "airflow", "emulator-scenario:finish"])["session_id"]
    path = f"{v3.org}/sessions/{allowed}/tags"
    assert_problem(v3.post(path, json={"tags": ["nope"]}), 422, "nope")
    assert_problem(v3.put(path, json={"tags": ["team:b", "nope"]}), 422, "nope")
    assert v3.put(path, json={"tags": ["team:b"]}).json() == {"tags": ["team:b"]}
    assert client.create("v1 knows no tag validation", tags=["anything"])
    emulator.control.set_allowed_tags(None)
    assert v3.post(path, json={"tags": ["nope"]}).status_code == 200


# -- faults on v3 paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_injected_statuses_on_v3_are_problem_details(v3, emulator, status):
    emulator.control.inject_fault("GET", "/v3/organizations/*/sessions", status=status)
    body = assert_problem(v3.get(f"{v3.org}/sessions"), status, "Injected")
    assert body["instance"] == f"{v3.org}/sessions"
    assert v3.get(f"{v3.org}/sessions").status_code == 200


def test_429_with_and_without_retry_after_on_v3(v3, emulator):
    emulator.control.inject_fault("POST", f"{v3.org}/sessions", status=429, retry_after=3)
    assert v3.post(f"{v3.org}/sessions", json={"prompt": "x"}).headers["Retry-After"] == "3"
    emulator.control.inject_fault("POST", f"{v3.org}/sessions", status=429, omit_retry_after=True)
    response = v3.post(f"{v3.org}/sessions", json={"prompt": "x"})
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert emulator.control.sessions() == []


def test_delay_drop_and_malformed_json_on_v3(v3, emulator):
    emulator.control.inject_fault("GET", "/v3/self", delay=2)
    with pytest.raises(requests.ReadTimeout):
        v3.get("/v3/self", timeout=0.3)
    emulator.control.inject_fault("GET", "/v3/self", drop_connection=True)
    with pytest.raises(requests.ConnectionError):
        v3.get("/v3/self")
    emulator.control.inject_fault("GET", "/v3/self", malformed_json=True)
    with pytest.raises(ValueError):
        v3.get("/v3/self").json()
    assert v3.get("/v3/self").status_code == 200


def test_after_processing_on_a_v3_create_creates_although_the_client_saw_a_502(v3, emulator):
    emulator.control.inject_fault("POST", f"{v3.org}/sessions", status=502, after_processing=True)
    assert v3.post(f"{v3.org}/sessions", json={"prompt": "x"}).status_code == 502
    assert len(emulator.control.sessions()) == 1


def test_a_slow_create_succeeds_server_side_after_the_client_timed_out(v3, emulator):
    emulator.control.inject_fault("POST", f"{v3.org}/sessions", delay=1.5, after_processing=True)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        v3.post(f"{v3.org}/sessions", json={"prompt": "slow", "tags": ["issue:7"]}, timeout=0.5)
    assert time.monotonic() - started < 1.4
    [view] = emulator.control.sessions()
    assert view["tags"] == ["issue:7"], "the session exists before the answer is sent"
    assert [s["session_id"] for s in v3.list({"tags": "issue:7"})["items"]] == [view["session_id"]]
    time.sleep(1.2)
    [entry] = emulator.control.journal(method="POST")
    assert entry["status"] == 200 and entry["fault"] >= 1


def test_a_slow_create_answers_a_patient_client(v3, emulator):
    emulator.control.inject_fault("POST", f"{v3.org}/sessions", delay=0.3, after_processing=True)
    started = time.monotonic()
    response = v3.post(f"{v3.org}/sessions", json={"prompt": "slow"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    assert response.json()["session_id"] == emulator.control.sessions()[0]["session_id"]


def test_the_web_page_shows_a_v3_session(v3, emulator):
    created = v3.create("Shown on the page")
    page = requests.get(created["url"], timeout=30)
    assert page.status_code == 200
    assert created["session_id"] in page.text and "Shown on the page" in page.text
