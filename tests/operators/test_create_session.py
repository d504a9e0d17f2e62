"""DevinCreateSessionOperator end to end: ``dag.test()`` against the emulator over loopback HTTP."""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
import uuid

import pytest
from airflow.sdk import DAG
from dag_testing import needs_task_state_store
from devin_versions import ApiPaths

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator, idempotency_tag

RESULT_KEYS = {
    "session_id",
    "url",
    "status_enum",
    "status",
    "status_detail",
    "title",
    "structured_output",
    "pull_request_url",
    "pull_request_urls",
    "pull_requests",
    "acus_consumed",
    "last_devin_message",
    "is_new_session",
}

SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "files_changed": {"type": "integer"}},
    "required": ["summary", "files_changed"],
}

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def make_dag(request, failures=None, retries=0, **op_kwargs):
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]
    kwargs = {"task_id": "create", "poll_interval": 0.2, **op_kwargs}
    if failures is not None:
        kwargs["on_failure_callback"] = failures
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinCreateSessionOperator(retries=retries, retry_delay=datetime.timedelta(0), **kwargs)
    return dag


def creates(emulator):
    return ApiPaths(emulator.api_version).creates(emulator.control)


def result_of(dr, key="return_value"):
    return dr.get_task_instance("create").xcom_pull(task_ids="create", key=key)


def state_of(dr):
    return dr.get_task_instance("create").state


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_create_and_wait_returns_the_validated_structured_output(request, run_dag, devin_emulator, api, deferrable):
    dag = make_dag(
        request,
        prompt="Refactor the parser [emulator:scenario=finish]",
        title="Parser refactor",
        tags=["team-data"],
        structured_output_schema=SCHEMA,
        require_structured_output=True,
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "success"
    result = result_of(dr)
    assert set(result) == RESULT_KEYS
    assert result["status_enum"] == "finished"
    assert result["title"] == "Parser refactor"
    assert set(result["structured_output"]) >= {"summary", "files_changed"}
    assert result["last_devin_message"]
    assert result["is_new_session"] is True
    assert result_of(dr, "session_id") == result["session_id"]
    assert result_of(dr, "session_url") == result["url"]

    (create,) = creates(devin_emulator)
    if api.idempotent_create:
        assert create["body"]["idempotent"] is True
        assert result["acus_consumed"] is None
    else:
        assert "idempotent" not in create["body"]
        assert result["acus_consumed"] > 0
        assert result["status"] == "running" and result["status_detail"] == "finished"
    tags = create["body"]["tags"]
    assert tags[0] == "team-data"
    assert re.fullmatch(r"airflow-ti:[0-9a-f]{16}", tags[1])
    assert tags[2] == f"airflow:{dag.dag_id}.create"


def test_the_deferral_hands_the_trigger_what_the_worker_last_saw(request, run_dag, devin_emulator, api, monkeypatch):
    from airflow_provider_devin.triggers.devin import DevinSessionTrigger

    handed: list = []
    original = DevinSessionTrigger.__init__

    def recording(self, **kwargs):
        handed.append(kwargs.get("handover"))
        original(self, **kwargs)

    monkeypatch.setattr(DevinSessionTrigger, "__init__", recording)
    before = time.time()
    dr = run_dag(make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=True))
    assert dr.state == "success"
    if api.version == "v1":  # the conversation comes inside the v1 session: nothing to skip
        assert handed[0] is None
        return
    updated_at, status, _detail, read_at = handed[0]
    (session,) = devin_emulator.control.sessions()
    assert session["session_id"] == result_of(dr)["session_id"]
    assert status in ("new", "claimed", "running") and isinstance(updated_at, int)
    assert before <= read_at <= time.time()


def test_pull_request_url_is_returned(request, run_dag, devin_emulator):
    dag = make_dag(request, prompt="Open a PR [emulator:scenario=pull_request]", deferrable=False)
    dr = run_dag(dag)
    assert dr.state == "success"
    result = result_of(dr)
    assert result["pull_request_url"].startswith("http")
    assert result["pull_request_urls"] == [result["pull_request_url"]]
    assert result["pull_requests"][0]["url"] == result["pull_request_url"]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_blocked_succeeds_by_default(request, run_dag, devin_emulator, deferrable):
    dag = make_dag(
        request,
        prompt="Work [emulator:scenario=park_blocked]",
        structured_output_schema=SCHEMA,
        require_structured_output=True,
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "success"
    assert result_of(dr)["status_enum"] == "blocked"
    assert result_of(dr)["structured_output"] is not None


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_blocked_fails_with_on_blocked_fail(request, run_dag, devin_emulator, failures, deferrable):
    dag = make_dag(
        request,
        failures,
        prompt="Work [emulator:scenario=park_blocked]",
        on_blocked="fail",
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "is waiting for a person" in failures.messages[-1]
    assert "on_blocked='fail'" in failures.messages[-1]


def answer_when_blocked(emulator, text="Use the second option.", timeout=60.0):
    """Play the human: wait until a session asks its question, then answer it."""

    def run() -> None:
        hook = DevinHook()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in emulator.control.sessions():
                if session.get("status_enum") == "blocked":
                    hook.send_message(session["session_id"], text)
                    return
            time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_on_blocked_wait_keeps_waiting_until_a_human_answers(request, run_dag, devin_emulator, deferrable):
    human = answer_when_blocked(devin_emulator)
    dag = make_dag(
        request, prompt="Ask me [emulator:scenario=blocked_question]", on_blocked="wait", deferrable=deferrable
    )
    dr = run_dag(dag)
    human.join(5)
    assert dr.state == "success"
    assert result_of(dr)["status_enum"] == "finished"
    assert len(ApiPaths(devin_emulator.api_version).message_posts(devin_emulator.control)) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_expired_session_fails_the_task(request, run_dag, devin_emulator, failures, deferrable):
    dag = make_dag(request, failures, prompt="Work [emulator:scenario=expire]", deferrable=deferrable)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "ended without finishing" in failures.messages[-1]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_suspended_session_fails_after_the_stall_window_naming_likely_causes(
    request, run_dag, devin_emulator, failures, deferrable
):
    dag = make_dag(
        request,
        failures,
        prompt="Work [emulator:scenario=suspend]",
        suspend_stall_timeout=1.5,
        max_acu_limit=3,
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    message = failures.messages[-1]
    assert "suspended" in message
    assert "max_acu_limit (3 ACUs)" in message
    assert "quota" in message and "inactivity" in message and "paused" in message


# One wait, one warning: the deferrable run sees the unknown value only on the triggerer, and the
# sync run sees it on every poll of one worker process. (v3's running+null is plain "working".)
@pytest.mark.parametrize(
    ("scenarios", "deferrable"),
    [
        ({"v1": "unknown_status", "v3": "unknown_detail"}, True),
        ({"v1": "null_status", "v3": "unknown_v3_status"}, False),
    ],
)
def test_unknown_and_null_statuses_count_as_running_and_warn_once(
    request, run_dag, devin_emulator, capfd, scenarios, deferrable, devin_api_version
):
    scenario = scenarios[devin_api_version]
    # The unknown value holds from 20 to 40 emulated seconds: at 15x that is 1.3-2.7 s after the create, so the
    # trigger sees it even when the deferral hand-off is slow (at the default 60x it lasted 0.33 s,
    # and a loaded CI machine took 1.1 s from the create to the trigger's first poll).
    devin_emulator.control.set_speed(15)
    dag = make_dag(request, prompt=f"Work [emulator:scenario={scenario}]", deferrable=deferrable)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert result_of(dr)["status_enum"] == "finished"
    out = capfd.readouterr().out
    assert out.count("which this provider does not know") == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_timeout_terminates_the_session_and_fails_naming_it(
    request, run_dag, devin_emulator, api, failures, deferrable
):
    dag = make_dag(
        request,
        failures,
        prompt="Work [emulator:scenario=working_forever]",
        timeout=2,
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    session_id = result_of(dr, "session_id")
    message = failures.messages[-1]
    assert session_id in message
    assert "last status: " + ("working" if api.version == "v1" else "running/working") in message
    assert "terminated" in message
    assert api.deletes(devin_emulator.control) == [api.session(session_id)]


def test_timeout_leaves_the_session_running_when_told_to(request, run_dag, devin_emulator, failures):
    dag = make_dag(
        request,
        failures,
        prompt="Work [emulator:scenario=working_forever]",
        timeout=1.5,
        terminate_on_timeout=False,
        deferrable=True,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "left running" in failures.messages[-1]
    assert not devin_emulator.control.journal(method="DELETE")


def test_wait_for_completion_false_returns_right_after_creating(request, run_dag, devin_emulator):
    dag = make_dag(request, prompt="Work [emulator:scenario=working_forever]", wait_for_completion=False)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert result_of(dr)["status_enum"] == "working"
    assert len(creates(devin_emulator)) == 1


# --- retry safety ------------------------------------------------------------------------------


def test_retry_after_dying_between_the_post_and_the_state_write_reattaches_by_tag(
    request, run_dag, devin_emulator, monkeypatch, capfd
):
    original = DevinHook.create_session
    calls = []

    def create_then_die(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        calls.append(response["session_id"])
        if len(calls) == 1:
            raise RuntimeError("worker lost right after the POST")
        return response

    monkeypatch.setattr(DevinHook, "create_session", create_then_die)
    dag = make_dag(request, retries=1, prompt="Work [emulator:scenario=finish]", deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert len(creates(devin_emulator)) == 1
    assert len(calls) == 1
    result = result_of(dr)
    assert result["session_id"] == calls[0]
    assert result["is_new_session"] is False
    assert "found by its tag" in capfd.readouterr().out


@needs_task_state_store
def test_retry_after_dying_after_the_state_write_reattaches_from_the_task_state_store(
    request, run_dag, devin_emulator, monkeypatch, capfd
):
    original = DevinHook.read_session
    seen = []

    def read_once_then_die(self, session_id, position=None):
        seen.append(session_id)
        if len(seen) == 1:
            raise RuntimeError("worker lost after recording the session")
        return original(self, session_id, position)

    monkeypatch.setattr(DevinHook, "read_session", read_once_then_die)
    dag = make_dag(request, retries=1, prompt="Work [emulator:scenario=finish]", deferrable=False)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert len(creates(devin_emulator)) == 1
    # The second try asked the store, not Devin's session list.
    assert len(ApiPaths(devin_emulator.api_version).session_lists(devin_emulator.control)) == 1
    assert "recorded in the task state store" in capfd.readouterr().out


def test_lost_create_response_ends_with_one_session(request, run_dag, devin_emulator, api, capfd):
    devin_emulator.control.inject_fault("POST", api.sessions, status=503, after_processing=True)
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    (session,) = devin_emulator.control.sessions()
    assert result_of(dr)["session_id"] == session["session_id"]
    assert result_of(dr)["is_new_session"] is True
    if api.idempotent_create:  # v1: the hook repeats the idempotent create; Devin answers with the session
        assert len(creates(devin_emulator)) == 2
    else:  # v3: sent once; the session is found by its tag and adopted
        assert len(creates(devin_emulator)) == 1
        assert "adopting it" in capfd.readouterr().out


def test_existing_live_session_of_the_task_instance_is_reattached_not_recreated(
    request, run_dag, devin_emulator, capfd
):
    key = f"reattach-{uuid.uuid4()}"
    existing = DevinHook().create_session("Earlier [emulator:scenario=finish]", tags=[idempotency_tag(key)])
    devin_emulator.control.clear_journal()
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", idempotency_key=key, deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert creates(devin_emulator) == []
    assert result_of(dr)["session_id"] == existing["session_id"]
    assert result_of(dr)["is_new_session"] is False
    assert "Reattaching to Devin session" in capfd.readouterr().out


def test_expired_session_of_the_task_instance_is_replaced(request, run_dag, devin_emulator, api, capfd):
    key = f"replace-{uuid.uuid4()}"
    idempotent = {"idempotent": True} if api.idempotent_create else {}
    old = DevinHook().create_session("Work [emulator:scenario=finish]", tags=[idempotency_tag(key)], **idempotent)
    devin_emulator.control.set_status(old["session_id"], "expired")
    devin_emulator.control.clear_journal()
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", idempotency_key=key, deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    (create,) = creates(devin_emulator)
    assert "airflow-ti-generation:2" in create["body"]["tags"]
    assert result_of(dr)["session_id"] != old["session_id"]
    assert result_of(dr)["is_new_session"] is True
    out = capfd.readouterr().out
    assert "ended without finishing" in out and old["session_id"] in out


def test_templated_idempotency_key_is_rendered(request, run_dag, devin_emulator):
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", idempotency_key="custom-{{ dag.dag_id }}")
    dr = run_dag(dag)
    assert dr.state == "success"
    (create,) = creates(devin_emulator)
    assert idempotency_tag(f"custom-{dag.dag_id}") in create["body"]["tags"]


# --- inputs ------------------------------------------------------------------------------------


def test_invalid_inputs_fail_before_anything_remote(request, run_dag, devin_emulator, failures):
    dag = make_dag(request, failures, prompt="{{ '' }}", tags=["ok"])
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "prompt" in failures.messages[-1]
    assert devin_emulator.control.journal() == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on_blocked": "sometimes"}, "on_blocked"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"max_acu_limit": 0}, "max_acu_limit"),
        ({"structured_output_schema": ["not", "a", "schema"]}, "structured_output_schema"),
        ({"structured_output_schema": "schema.yaml"}, "structured_output_schema"),
        ({"attachments": "one/path.txt"}, "attachments"),
        ({"suspend_stall_timeout": 0}, "suspend_stall_timeout"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DevinCreateSessionOperator(task_id="t", prompt="x", **kwargs)


def test_prompt_file_schema_file_and_attachments(request, run_dag, devin_emulator, api, tmp_path):
    prompt_file = tmp_path / "task.md"
    prompt_file.write_text("Fix the report for {{ dag.dag_id }} [emulator:scenario=finish]\n")
    schema_file = tmp_path / "schema.json"
    schema_file.write_text('{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}')
    notes = tmp_path / "notes.md"
    notes.write_text("# notes, not a template {{ oops")
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    with DAG(dag_id, schedule=None, start_date=START, template_searchpath=[str(tmp_path)]) as dag:
        DevinCreateSessionOperator(
            task_id="create",
            prompt="task.md",
            structured_output_schema="schema.json",
            attachments=[str(notes), "{{ params.extra }}"],
            params={"extra": str(schema_file)},
            require_structured_output=True,
            poll_interval=0.2,
        )
    dr = run_dag(dag)
    assert dr.state == "success"
    uploads = devin_emulator.control.journal(method="POST", path=api.attachments)
    assert len(uploads) == 2
    (create,) = creates(devin_emulator)
    prompt = create["body"]["prompt"]
    assert prompt.startswith(f"Fix the report for {dag_id}")
    urls = api.attachment_urls(create["body"])
    assert len(urls) == 2
    assert urls[0].endswith("notes.md") and urls[1].endswith("schema.json")
    assert create["body"]["structured_output_schema"]["required"] == ["ok"]
    assert result_of(dr)["structured_output"]["ok"] in (True, False)


def test_session_secrets_are_sent_but_never_stored_as_rendered_fields(request, run_dag, devin_emulator):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    secret = f"s3cr3t-{uuid.uuid4().hex}"
    dag = make_dag(
        request,
        prompt="Work [emulator:scenario=finish]",
        session_secrets=[{"key": "API_TOKEN", "value": "{{ params.token }}"}],
        params={"token": secret},
    )
    dr = run_dag(dag)
    assert dr.state == "success"
    sessions = devin_emulator.control.sessions()
    assert len(sessions) == 1
    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag.dag_id).all()
        stored = " ".join(str(row.rendered_fields) for row in rows)
    assert secret not in stored
    assert "Work [emulator" in stored  # the prompt itself is a rendered field


def test_structured_output_that_does_not_match_the_schema_fails(tmp_path):
    op = DevinCreateSessionOperator(
        task_id="t", prompt="x", structured_output_schema=SCHEMA, require_structured_output=True
    )
    with pytest.raises(Exception, match="does not match structured_output_schema"):
        op._finish({"session_id": "devin-1", "structured_output": {"summary": 3}})
    with pytest.raises(Exception, match="without a structured_output"):
        op._finish({"session_id": "devin-1", "structured_output": None})
    ok = op._finish({"session_id": "devin-1", "structured_output": {"summary": "s", "files_changed": 2}})
    assert ok["structured_output"]["files_changed"] == 2


def test_on_kill_terminates_the_session_this_operator_created(devin_emulator, api):
    session_id = DevinHook().create_session("Work [emulator:scenario=working_forever]")["session_id"]
    op = DevinCreateSessionOperator(task_id="t", prompt="x")
    op._session_id = session_id
    op.on_kill()
    assert api.deletes(devin_emulator.control) == [api.session(session_id)]
    op_keep = DevinCreateSessionOperator(task_id="t2", prompt="x", terminate_on_kill=False)
    op_keep._session_id = session_id
    op_keep.on_kill()
    assert len(devin_emulator.control.journal(method="DELETE")) == 1


def test_retry_after_the_worker_is_sigkilled_right_after_the_post_creates_exactly_one_session(
    request, run_dag, devin_emulator, capfd
):
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    sys.path.insert(0, str(here))
    try:
        from _crash_run import build_dag
    finally:
        sys.path.remove(str(here))
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    logical_date = datetime.datetime.now(tz=datetime.timezone.utc).replace(microsecond=0)

    first = subprocess.run(
        [sys.executable, str(here / "_crash_run.py"), dag_id, logical_date.isoformat(), "kill"],
        env=os.environ.copy(),
        capture_output=True,
        timeout=300,
    )
    assert first.returncode == -9, first.stderr.decode()[-2000:]
    (session,) = devin_emulator.control.sessions()

    # The same task instance runs again (same dag_id, run_id, task_id, map_index): a retry.
    dr = run_dag(build_dag(dag_id), logical_date=logical_date)
    assert dr.state == "success"
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["session_id"] == session["session_id"]
    assert "found by its tag" in capfd.readouterr().out


@pytest.mark.parametrize(
    "event",
    [
        {"status": "running", "session_id": "devin-1", "message": "", "summary": {}},
        {"status": "mystery", "session_id": "devin-1", "message": "", "summary": {}},
        {"status": "success", "session_id": "devin-2", "message": "", "summary": {}},
        None,
    ],
    ids=["non-terminal", "unknown-status", "other-session", "missing"],
)
def test_execute_complete_fails_loudly_on_an_unexpected_event(event):
    from airflow_provider_devin._compat import AirflowException

    op = DevinCreateSessionOperator(task_id="t", prompt="x")
    with pytest.raises(AirflowException, match=r"Devin session event|refusing"):
        op.execute_complete({}, event=event, session_id="devin-1", url=None, is_new_session=True)


def test_mapped_tasks_get_one_session_each_with_rendered_attachments_and_masked_secrets(
    request, run_dag, devin_emulator, api, tmp_path
):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    report = tmp_path / "report.txt"
    report.write_text("failures: 3")
    secret = f"tok-{uuid.uuid4().hex}"
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    with DAG(dag_id, schedule=None, start_date=START, params={"report": str(report), "token": secret}) as dag:
        DevinCreateSessionOperator.partial(
            task_id="create",
            poll_interval=0.2,
            deferrable=True,
            attachments=["{{ params.report }}"],
            session_secrets={"TOKEN": "{{ params.token }}"},
        ).expand(prompt=["Fix api [emulator:scenario=finish]", "Fix web [emulator:scenario=finish]"])
    dr = run_dag(dag)
    assert dr.state == "success"
    results = [ti.xcom_pull(task_ids="create", map_indexes=ti.map_index) for ti in dr.get_task_instances()]
    assert len({r["session_id"] for r in results}) == 2
    bodies = [c["body"] for c in creates(devin_emulator)]
    assert len(bodies) == 2
    ti_tags = {tag for body in bodies for tag in body["tags"] if tag.startswith("airflow-ti:")}
    assert len(ti_tags) == 2  # map_index is part of the key
    assert all([u.rsplit("/", 1)[-1] for u in api.attachment_urls(b)] == ["report.txt"] for b in bodies)
    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_id).all()
        assert len(rows) == 2
        assert secret not in " ".join(str(row.rendered_fields) for row in rows)


# --- the v3 cases: no server-side idempotency, richer status ------------------------------------


def v3_only(devin_api_version):
    if devin_api_version != "v3":
        pytest.skip("v3 behaviour (the v1 case is covered above)")


def test_a_create_that_times_out_but_succeeded_server_side_is_adopted_not_resent(
    request, run_dag, devin_emulator, api, monkeypatch, capfd, devin_api_version
):
    v3_only(devin_api_version)
    conn = json.loads(devin_emulator.conn_json)
    conn["extra"] = {**conn.get("extra", {}), "timeout": 1, "max_retries": 2}
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_DEFAULT", json.dumps(conn))
    # Devin creates the session, then answers after the client has given up (the reported incident).
    devin_emulator.control.inject_fault("POST", api.sessions, delay=3, after_processing=True)
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    # The emulator journals the slow create once its late answer is out (3 s after the request).
    deadline = time.monotonic() + 10
    while not creates(devin_emulator) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(creates(devin_emulator)) == 1
    (session,) = devin_emulator.control.sessions()
    assert result_of(dr)["session_id"] == session["session_id"]
    assert result_of(dr)["is_new_session"] is True
    assert "adopting it" in capfd.readouterr().out


def test_a_create_that_provably_made_nothing_is_sent_again_once(
    request, run_dag, devin_emulator, api, monkeypatch, capfd, devin_api_version
):
    v3_only(devin_api_version)
    from airflow_provider_devin import idempotency

    monkeypatch.setattr(idempotency, "AMBIGUOUS_CREATE_SEARCH_DELAYS", (0.05, 0.05, 0.05))
    # A 502 before the request reaches Devin's application: nothing was created.
    devin_emulator.control.inject_fault("POST", api.sessions, status=502)
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=False)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert len(creates(devin_emulator)) == 2
    assert len(devin_emulator.control.sessions()) == 1
    out = capfd.readouterr().out
    assert "No session tagged" in out and "Creating it again (once)" in out


def test_tags_refused_by_the_org_fail_naming_the_tag_and_what_to_allow(
    request, run_dag, devin_emulator, failures, devin_api_version
):
    v3_only(devin_api_version)
    devin_emulator.control.set_allowed_tags(["team-data"])
    dag = make_dag(request, failures, retries=2, prompt="Work [emulator:scenario=finish]", tags=["team-data"])
    dr = run_dag(dag)
    assert dr.state == "failed"
    message = failures.messages[-1]
    assert "refused the session's tags" in message and "airflow-ti:" in message and "allowed-tag list" in message
    assert len(failures.messages) == 1  # not retried
    assert devin_emulator.control.sessions() == []


@pytest.mark.parametrize("reason", ["out_of_credits", "user_usage_limit_exceeded", "payment_declined"])
def test_an_out_of_budget_suspension_fails_at_once_without_retries(
    request, run_dag, devin_emulator, failures, reason, devin_api_version
):
    v3_only(devin_api_version)
    dag = make_dag(request, failures, retries=2, prompt=f"Work [emulator:scenario={reason}]", deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert len(failures.messages) == 1
    session_id = result_of(dr, "session_id")
    assert reason in failures.messages[0] and session_id in failures.messages[0]
    assert len(creates(devin_emulator)) == 1


def test_a_session_stopped_by_a_person_fails_as_cancelled(
    request, run_dag, devin_emulator, failures, devin_api_version
):
    v3_only(devin_api_version)
    dag = make_dag(request, failures, retries=1, prompt="Work [emulator:scenario=user_request]", deferrable=False)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert len(failures.messages) == 1 and "cancelled" in failures.messages[0]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_acu_budget_terminates_the_session_and_fails_without_retries(
    request, run_dag, devin_emulator, api, failures, deferrable, devin_api_version
):
    v3_only(devin_api_version)
    dag = make_dag(
        request,
        failures,
        retries=1,
        prompt="Work [emulator:scenario=acu_hungry]",
        acu_budget=5,
        max_acu_limit=100,
        deferrable=deferrable,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    (message,) = failures.messages
    assert "acu_budget=5" in message and "It was terminated" in message
    session_id = result_of(dr, "session_id")
    assert api.deletes(devin_emulator.control) == [api.session(session_id)]
    assert (creates(devin_emulator)[0]["body"]["max_acu_limit"]) == 100


@pytest.mark.parametrize(("on_blocked", "state"), [("succeed", "success"), ("fail", "failed")])
def test_waiting_for_approval_follows_on_blocked(
    request, run_dag, devin_emulator, on_blocked, state, devin_api_version
):
    v3_only(devin_api_version)
    dag = make_dag(request, prompt="Deploy [emulator:scenario=waiting_for_approval]", on_blocked=on_blocked)
    dr = run_dag(dag)
    assert dr.state == state
    if state == "success":
        assert result_of(dr)["status_detail"] == "waiting_for_approval"


def test_inactivity_after_finishing_is_a_success_even_across_a_deferral(
    request, run_dag, devin_emulator, devin_api_version
):
    v3_only(devin_api_version)
    devin_emulator.control.set_default_scenario("inactivity_after_finish")
    dag = make_dag(request, prompt="Work", deferrable=True, on_blocked="fail")
    dr = run_dag(dag)
    assert dr.state == "success"
    assert result_of(dr)["status_enum"] == "finished"  # decided from "finished", not "suspend_requested"


def test_v3_only_arguments_fail_on_v1_before_any_request(
    request, run_dag, devin_emulator, failures, devin_api_version, tmp_path
):
    if devin_api_version != "v1":
        pytest.skip("v1 behaviour")
    notes = tmp_path / "notes.txt"
    notes.write_text("context")
    dag = make_dag(request, failures, prompt="Work", repos=["acme/app"], attachments=[str(notes)])
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "v3" in failures.messages[-1] and "repos" in failures.messages[-1]
    assert devin_emulator.control.journal() == []  # no lookup, no upload, no create


# --- first-week fixes: text that ends in .md, clear vs retry, execution_timeout ------------------


class StateStore(dict):
    """The task state store's get/set, in memory: dag.test() replaces a re-run DagRun (and its store
    rows) instead of clearing it, so a clear is exercised here on the finder and end to end in
    tests/e2e (a real clear through Airflow's REST API)."""

    def get(self, key, default=None):  # type: ignore[override]
        return super().get(key, default)

    def set(self, key, value, *, retention=None):
        self[key] = json.loads(json.dumps(value))


def run_finder(store, tag, *, reuse=False):
    import logging

    from airflow_provider_devin.idempotency import SessionFinder, record_success

    finder = SessionFinder(
        DevinHook(), logging.getLogger("test.finder"), tag=tag, store=store, reuse_finished_session=reuse
    )
    attached = finder.find() or finder.create("Work [emulator:scenario=finish]", {"tags": [tag]})
    record_success(store, attached.session_id)
    return attached


def test_a_clear_after_success_starts_a_new_generation_and_a_retry_after_failure_reattaches(
    devin_emulator, caplog, api
):
    import logging

    caplog.set_level(logging.INFO, "test.finder")
    store, tag = StateStore(), idempotency_tag(f"clear-{uuid.uuid4()}")
    first = run_finder(store, tag)
    second = run_finder(store, tag)  # the task succeeded, then was cleared
    assert second.session_id != first.session_id and second.is_new_session
    third = run_finder(store, tag)
    assert third.session_id not in (first.session_id, second.session_id)
    tags = [c["body"]["tags"] for c in api.creates(devin_emulator.control)]
    assert [t for t in tags[1] if "generation" in t] == ["airflow-ti-generation:2"]
    assert [t for t in tags[2] if "generation" in t] == ["airflow-ti-generation:3"]
    assert "a clear means redo" in caplog.text
    # A retry (the record exists, but the task instance never succeeded) reattaches.
    store["devin_session"] = {**store["devin_session"], "succeeded": False}
    retry = run_finder(store, tag)
    assert retry.session_id == third.session_id and retry.is_new_session is False
    assert len(api.creates(devin_emulator.control)) == 3


def test_reuse_finished_session_returns_the_old_session_after_a_clear(devin_emulator, caplog, api):
    import logging

    caplog.set_level(logging.INFO, "test.finder")
    store, tag = StateStore(), idempotency_tag(f"reuse-{uuid.uuid4()}")
    first = run_finder(store, tag, reuse=True)
    again = run_finder(store, tag, reuse=True)
    assert again.session_id == first.session_id and again.is_new_session is False
    assert len(api.creates(devin_emulator.control)) == 1
    assert "reuse_finished_session=True, so its result is used again" in caplog.text


@needs_task_state_store
def test_the_create_operator_records_its_success_in_the_task_state_store(request, run_dag, devin_emulator):
    from airflow.utils.session import create_session
    from sqlalchemy import text

    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=True)
    dr = run_dag(dag)
    assert dr.state == "success"
    with create_session() as session:
        (value,) = session.execute(
            text("SELECT value FROM task_state_store WHERE dag_id = :d AND key = 'devin_session'"), {"d": dag.dag_id}
        ).one()
    record = json.loads(value)
    assert record["succeeded"] is True and record["session_id"] == result_of(dr)["session_id"]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_execution_timeout_shorter_than_timeout_ends_the_wait_and_terminates_the_session(
    request, run_dag, devin_emulator, api, failures, deferrable
):
    dag = make_dag(
        request,
        failures,
        prompt="Work [emulator:scenario=working_forever]",
        timeout=600,
        execution_timeout=datetime.timedelta(seconds=5),
        deferrable=deferrable,
    )
    started = time.monotonic()
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert time.monotonic() - started < 60
    message = failures.messages[-1]
    assert "execution_timeout (5s)" in message and "terminated" in message
    session_id = result_of(dr, "session_id")
    assert api.deletes(devin_emulator.control) == [api.session(session_id)]


def test_a_retry_reattaches_through_a_rate_limit_storm_without_creating(devin_emulator, api, monkeypatch):
    import logging

    from airflow_provider_devin.idempotency import SessionFinder

    conn = {"conn_type": "devin", "host": devin_emulator.base_url, "password": devin_emulator.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_NORETRY", json.dumps({**conn, "extra": {"max_retries": 0}}))
    store, tag = StateStore(), idempotency_tag(f"storm-{uuid.uuid4()}")
    first = run_finder(store, tag)
    store["devin_session"] = {**store["devin_session"], "succeeded": False}
    control = devin_emulator.control
    # More 429s than the hook retries (none here): the recorded session's read, then the tag search.
    control.inject_fault("GET", api.session(first.session_id), status=429, retry_after=7, times=2)
    pauses: list[float] = []
    finder = SessionFinder(
        DevinHook(devin_conn_id="devin_noretry"), logging.getLogger("test.finder"), tag=tag, store=store,
        sleep=pauses.append,
    )  # fmt: skip
    attached = finder.find()
    assert attached is not None and attached.session_id == first.session_id
    assert pauses == [7.0, 15.0]  # at least Retry-After, then the next step
    # Without a store record the tag search is what reattaches; it rides out the storm too.
    control.inject_fault("GET", api.sessions, status=503, times=3)
    finder = SessionFinder(
        DevinHook(devin_conn_id="devin_noretry"), logging.getLogger("test.finder"), tag=tag, sleep=pauses.append
    )
    attached = finder.find()
    assert attached is not None and attached.session_id == first.session_id
    assert len(api.creates(control)) == 1


def test_a_reattach_lookup_gives_up_after_its_bounded_patience_and_never_creates(devin_emulator, api, monkeypatch):
    import logging

    from airflow_provider_devin.exceptions import DevinRateLimitError
    from airflow_provider_devin.idempotency import REATTACH_TRANSIENT_DELAYS, SessionFinder

    conn = {"conn_type": "devin", "host": devin_emulator.base_url, "password": devin_emulator.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_NORETRY", json.dumps({**conn, "extra": {"max_retries": 0}}))
    tag = idempotency_tag(f"storm-{uuid.uuid4()}")
    devin_emulator.control.inject_fault("GET", api.sessions, status=429, retry_after=1, times=100)
    pauses: list[float] = []
    finder = SessionFinder(
        DevinHook(devin_conn_id="devin_noretry"), logging.getLogger("test.finder"), tag=tag, sleep=pauses.append
    )
    with pytest.raises(DevinRateLimitError):
        finder.find()
    assert pauses == list(REATTACH_TRANSIENT_DELAYS)
    assert not api.creates(devin_emulator.control)
