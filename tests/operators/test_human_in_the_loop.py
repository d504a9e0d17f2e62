"""``on_blocked="human"`` under ``dag.test()``: Devin's question is written as an Airflow human-in-the-loop
request, a person answers through Airflow's own response route, and the answer reaches Devin once.

``dag.test()`` never answers a request itself (3.3 keeps the run alive until a response arrives from
outside; 3.1/3.2 run the standard provider's ``HITLTrigger`` inline until it sees one), so a thread plays
the person: it calls the public REST route's own function (``update_hitl_detail``), which records the
answer and, on 3.3, resumes the parked task. The same route is exercised over HTTP by tests/e2e.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from devin_versions import ApiPaths
from hitl_testing import HITL, Person

from airflow_provider_devin.operators import _human

needs_hitl = pytest.mark.skipif(HITL is None, reason="Airflow's human-in-the-loop needs Airflow 3.1+")

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def _fast_hitl_trigger(monkeypatch):
    """Airflow 3.1/3.2: the HITLTrigger looks for an answer every 0.5 s instead of 5 s."""
    from airflow_provider_devin.operators import _human

    monkeypatch.setattr(_human, "HITL_POKE_INTERVAL", 0.5)


def make_dag(request, failures=None, *, decorated: bool = False, **op_kwargs):
    from airflow.sdk import DAG

    from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]
    kwargs = {"task_id": "create", "poll_interval": 0.2, "on_blocked": "human", **op_kwargs}
    if failures is not None:
        kwargs["on_failure_callback"] = failures
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        if decorated:
            from airflow.sdk import task

            prompt = kwargs.pop("prompt")

            @task.devin(**kwargs)
            def create() -> str:
                return prompt

            create()
        else:
            DevinCreateSessionOperator(**kwargs)
    return dag


def result_of(dr):
    return dr.get_task_instance("create").xcom_pull(task_ids="create", key="return_value")


def answers_sent(emulator) -> list[str]:
    return [call["body"]["message"] for call in ApiPaths(emulator.api_version).message_posts(emulator.control)]


@needs_hitl
def test_two_questions_answered_in_airflow_reach_devin_once_each_and_the_session_finishes(
    request, run_dag, devin_emulator
):
    dag = make_dag(request, prompt="Ask twice [emulator:scenario=two_questions]", title="Pick an approach")
    person = Person(dag.dag_id, [("Reply", "Use approach A."), ("Reply", "Yes, update the docs.")])
    person.start()
    dr = run_dag(dag)
    person.done.set()
    person.join(5)
    assert not person.errors
    assert dr.state == "success"
    result = result_of(dr)
    assert result["status_enum"] == "finished"
    sent = answers_sent(devin_emulator)
    assert len(sent) == 2
    assert sent[0].startswith("Use approach A.") and re.search(r"\[airflow-ti:[0-9a-f]+ answer 1\]$", sent[0])
    assert sent[1].startswith("Yes, update the docs.") and re.search(r"answer 2\]$", sent[1])
    first = person.requests[0]
    assert first["subject"] == "Pick an approach"
    assert "which approach do you prefer" in first["body"] and result["url"] in first["body"]
    assert first["options"] == ["Reply", "Accept as done", "Fail"]
    rounds = result["human_rounds"]
    assert [(r["round"], r["choice"], r["answer"]) for r in rounds] == [
        (1, "Reply", "Use approach A."),
        (2, "Reply", "Yes, update the docs."),
    ]
    assert "which approach" in rounds[0]["question"] and "update the documentation" in rounds[1]["question"]
    assert all(r["responded_by"] == {"id": "ada", "name": "Ada Lovelace"} and r["responded_at"] for r in rounds)


@needs_hitl
@pytest.mark.parametrize("decorated", [False, True], ids=["operator", "decorator"])
def test_accept_as_done_ends_the_task_with_the_sessions_current_result(request, run_dag, devin_emulator, decorated):
    dag = make_dag(request, prompt="Ask me [emulator:scenario=blocked_question]", decorated=decorated, deferrable=False)
    person = Person(dag.dag_id, [("Accept as done", None)])
    person.start()
    dr = run_dag(dag)
    person.join(5)
    assert not person.errors
    assert dr.state == "success"
    result = result_of(dr)
    assert result["status_enum"] == "blocked"
    assert result["human_rounds"][0]["choice"] == "Accept as done"
    assert answers_sent(devin_emulator) == []


@needs_hitl
def test_fail_fails_without_retries_and_terminates_the_session(request, run_dag, devin_emulator, failures):
    dag = make_dag(request, failures, prompt="Ask me [emulator:scenario=blocked_question]", retries=2)
    person = Person(dag.dag_id, [("Fail", None)])
    person.start()
    dr = run_dag(dag)
    person.join(5)
    assert dr.state == "failed"
    assert "Ada Lovelace chose 'Fail'" in failures.messages[-1] and "terminated" in failures.messages[-1]
    assert len(failures.messages) == 1  # not retried
    (session,) = devin_emulator.control.sessions()
    assert session["terminated"] is True


@needs_hitl
def test_no_answer_within_hitl_timeout_takes_the_default(request, run_dag, devin_emulator):
    dag = make_dag(
        request,
        prompt="Ask me [emulator:scenario=blocked_question]",
        hitl_timeout=1,
        hitl_timeout_default="Accept as done",
    )
    person = Person(dag.dag_id, [], sweep_timeouts=HITL == "park")
    person.start()
    dr = run_dag(dag)
    person.done.set()
    person.join(5)
    assert dr.state == "success"
    (entry,) = result_of(dr)["human_rounds"]
    assert entry["choice"] == "Accept as done" and entry["timed_out"] is True and entry["responded_by"] is None


@needs_hitl
def test_a_repeated_resume_sends_the_rounds_answer_once(request, run_dag, devin_emulator):
    """A retry that resumes the same round again (the answer already in the session) sends nothing."""
    from airflow_provider_devin.hooks.devin import DevinHook
    from airflow_provider_devin.idempotency import idempotency_tag
    from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

    hook = DevinHook()
    session_id = hook.create_session("Ask me [emulator:scenario=blocked_question]")["session_id"]
    devin_emulator.control.advance(60)
    op = DevinCreateSessionOperator(
        task_id="create", prompt="x", on_blocked="human", idempotency_key="k", wait_for_completion=False
    )
    pushed: dict[str, Any] = {}

    class TI:  # XCom of the try (no task state store: the Airflow 3.1/3.2 path)
        def xcom_push(self, key: str, value: Any) -> None:
            pushed[key] = value

        def xcom_pull(self, key: str, **_: Any) -> Any:
            return pushed.get(key)

    context = {"ti": TI()}
    kwargs = {"session_id": session_id, "url": None, "is_new_session": True, "round": 1, "question": "Q?"}
    event = {
        "chosen_options": ["Reply"],
        "params_input": {"reply": "Approach B."},
        "responded_by_user": {"id": "ada", "name": "Ada"},
        "responded_at": START,
    }
    for _ in range(2):
        result = op.resume_after_human(context, event, **kwargs)
    sent = answers_sent(devin_emulator)
    assert sent == [f"Approach B.\n\n[{idempotency_tag('k')} answer 1]"]
    assert result["session_id"] == session_id
    assert pushed[_human.ROUNDS_KEY][0]["answer"] == "Approach B."


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on_blocked": "human", "hitl_timeout_default": "Reply", "hitl_timeout": 60}, "hitl_timeout_default"),
        ({"on_blocked": "human", "hitl_timeout_default": "Fail"}, "hitl_timeout"),
        ({"on_blocked": "human", "hitl_timeout": -1}, "hitl_timeout"),
        ({"on_blocked": "human", "hitl_assignees": [""]}, "hitl_assignees"),
        ({"on_blocked": "human", "hitl_assignees": [{"id": "u1"}]}, "hitl_assignees"),
        ({"on_blocked": "wait", "hitl_timeout": 60}, "hitl_timeout"),
        ({"on_blocked": "humans"}, "on_blocked"),
    ],
)
def test_bad_hitl_arguments_fail_at_parse_naming_the_parameter(kwargs, field, monkeypatch):
    from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

    monkeypatch.setattr(_human, "_MODE", ["park"])  # the checks are the same on every Airflow with HITL
    with pytest.raises(ValueError, match=field):
        DevinCreateSessionOperator(task_id="t", prompt="p", **kwargs)


def test_assignees_take_ids_or_id_name_dicts(monkeypatch):
    from airflow_provider_devin.operators.devin import DevinSendMessageOperator

    monkeypatch.setattr(_human, "_MODE", ["park"])
    op = DevinSendMessageOperator(
        task_id="t",
        session_id="devin-1",
        message="m",
        on_blocked="human",
        hitl_assignees=["u1", {"id": "u2", "name": "Bo"}],
    )
    assert op.human.assignees == [{"id": "u1", "name": "u1"}, {"id": "u2", "name": "Bo"}]
    assert op.human.terminate_on_fail is False  # follows terminate_on_timeout: this task did not create the session


@pytest.mark.skipif(HITL is not None, reason="this Airflow has human-in-the-loop")
def test_on_blocked_human_fails_at_parse_naming_the_airflow_version_needed():
    from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

    with pytest.raises(ValueError, match=r"needs Airflow 3\.1 or later.*this is Airflow 2\."):
        DevinCreateSessionOperator(task_id="t", prompt="p", on_blocked="human")


def test_the_sensor_refuses_on_blocked_human():
    from airflow_provider_devin.sensors.devin import DevinSessionSensor

    with pytest.raises(ValueError, match="does not support on_blocked='human'"):
        DevinSessionSensor(task_id="s", session_id="devin-1", on_blocked="human")
