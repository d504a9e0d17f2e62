"""The example tests shown in docs/guides/testing.md: how a user tests their own DAGs offline.

They run as part of this suite, so the guide's code is known to work.
"""

# --8<-- [start:imports]
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_devin.hooks.devin import DevinHook

# --8<-- [end:imports]


# --8<-- [start:hook]
@pytest.mark.parametrize("devin_api_version", ["v1", "v3"])  # once per Devin API version
def test_summary_task_reads_devin_structured_output(devin_emulator):
    # AIRFLOW_CONN_DEVIN_DEFAULT points at the emulator, with that version's key, for this test.
    hook = DevinHook()
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    session = hook.create_session("Check the nightly build", structured_output_schema=schema)

    devin_emulator.control.advance(60)  # jump the emulated clock: the "finish" scenario ends at 60 s

    view = hook.read_session(session["session_id"]).view  # the same fields on v1 and v3
    assert view.status_enum == "finished"
    assert isinstance(view.structured_output["ok"], bool)
    # Every request Devin received, with the key redacted: assert on what your code sent.
    sessions_path = f"{devin_emulator.api_prefix}/sessions"  # /v1 or /v3/organizations/org-emulator
    (create,) = devin_emulator.control.journal(method="POST", path=sessions_path)
    assert create["body"]["structured_output_schema"] == schema


# --8<-- [end:hook]


# --8<-- [start:faults]
def test_polling_survives_a_flaky_devin(devin_emulator):
    hook = DevinHook()
    session_id = hook.create_session("Fix the flaky test [emulator:scenario=pull_request]")["session_id"]
    # The next two GETs of this session answer 503, then Devin recovers: the hook retries.
    session_path = f"{devin_emulator.api_prefix}/sessions/{session_id}"
    devin_emulator.control.inject_fault("GET", session_path, status=503, times=2)

    details = hook.get_session(session_id)

    assert details["session_id"] == session_id
    statuses = [entry["status"] for entry in devin_emulator.control.journal(method="GET", path=session_path)]
    assert statuses == [503, 503, 200]


# --8<-- [end:faults]


# --8<-- [start:dag]
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags_examples"  # your dags/ folder


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory):
    """An isolated AIRFLOW_HOME with a migrated SQLite DB, shared by the tests of this session."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    return env


@pytest.mark.parametrize("devin_api_version", ["v1", "v3"])
def test_nightly_maintenance_dag_runs_against_the_emulator(devin_emulator, airflow_env):
    env = {
        **airflow_env,
        "AIRFLOW_CONN_DEVIN_DEFAULT": devin_emulator.conn_json,
        "DEVIN_EXAMPLE_POLL_INTERVAL": "1",  # the DAG reads its poll interval from here
    }
    devin_emulator.control.set_default_scenario("pull_request")

    result = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "devin_nightly_maintenance"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # One task instance, one session: exactly one create reached "Devin".
    assert len(devin_emulator.control.journal(method="POST", path=f"{devin_emulator.api_prefix}/sessions")) == 1


# --8<-- [end:dag]
