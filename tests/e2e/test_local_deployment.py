"""End to end: ``devin_nightly_maintenance`` in a real local Airflow 3 deployment against the emulator.

What only a real deployment can show: the wait really happens in the triggerer process, the
session link is there while the task is deferred, the API key never lands in logs or the metadata
DB, and a worker killed right after the create is retried without a second session.
"""

from __future__ import annotations

import configparser
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tools.local_airflow import LocalAirflow

from .conftest import DAG_ID

pytestmark = pytest.mark.e2e

TASK_ID = "ask_devin"


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = 120.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def task_instance(airflow: LocalAirflow, run_id: str, task_id: str = TASK_ID) -> dict[str, Any]:
    [ti] = [t for t in airflow.task_instances(DAG_ID, run_id) if t["task_id"] == task_id]
    return ti


def query(airflow: LocalAirflow, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the deployment's SQLite metadata DB (read-only, beside the running components)."""
    db = sqlite3.connect(f"file:{airflow.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def trigger_kwargs(airflow: LocalAirflow) -> list[tuple[str, str, int | None]]:
    """``(classpath, decrypted kwargs JSON, triggerer_id)`` of every row in the trigger table."""
    from cryptography.fernet import Fernet

    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(airflow.home / "airflow.cfg")
    key = cfg.get("core", "fernet_key", fallback="")
    rows = []
    for classpath, kwargs, triggerer_id in query(airflow, "SELECT classpath, kwargs, triggerer_id FROM trigger"):
        plain = kwargs if kwargs.startswith("{") or not key else Fernet(key.encode()).decrypt(kwargs.encode()).decode()
        rows.append((classpath, plain, triggerer_id))
    return rows


def files_mentioning(root: Path, needle: str) -> list[Path]:
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def test_deployment_listens_on_loopback_only(deployment: LocalAirflow) -> None:
    sockets = deployment.listening_sockets()
    assert deployment.port in {port for _, _, port in sockets}
    assert all(ip in ("127.0.0.1", "::1") for _, ip, _ in sockets), sockets
    assert not {8793, 8794} & {port for _, _, port in sockets}, "serve-logs must not take the shared defaults"


def test_nightly_run_waits_in_the_triggerer_and_keeps_the_key_out_of_logs_and_db(
    deployment: LocalAirflow, emulator: Any, e2e_api_key: str, e2e_paths: Any
) -> None:
    airflow = deployment
    emulator.control.set_default_scenario("pull_request")

    run_id = airflow.trigger_dag(DAG_ID, conf={"repo": "acme/e2e"})

    # While Devin works (a minute at speed 1), the task is deferred: the triggerer owns the wait.
    wait_until("ask_devin to defer", lambda: task_instance(airflow, run_id)["state"] == "deferred")
    session_id = airflow.xcom(DAG_ID, run_id, TASK_ID, key="session_id")
    session_url = airflow.xcom(DAG_ID, run_id, TASK_ID, key="session_url")
    [session] = emulator.control.sessions()
    assert session_id == session["session_id"]
    assert session_url and session_url.endswith(session_id.removeprefix("devin-"))
    assert task_instance(airflow, run_id)["state"] == "deferred", "the URL must be readable while deferred"

    triggers = wait_until("the triggerer to claim the trigger", lambda: [r for r in trigger_kwargs(airflow) if r[2]])
    [(classpath, kwargs, triggerer_id)] = triggers
    assert classpath.endswith("DevinSessionTrigger")
    assert session_id in kwargs
    assert e2e_api_key not in kwargs

    emulator.control.advance(120)  # Devin finishes: pull request opened, structured output set
    assert airflow.wait_for_run(DAG_ID, run_id, timeout=120) == "success"
    states = {t["task_id"]: t["state"] for t in airflow.task_instances(DAG_ID, run_id)}
    assert states == {
        "ask_devin": "success",
        "pull_request_opened": "success",
        "review_pull_request": "success",
        "nothing_to_change": "skipped",
    }
    result = airflow.xcom(DAG_ID, run_id, TASK_ID)
    assert result["session_id"] == session_id
    assert result["pull_request_url"]

    # The trigger ran in the triggerer process: its log file is named after the triggerer's job id,
    # and the polls came from the hook's async client, not the worker's sync one.
    triggerer_jobs = {row[0] for row in query(airflow, "SELECT id FROM job WHERE job_type = 'TriggererJob'")}
    assert triggerer_id in triggerer_jobs
    trigger_logs = [p for p in airflow.task_log_files(DAG_ID, run_id, TASK_ID) if ".log.trigger." in p.name]
    assert [p.name for p in trigger_logs] == [f"attempt=1.log.trigger.{triggerer_id}.log"]
    assert session_id in trigger_logs[0].read_text()
    polls = emulator.control.journal(method="GET", path=e2e_paths.status_poll(session_id))
    assert any("(async)" in (entry.get("user_agent") or "") for entry in polls)

    # Exactly one create reached Devin for the one task instance that creates sessions.
    assert len(e2e_paths.creates(emulator.control)) == 1

    # The API key is nowhere: not in task/trigger/component logs, XComs, triggers or anywhere in the DB.
    assert files_mentioning(airflow.logs_dir, e2e_api_key) == []
    assert files_mentioning(airflow.home / "components", e2e_api_key) == []
    assert all(e2e_api_key not in str(value) for (value,) in query(airflow, "SELECT value FROM xcom"))
    assert all(e2e_api_key not in kwargs for _, kwargs, _ in trigger_kwargs(airflow))
    db = sqlite3.connect(f"file:{airflow.db_path}?mode=ro", uri=True, timeout=30)
    try:
        assert not any(e2e_api_key in line for line in db.iterdump())
    finally:
        db.close()


@pytest.mark.parametrize(
    "victims",
    [
        # The task's own process ("airflow worker -- <ti id>", the pid the API reports): its
        # supervisor sees the SIGKILL and fails the try at once.
        "task process",
        # The whole LocalExecutor slot (supervisor and task, as when a worker host dies): nobody
        # reports, and the scheduler fails the try once its heartbeat times out.
        "executor slot",
    ],
)
def test_worker_killed_between_create_and_deferral_retries_without_a_second_session(
    deployment: LocalAirflow, emulator: Any, victims: str, e2e_paths: Any
) -> None:
    airflow = deployment
    control = emulator.control
    control.set_default_scenario("pull_request")
    # The operator reads the session once right after creating it, before deferring: hold that
    # read for 45 s, which opens a window in which the task's process is known to sit between the
    # create and the deferral.
    control.inject_fault("GET", e2e_paths.session("*"), delay=45, times=1)

    run_id = airflow.trigger_dag(DAG_ID, conf={"repo": f"acme/e2e-kill-{victims.replace(' ', '-')}"})
    wait_until("the create to reach Devin", lambda: e2e_paths.creates(control))
    wait_until("the post-create read to be held", lambda: control.faults() == [], interval=0.1)
    ti = task_instance(airflow, run_id)
    assert ti["state"] == "running" and ti["try_number"] == 1

    task_process = psutil.Process(ti["pid"])
    assert ti["id"] in " ".join(task_process.cmdline()) and "LocalExecutor" not in " ".join(task_process.cmdline())
    doomed = [task_process]
    if victims == "executor slot":
        supervisor = task_process.parent()
        assert supervisor is not None and "LocalExecutor" in " ".join(supervisor.cmdline())
        doomed.insert(0, supervisor)  # first, so that nobody is left to report the task's death
    for proc in doomed:
        proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(doomed, timeout=10)
    control.advance(120)  # Devin finishes while Airflow notices the death and retries

    assert airflow.wait_for_run(DAG_ID, run_id, timeout=240) == "success"
    ti = task_instance(airflow, run_id)
    assert ti["state"] == "success"
    assert ti["try_number"] == 2, "the killed try must have been retried"
    assert len(e2e_paths.creates(control)) == 1
    assert len(control.sessions()) == 1
    attempt_2 = [p for p in airflow.task_log_files(DAG_ID, run_id, TASK_ID) if p.name == "attempt=2.log"]
    assert attempt_2 and "Reattaching" in attempt_2[0].read_text()


def test_clearing_a_succeeded_task_redoes_it_in_a_new_session_while_a_retry_would_reattach(
    deployment: LocalAirflow, emulator: Any, e2e_paths: Any
) -> None:
    airflow = deployment
    control = emulator.control
    control.set_default_scenario("finish")
    control.set_speed(600)
    run_id = airflow.trigger_dag(DAG_ID, conf={"repo": "acme/e2e-clear"})
    assert airflow.wait_for_run(DAG_ID, run_id, timeout=180) == "success"
    first = airflow.xcom(DAG_ID, run_id, TASK_ID)["session_id"]

    # What a user does with the UI's "Clear" on the succeeded task: Airflow's public REST API.
    airflow.api(
        "POST",
        f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        json={"dag_run_id": run_id, "task_ids": [TASK_ID], "dry_run": False, "only_failed": False},
    )
    wait_until("the cleared task to run again", lambda: task_instance(airflow, run_id)["try_number"] >= 2)
    assert airflow.wait_for_run(DAG_ID, run_id, timeout=180) == "success"
    second = airflow.xcom(DAG_ID, run_id, TASK_ID)
    assert second["session_id"] != first and second["is_new_session"] is True
    creates = e2e_paths.creates(control)
    assert len(creates) == 2 and "airflow-ti-generation:2" in creates[1]["body"]["tags"]
    logs = [p for p in airflow.task_log_files(DAG_ID, run_id, TASK_ID) if p.name == "attempt=2.log"]
    assert logs and "a clear means redo" in logs[0].read_text()
