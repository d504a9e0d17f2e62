"""Test-wide Airflow settings.

Each pytest process gets its own AIRFLOW_HOME (and SQLite metadata DB) so that parallel runs on
one machine never share state; the environment must be set before anything imports airflow.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from dag_testing import serialize_dag

REPO_ROOT = Path(__file__).resolve().parent.parent

if "DEVIN_TESTS_AIRFLOW_HOME" in os.environ:
    _airflow_home = Path(os.environ["DEVIN_TESTS_AIRFLOW_HOME"])
    _airflow_home.mkdir(parents=True, exist_ok=True)
else:
    _airflow_home = Path(tempfile.mkdtemp(prefix="airflow-devin-tests-"))
os.environ["AIRFLOW_HOME"] = str(_airflow_home)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags_examples")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
try:  # Airflow 3 ships apache-airflow-core; the Airflow 2.11 lane needs SQLite's only executor there.
    version("apache-airflow-core")
except PackageNotFoundError:
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB for tests that run ``dag.test()``; built once per pytest process."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _airflow_home


@pytest.fixture
def run_dag(airflow_db, devin_emulator) -> Callable:
    """``run_dag(dag, logical_date=None)`` -> the finished DagRun, run with ``dag.test()`` against the emulator."""

    def _run(dag, logical_date: datetime.datetime | None = None):
        serialize_dag(dag)
        if logical_date is None:
            return dag.test()
        # Same logical date and run_after -> same run_id: the same task instances run again.
        return dag.test(logical_date=logical_date, run_after=logical_date)

    return _run
