"""Fixtures of the production-like lane: PostgreSQL, Redis, CeleryExecutor, two workers, two triggerers.

One deployment per test module (it takes ~30 s to start): PostgreSQL and Redis from Debian's
packages (installed by :func:`ensure_debian_packages` when running as root; the module is skipped
with the reason otherwise), each on a free loopback port in its own temp dir; Airflow with the
CeleryExecutor (Redis broker, PostgreSQL metadata DB and result backend), two Celery workers, two
triggerers, the scheduler, the dag-processor and the api-server; the Devin emulator in this
process with one random v3 (``cog_``) key. Teardown stops Airflow, then Redis and PostgreSQL by
PID, and fails the module if any process or port is left.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tools.local_airflow import LocalAirflow, Topology, port_is_listening

from ._services import FIELD_SEP, PostgresServer, RedisServer, ServiceUnavailable, ensure_debian_packages

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_DAGS = ("devin_nightly_maintenance", "devin_data_quality_fix", "devin_knowledge_sync", "devin_fanout")
#: The emulator's pace outside the tests that stop its clock: a session's work takes ~2 s.
FAST_SPEED = 30.0

#: Short heartbeats so that a killed triggerer is declared dead ~5 s later (defaults: 5 s and 30 s),
#: and a task whose Celery worker died fails its try after 20 s without a heartbeat (default 300 s).
PRODUCTION_SETTINGS = {
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # 50 mapped instances of one task may all be queued at once; two workers run 4 each.
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
    "DEVIN_EXAMPLE_POLL_INTERVAL": "1",
    # Only the tests start runs: a daily example DAG reaching its schedule (midnight UTC) mid-test
    # would add a Devin session to the journal the test counts.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
}


@pytest.fixture(scope="module")
def services_log_dir() -> Path:
    """``.airflow/production-<pid>`` (ignored by git): AIRFLOW_HOME, apt-get and server logs."""
    parent = REPO_ROOT / ".airflow"
    parent.mkdir(exist_ok=True)
    for stale in parent.glob("production-*"):  # earlier runs whose pytest process is gone
        pid = stale.name.removeprefix("production-")
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    path = parent / f"production-{os.getpid()}"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def postgres_and_redis(services_log_dir: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """PostgreSQL and Redis on loopback, stopped by PID (their temp dirs removed) at the end."""
    try:
        ensure_debian_packages(services_log_dir / "apt-get.log")
    except ServiceUnavailable as err:
        pytest.skip(f"production-like lane skipped: {err}")
    postgres, redis = PostgresServer(), RedisServer()
    try:
        postgres.start()
        redis.start()
        yield postgres, redis
    finally:
        stopped = {server.name: (server.pid, server.port, server.stop()) for server in (postgres, redis)}
        for server in (postgres, redis):
            if server.workdir.name:
                for log in server.workdir.glob("*.log"):
                    with contextlib.suppress(OSError):
                        shutil.copy(log, services_log_dir / f"{server.name}-{log.name}")
                shutil.rmtree(server.workdir, ignore_errors=True)
        alive = {name: pid for name, (pid, _, gone) in stopped.items() if pid and not gone}
        bound = [port for _, port, _ in stopped.values() if port and port_is_listening(port)]
        assert not alive and not bound, f"left running: {alive}, ports still bound: {bound}"


@pytest.fixture(scope="module")
def production_api_key() -> str:
    """A v3 key (``cog_``, what Devin issues today) that the emulator accepts and nothing else knows."""
    return f"cog_production_{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def production_emulator(production_api_key: str) -> Iterator[Any]:
    from airflow_provider_devin.emulator import EmulatorServer

    server = EmulatorServer(host="127.0.0.1", port=0, speed=FAST_SPEED, api_keys=[production_api_key])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def production(
    postgres_and_redis: tuple[PostgresServer, RedisServer],
    production_emulator: Any,
    production_api_key: str,
    services_log_dir: Path,
) -> Iterator[LocalAirflow]:
    """The running CeleryExecutor deployment, every example DAG parsed and unpaused."""
    postgres, redis = postgres_and_redis
    conn = json.dumps({"conn_type": "devin", "host": production_emulator.base_url, "password": production_api_key})
    airflow = LocalAirflow(
        services_log_dir / "home",
        REPO_ROOT / "dags_examples",
        parallelism=16,
        unpause=list(EXAMPLE_DAGS),
        topology=Topology.celery(postgres.url, redis.url, triggerers=2, celery_workers=2, worker_concurrency=4),
        extra_env={"AIRFLOW_CONN_DEVIN_DEFAULT": conn, **PRODUCTION_SETTINGS},
    )
    try:
        airflow.start()
        for dag_id in EXAMPLE_DAGS:
            airflow.wait_for_dag(dag_id)
        yield airflow
    finally:
        report = airflow.stop()
        with contextlib.suppress(Exception):
            sys.stderr.write(f"\nproduction deployment stopped in {report.seconds:.1f}s; logs kept in {airflow.home}\n")
        assert report.clean, f"left running after stop: pids {report.survivors}, ports {report.bound_ports}"


@pytest.fixture
def devin(
    production: LocalAirflow, production_emulator: Any, postgres_and_redis: tuple[PostgresServer, RedisServer]
) -> Any:
    """The module's emulator with an empty journal, no faults, the default scenario and fast clock.

    Runs an earlier (failed) test left unfinished are failed first and their Devin triggers waited
    out, so that their polls can neither hit this test's faults nor count in its journal.
    """
    end_unfinished_runs(production, postgres_and_redis[0])
    control = production_emulator.control
    control.reset()
    control.set_speed(FAST_SPEED)
    return production_emulator


def end_unfinished_runs(airflow: LocalAirflow, postgres: PostgresServer, timeout: float = 60.0) -> None:
    """Mark every queued or running run of the example DAGs failed; wait until no Devin trigger is left."""
    for dag_id in EXAMPLE_DAGS:
        runs = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"state": ["queued", "running"]})
        for run in runs.get("dag_runs", []):
            airflow.api("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}", json={"state": "failed"})
    deadline = time.monotonic() + timeout
    while devin_triggers(airflow, postgres):
        if time.monotonic() > deadline:
            raise AssertionError(f"Devin triggers still in the trigger table {timeout:.0f}s after ending every run")
        time.sleep(0.5)


def sql(postgres: PostgresServer, statement: str) -> list[list[str]]:
    """Rows of one query on the metadata DB, as lists of strings (psql's unaligned output)."""
    return [line.split(FIELD_SEP) for line in postgres.psql(postgres.database, statement).splitlines() if line]


def fernet_key(airflow: LocalAirflow) -> str:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(airflow.home / "airflow.cfg")
    return cfg.get("core", "fernet_key", fallback="")


def devin_triggers(airflow: LocalAirflow, postgres: PostgresServer) -> list[tuple[int, str, int | None]]:
    """``(trigger id, decrypted kwargs, triggerer_id)`` of every DevinSessionTrigger row."""
    from cryptography.fernet import Fernet

    key = fernet_key(airflow)
    rows = []
    for trigger_id, kwargs, triggerer_id in sql(
        postgres,
        "SELECT id, kwargs, coalesce(triggerer_id::text, '') FROM trigger WHERE classpath LIKE '%DevinSession%'",
    ):
        plain = kwargs if kwargs.startswith("{") or not key else Fernet(key.encode()).decrypt(kwargs.encode()).decode()
        rows.append((int(trigger_id), plain, int(triggerer_id) if triggerer_id else None))
    return rows
