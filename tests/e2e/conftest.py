"""One real local Airflow 3 deployment per test module, wired to an in-process Devin emulator.

The deployment is four processes (api-server, scheduler, dag-processor, triggerer) with SQLite and
the LocalExecutor, AIRFLOW_HOME under ``.airflow/e2e-<pid>`` (ignored by git); the emulator accepts
one random API key, so a test can look for that exact string in logs and tables. Teardown stops
every process and fails the module if anything is left running or a port stays bound.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tools.local_airflow import LocalAirflow  # noqa: E402

DAG_ID = "devin_nightly_maintenance"
# Emulated Devin moves at one emulated second per real second: a session stays ``working`` for a
# minute unless a test jumps the clock, so every intermediate state can be observed.
EMULATOR_SPEED = 1.0


def _remove_stale_homes(parent: Path) -> None:
    """Delete homes of earlier e2e runs whose pytest process is gone."""
    for home in parent.glob("e2e-*"):
        pid = home.name.removeprefix("e2e-").split("-")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module", params=["v3", "v1"])
def e2e_api_version(request: pytest.FixtureRequest) -> str:
    """One deployment per Devin API version: v3 (``cog_`` keys, what Devin issues today), then v1."""
    return str(request.param)


@pytest.fixture(scope="module")
def e2e_api_key(e2e_api_version: str) -> str:
    prefix = "cog_" if e2e_api_version == "v3" else "apk_"
    return f"{prefix}e2e_{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def e2e_paths(e2e_api_version: str) -> Any:
    """Journal paths of the deployment's API version."""
    from devin_versions import ApiPaths

    return ApiPaths(e2e_api_version)


@pytest.fixture(scope="module")
def e2e_emulator(e2e_api_key: str) -> Iterator[Any]:
    from airflow_provider_devin.emulator import EmulatorServer

    server = EmulatorServer(host="127.0.0.1", port=0, speed=EMULATOR_SPEED, api_keys=[e2e_api_key])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployment(e2e_emulator: Any, e2e_api_key: str, request: pytest.FixtureRequest) -> Iterator[LocalAirflow]:
    import json

    parent = REPO_ROOT / ".airflow"
    parent.mkdir(exist_ok=True)
    _remove_stale_homes(parent)
    home = parent / f"e2e-{os.getpid()}-{request.module.__name__.rsplit('.', 1)[-1]}"
    conn = json.dumps({"conn_type": "devin", "host": e2e_emulator.base_url, "password": e2e_api_key})
    # A module may run other example DAGs (UNPAUSE) with settings of its own (E2E_ENV).
    dag_ids = [DAG_ID, *getattr(request.module, "UNPAUSE", [])]
    airflow = LocalAirflow(
        home,
        REPO_ROOT / "dags_examples",
        # A test module may name more DAGs to unpause and more executor slots (UNPAUSE, PARALLELISM).
        unpause=dag_ids,
        parallelism=getattr(request.module, "PARALLELISM", 4),
        extra_env={
            "AIRFLOW_CONN_DEVIN_DEFAULT": conn,
            "DEVIN_EXAMPLE_POLL_INTERVAL": "1",
            # A task whose whole executor slot was killed is failed after 20 s without a
            # heartbeat instead of 5 minutes (workers heartbeat every 5 s).
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            **getattr(request.module, "E2E_ENV", {}),
        },
    )
    try:
        airflow.start()
        for dag_id in dag_ids:
            airflow.wait_for_dag(dag_id)
        yield airflow
    finally:
        report = airflow.stop()
        with contextlib.suppress(Exception):
            sys.stderr.write(f"\ne2e deployment stopped in {report.seconds:.1f}s; logs kept in {home}\n")
        assert report.clean, f"left running after stop: pids {report.survivors}, ports {report.bound_ports}"


@pytest.fixture
def emulator(e2e_emulator: Any) -> Any:
    """The module's emulator with an empty journal, no faults and the default scenario."""
    control = e2e_emulator.control
    control.reset()
    control.set_speed(EMULATOR_SPEED)
    return e2e_emulator
