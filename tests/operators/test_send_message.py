"""DevinSendMessageOperator: one delivery per task instance, and waiting for Devin's answer."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from airflow.sdk import DAG
from devin_versions import ApiPaths

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.devin import (
    DevinCreateSessionOperator,
    DevinSendMessageOperator,
    message_trailer,
)
from airflow_provider_devin.session import StatusClass

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def dag_id_for(request) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]


def finished_session(emulator, scenario: str = "finish") -> str:
    """A session that already delivered (finished): what a follow-up message usually goes to."""
    hook = DevinHook()
    session_id = hook.create_session(f"Work [emulator:scenario={scenario}]")["session_id"]
    emulator.control.advance(120)
    deadline = time.monotonic() + 30
    while hook.read_session(session_id).view.status_class is StatusClass.WORKING and time.monotonic() < deadline:
        time.sleep(0.1)
    emulator.control.clear_journal()
    return session_id


def message_posts(emulator, session_id):
    return emulator.control.journal(method="POST", path=ApiPaths(emulator.api_version).message(session_id))


def devin_messages(session_id):
    return [m.text for m in DevinHook().read_session(session_id).new_messages if m.from_devin]


def test_retry_after_sending_does_not_deliver_twice(request, run_dag, devin_emulator, monkeypatch, capfd):
    session_id = finished_session(devin_emulator)
    original = DevinHook.send_message
    sent = []

    def send_then_die(self, sid, message, **kwargs):
        original(self, sid, message, **kwargs)
        sent.append(message)
        raise RuntimeError("worker lost right after sending")

    monkeypatch.setattr(DevinHook, "send_message", send_then_die)
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        DevinSendMessageOperator(
            task_id="follow_up",
            session_id=session_id,
            message="Please also update the changelog.",
            retries=1,
            retry_delay=datetime.timedelta(0),
        )
    dr = run_dag(dag)
    assert dr.state == "success"
    assert len(sent) == 1
    (post,) = message_posts(devin_emulator, session_id)
    text = post["body"]["message"]
    assert text.startswith("Please also update the changelog.")
    assert re.search(r"\n\n\[airflow-ti:[0-9a-f]{16}\]$", text)
    assert "not sending it again" in capfd.readouterr().out


def test_same_key_in_a_later_task_instance_is_not_sent_again(request, run_dag, devin_emulator):
    session_id = finished_session(devin_emulator)
    DevinHook().send_message(session_id, f"Earlier text\n\n{message_trailer('fixed-key')}")
    devin_emulator.control.clear_journal()
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        DevinSendMessageOperator(
            task_id="follow_up", session_id=session_id, message="Again", idempotency_key="fixed-key"
        )
    dr = run_dag(dag)
    assert dr.state == "success"
    assert message_posts(devin_emulator, session_id) == []


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_waits_for_devin_to_answer_the_message_not_the_stale_state(request, run_dag, devin_emulator, deferrable):
    session_id = finished_session(devin_emulator)
    before = devin_messages(session_id)
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        DevinSendMessageOperator(
            task_id="follow_up",
            session_id=session_id,
            message="One more change, please.",
            wait_for_completion=True,
            deferrable=deferrable,
            poll_interval=0.2,
        )
    dr = run_dag(dag)
    assert dr.state == "success"
    result = dr.get_task_instance("follow_up").xcom_pull(task_ids="follow_up")
    assert result["session_id"] == session_id
    assert result["status_enum"] == "finished"
    after = devin_messages(session_id)
    assert len(after) > len(before)
    assert result["last_devin_message"] == after[-1] != before[-1]


def test_create_then_message_chain_uses_the_pushed_session_id(request, run_dag, devin_emulator):
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        create = DevinCreateSessionOperator(
            task_id="create", prompt="Work [emulator:scenario=park_blocked]", poll_interval=0.2, deferrable=True
        )
        follow = DevinSendMessageOperator(
            task_id="follow_up",
            session_id="{{ ti.xcom_pull(task_ids='create', key='session_id') }}",
            message="Thanks! Now add tests.",
        )
        create >> follow
    dr = run_dag(dag)
    assert dr.state == "success"
    session_id = dr.get_task_instance("create").xcom_pull(task_ids="create", key="session_id")
    assert len(message_posts(devin_emulator, session_id)) == 1


def test_undelivered_message_fails_with_devins_words(request, run_dag, devin_emulator):
    session_id = finished_session(devin_emulator, scenario="expire")
    failures = []
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        DevinSendMessageOperator(
            task_id="follow_up",
            session_id=session_id,
            message="Hello?",
            on_failure_callback=lambda context: failures.append(str(context.get("exception"))),
        )
    dr = run_dag(dag)
    assert dr.state == "failed"
    if devin_emulator.api_version == "v1":  # 200 with a detail: not delivered
        assert "did not deliver" in failures[-1] and "expired" in failures[-1]
    else:  # v3 answers 409 for an exited session (the emulator's reading)
        assert "HTTP 409" in failures[-1] and session_id in failures[-1]


def test_session_id_is_validated_before_anything_remote(request, run_dag, devin_emulator):
    with DAG(dag_id_for(request), schedule=None, start_date=START) as dag:
        DevinSendMessageOperator(task_id="follow_up", session_id="{{ '' }}", message="Hi")
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert devin_emulator.control.journal() == []
