"""Helpers for tests that run DAGs with ``dag.test()`` (importable from any test: ``from dag_testing import ...``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pytest


def airflow_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed Airflow, read from package metadata: importing airflow
    here would read its configuration before tests/conftest.py has set AIRFLOW_HOME."""
    try:
        text = version("apache-airflow-core")
    except PackageNotFoundError:  # Airflow 2.11 ships one apache-airflow distribution
        text = version("apache-airflow")
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


#: Whether this Airflow has the task state store (new in 3.3).
HAS_TASK_STATE_STORE = airflow_version() >= (3, 3)

#: For tests that read or write the task state store: skipped before Airflow 3.3, which has none
#: (there the operators record the session in XComs only).
needs_task_state_store = pytest.mark.skipif(
    not HAS_TASK_STATE_STORE, reason="the task state store is new in Airflow 3.3 (no task_state_store table before)"
)


def serialize_dag(dag: Any) -> None:
    """Write ``dag`` to the metadata DB as the DAG processor would: Airflow 3's ``dag.test()`` needs a
    serialized version first. Airflow 2.11 reads the DAG object directly, so there it does nothing."""
    try:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.collection import update_dag_parsing_results_in_db
        from airflow.serialization.serialized_objects import LazyDeserializedDAG
    except ImportError:  # Airflow 2.11
        return
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )
