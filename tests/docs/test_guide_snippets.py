"""The DAGs and code the guides show (tests/docs/snippets/) run against the emulator, on both API versions."""

from __future__ import annotations

import json
import runpy

import pytest
from devin_versions import VERSIONS, ApiPaths

from ._dagrun import SNIPPETS, fast_polling, load_dag, run_dag, task_states

both_versions = pytest.mark.parametrize("devin_api_version", VERSIONS)


@both_versions
@pytest.mark.usefixtures("airflow_db")
def test_quickstart_dag_creates_one_session_and_reports_it(devin_emulator, devin_api_version) -> None:
    dag = load_dag(SNIPPETS / "quickstart_dag.py", "devin_quickstart")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"ask_devin": "success", "report": "success"}, task_states(dag_run)
    creates = ApiPaths(devin_api_version).creates(devin_emulator.control)
    assert len(creates) == 1
    assert creates[0]["body"]["max_acu_limit"] == 5


@both_versions
@pytest.mark.usefixtures("airflow_db")
def test_sensor_dag_waits_on_the_session_the_first_task_started(devin_emulator, devin_api_version) -> None:
    dag = load_dag(SNIPPETS / "sensor_dag.py", "devin_sensor_example")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {
        "start_session": "success",
        "wait_for_devin": "success",
        "announce": "success",
    }, task_states(dag_run)
    assert len(ApiPaths(devin_api_version).creates(devin_emulator.control)) == 1
    assert len(devin_emulator.control.sessions()) == 1


@both_versions
@pytest.mark.usefixtures("airflow_db")
def test_structured_output_dag_validates_and_branches(devin_emulator, devin_api_version) -> None:
    dag = load_dag(SNIPPETS / "structured_output_dag.py", "devin_release_notes")
    # The snippet's searchpath is a deployment path; point it at the schema next to the snippet.
    dag.template_searchpath = [str(SNIPPETS / "schemas")]
    fast_polling(dag)
    dag_run = run_dag(dag)
    states = task_states(dag_run)
    assert states["draft_release_notes"] == "success", states
    assert states["route"] == "success", states
    assert {states["ask_for_review"], states["publish"]} == {"success", "skipped"}, states
    (create,) = ApiPaths(devin_api_version).creates(devin_emulator.control)
    documented_schema = json.loads((SNIPPETS / "schemas" / "release_notes.json").read_text())
    assert create["body"]["structured_output_schema"] == documented_schema


@both_versions
@pytest.mark.usefixtures("airflow_db")
def test_attachments_dag_uploads_then_references_the_file(devin_emulator, devin_api_version) -> None:
    api = ApiPaths(devin_api_version)
    dag = load_dag(SNIPPETS / "attachments_dag.py", "devin_attachments_example")
    fast_polling(dag)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"export_failures": "success", "ask_devin": "success"}, task_states(dag_run)
    uploads = devin_emulator.control.journal(method="POST", path=api.attachments)
    assert len(uploads) == 1
    (create,) = api.creates(devin_emulator.control)
    # v3: the create's attachment_urls; v1: an ATTACHMENT:"<url>" line at the end of the prompt.
    (url,) = api.attachment_urls(create["body"])
    assert url.endswith("failed_rows.json"), url
    if devin_api_version == "v3":
        assert "ATTACHMENT:" not in create["body"]["prompt"]
    else:
        assert create["body"]["prompt"].splitlines()[-1] == f'ATTACHMENT:"{url}"'


@both_versions
def test_hook_attachment_snippet_uploads_sends_and_downloads(devin_emulator, devin_api_version) -> None:
    from airflow_provider_devin.hooks.devin import DevinHook

    api = ApiPaths(devin_api_version)
    session_id = DevinHook().create_session("Look at the logs I will send.")["session_id"]
    namespace = runpy.run_path(str(SNIPPETS / "hook_attachments.py"))
    assert namespace["send_log_to_session"](session_id) == b"ERROR row 17: amount < 0\n"
    (sent,) = devin_emulator.control.journal(method="POST", path=api.message(session_id))
    if devin_api_version == "v3":
        (url,) = sent["body"]["attachment_urls"]
        assert url.endswith("validation.log")
    else:  # the same call: v1 carries the URL as an ATTACHMENT:"<url>" line of the message
        last_line = sent["body"]["message"].splitlines()[-1]
        assert last_line.startswith('ATTACHMENT:"') and last_line.endswith('validation.log"'), last_line


@both_versions
def test_trigger_snippet_yields_one_success_event_without_the_key(devin_emulator, devin_api_version) -> None:
    from airflow_provider_devin.hooks.devin import DevinHook

    session_id = DevinHook().create_session("Tidy up the README")["session_id"]
    namespace = runpy.run_path(str(SNIPPETS / "trigger_example.py"))
    event = namespace["wait_with_the_trigger"](session_id)
    assert event["status"] == "success"
    assert event["session_id"] == session_id
    assert event["summary"]["status_enum"] == "finished"
    assert devin_emulator.api_key not in repr(event)


@both_versions
def test_hook_task_snippets_list_waiting_sessions_read_messages_and_rotate_a_secret(
    devin_emulator, devin_api_version
) -> None:
    from airflow_provider_devin.hooks.devin import DevinHook

    namespace = runpy.run_path(str(SNIPPETS / "hook_tasks.py"))
    hook = DevinHook()
    parked = hook.create_session("Update deps [emulator:scenario=park_blocked]", tags=["nightly-maintenance"])
    hook.create_session("Still working [emulator:scenario=working_forever]", tags=["nightly-maintenance"])
    hook.create_session("Unrelated [emulator:scenario=park_blocked]", tags=["other"])
    devin_emulator.control.advance(120)
    report = namespace["stale_sessions_report"].function()
    assert [row["session_id"] for row in report] == [parked["session_id"]]

    said = namespace["devin_said"].function(parked["session_id"])
    assert said, "Devin wrote something before parking"
    assert all(isinstance(text, str) and text for text in said)

    first = namespace["rotate_staging_token"].function("token-1")
    second = namespace["rotate_staging_token"].function("token-2")
    keys = [(s["id"], s["key"]) for s in hook.list_secrets()]
    assert keys == [(second, "STAGING_API_TOKEN")] and first != second
