"""Completion latency in a real local Airflow 3 (api-server, scheduler, dag-processor, triggerer).

A deferrable ``DevinCreateSessionOperator`` waits on an emulator session that keeps working. Once
the task is deferred, the benchmark waits a random fraction of the poll interval (so the flip is
not aligned with the trigger's polls), marks the session ``finished`` through the emulator's
control API and reads the task instance's ``end_date``: latency = end_date - flip time. Target:
at most the poll interval + 3 s.

Needs ``tools.local_airflow`` (the e2e harness) and the emulator; skipped in smoke mode because
starting four Airflow components takes longer than the smoke budget (the e2e tests cover that).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

DAG_ID = "devin_completion_latency"
TASK_ID = "wait_for_session"
DAGS_FOLDER = Path(__file__).resolve().parent / "latency_dags"


def _parse_time(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _task(af: Any, run_id: str) -> dict[str, Any]:
    for ti in af.task_instances(DAG_ID, run_id):
        if ti["task_id"] == TASK_ID:
            return dict(ti)
    return {}


def _wait_task_state(af: Any, run_id: str, states: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    ti: dict[str, Any] = {}
    while time.monotonic() < deadline:
        af.check_alive()
        ti = _task(af, run_id)
        if ti.get("state") in states:
            return ti
        if ti.get("state") in ("failed", "upstream_failed", "skipped"):
            break
        time.sleep(0.1)
    raise RuntimeError(f"task {TASK_ID} of run {run_id} is {ti.get('state')!r}, expected one of {sorted(states)}")


def _session_for(control: Any, run_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for session in control.sessions():
            details = session.get("details", session)
            if details.get("title") == run_id:
                return str(details["session_id"])
        time.sleep(0.2)
    raise RuntimeError(f"no emulator session titled {run_id!r}")


def run(env: dict[str, str], smoke: bool, interval: float, runs: int = 3) -> dict[str, Any]:
    """Measure ``runs`` completions; returns ``{"skipped": why}`` when it cannot run here."""
    if smoke:
        return {"skipped": "smoke mode (a real Airflow takes longer to start than the smoke budget)"}
    try:
        from airflow_provider_devin.emulator import EmulatorServer
        from airflow_provider_devin.operators.devin import DevinCreateSessionOperator  # noqa: F401
        from tools.local_airflow import LocalAirflow
    except ImportError as exc:
        return {"skipped": f"{type(exc).__name__}: {exc}"}

    rng = random.Random(11)
    latencies: list[float] = []
    detail: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="devin-latency-") as tmp, EmulatorServer(speed=60.0) as emulator:
        conn = {"conn_type": "devin", "host": emulator.base_url, "password": emulator.api_key}
        extra_env = {
            "AIRFLOW_CONN_DEVIN_BENCH": json.dumps(conn),
            "DEVIN_BENCH_POLL_INTERVAL": str(interval),
            "PYTHONPATH": env.get("PYTHONPATH", ""),
        }
        with LocalAirflow(Path(tmp) / "airflow-home", DAGS_FOLDER, extra_env=extra_env) as af:
            af.wait_for_dag(DAG_ID, timeout=180)
            for index in range(runs):
                run_id = af.trigger_dag(DAG_ID, run_id=f"latency_{index}_{int(time.time())}")
                _wait_task_state(af, run_id, {"deferred"}, timeout=240)
                session_id = _session_for(emulator.control, run_id)
                time.sleep(rng.uniform(0, interval))
                flipped = time.time()
                emulator.control.set_status(session_id, "finished")
                ti = _wait_task_state(af, run_id, {"success"}, timeout=interval + 120)
                latency = _parse_time(ti["end_date"]) - flipped
                latencies.append(latency)
                detail.append({"run_id": run_id, "session_id": session_id, "latency_s": latency})
    return {"interval": interval, "latencies_s": latencies, "runs": detail}
