"""The DAGs and code the guides show (tests/docs/snippets/) run against the emulator."""

from __future__ import annotations

import json

import pytest

from ._dagrun import SNIPPETS, fast_polling, load_dag, run_dag, task_states


@pytest.mark.usefixtures("airflow_db")
def test_quickstart_dag_creates_one_session_and_reports_it(devin_emulator, capsys) -> None:
    dag = load_dag(SNIPPETS / "quickstart_dag.py", "devin_quickstart")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"ask_devin": "success", "report": "success"}, task_states(dag_run)
    creates = devin_emulator.control.journal(method="POST", path="/v1/sessions")
    assert len(creates) == 1
    assert creates[0]["body"]["max_acu_limit"] == 5


@pytest.mark.usefixtures("airflow_db")
def test_sensor_dag_waits_on_the_session_the_first_task_started(devin_emulator) -> None:
    dag = load_dag(SNIPPETS / "sensor_dag.py", "devin_sensor_example")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {
        "start_session": "success",
        "wait_for_devin": "success",
        "announce": "success",
    }, task_states(dag_run)
    assert len(devin_emulator.control.journal(method="POST", path="/v1/sessions")) == 1
    (session,) = devin_emulator.control.sessions()
    assert session["status_enum"] == "finished"


@pytest.mark.usefixtures("airflow_db")
def test_structured_output_dag_validates_and_branches(devin_emulator) -> None:
    dag = load_dag(SNIPPETS / "structured_output_dag.py", "devin_release_notes")
    # The snippet's searchpath is a deployment path; point it at the schema next to the snippet.
    dag.template_searchpath = [str(SNIPPETS / "schemas")]
    fast_polling(dag)
    dag_run = run_dag(dag)
    states = task_states(dag_run)
    assert states["draft_release_notes"] == "success", states
    assert states["route"] == "success", states
    assert {states["ask_for_review"], states["publish"]} == {"success", "skipped"}, states
    (create,) = devin_emulator.control.journal(method="POST", path="/v1/sessions")
    documented_schema = json.loads((SNIPPETS / "schemas" / "release_notes.json").read_text())
    assert create["body"]["structured_output_schema"] == documented_schema


@pytest.mark.usefixtures("airflow_db")
def test_attachments_dag_uploads_then_references_the_file_in_the_prompt(devin_emulator) -> None:
    dag = load_dag(SNIPPETS / "attachments_dag.py", "devin_attachments_example")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"export_failures": "success", "ask_devin": "success"}, task_states(dag_run)
    uploads = devin_emulator.control.journal(method="POST", path="/v1/attachments")
    assert len(uploads) == 1
    (create,) = devin_emulator.control.journal(method="POST", path="/v1/sessions")
    last_line = create["body"]["prompt"].splitlines()[-1]
    assert last_line.startswith('ATTACHMENT:"') and last_line.endswith('failed_rows.json"'), last_line


def test_hook_attachment_snippet_uploads_sends_and_downloads(devin_emulator) -> None:
    import runpy

    from airflow_provider_devin.hooks.devin import DevinHook

    session_id = DevinHook().create_session("Look at the logs I will send.")["session_id"]
    namespace = runpy.run_path(str(SNIPPETS / "hook_attachments.py"))
    assert namespace["send_log_to_session"](session_id) == b"ERROR row 17: amount < 0\n"
    details = DevinHook().get_session(session_id)
    sent = [m["message"] for m in details["messages"] if m["type"] == "user_message"]
    assert any('ATTACHMENT:"' in text and "validation.log" in text for text in sent), sent


def test_trigger_snippet_yields_one_success_event_without_the_key(devin_emulator) -> None:
    import runpy

    from airflow_provider_devin.hooks.devin import DevinHook

    session_id = DevinHook().create_session("Tidy up the README")["session_id"]
    namespace = runpy.run_path(str(SNIPPETS / "trigger_example.py"))
    event = namespace["wait_with_the_trigger"](session_id)
    assert event["status"] == "success"
    assert event["session_id"] == session_id
    assert event["summary"]["status_enum"] == "finished"
    assert devin_emulator.api_key not in repr(event)


def test_hook_task_snippets_list_blocked_sessions_and_rotate_a_secret(devin_emulator) -> None:
    import runpy

    from airflow_provider_devin.hooks.devin import DevinHook

    namespace = runpy.run_path(str(SNIPPETS / "hook_tasks.py"))
    hook = DevinHook()
    parked = hook.create_session("Update deps [emulator:scenario=park_blocked]", tags=["nightly-maintenance"])
    hook.create_session("Unrelated", tags=["other"])
    devin_emulator.control.advance(120)
    report = namespace["stale_sessions_report"].function()
    assert [row["session_id"] for row in report] == [parked["session_id"]]

    first = namespace["rotate_staging_token"].function("token-1")
    second = namespace["rotate_staging_token"].function("token-2")
    keys = [(s["id"], s["key"]) for s in hook.list_secrets()]
    assert keys == [(second, "STAGING_API_TOKEN")] and first != second
