"""Run DAGs with ``dag.test()`` against the emulator (real HTTP, real trigger serde round trips)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest


def serialize_dag(dag) -> None:
    """Write ``dag`` to the metadata DB, as the DAG processor would (``dag.test()`` needs a version)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


@pytest.fixture
def run_dag(airflow_db, devin_emulator) -> Callable:
    """``run_dag(dag, logical_date=None)`` -> the finished DagRun."""

    def _run(dag, logical_date: datetime.datetime | None = None):
        serialize_dag(dag)
        if logical_date is None:
            return dag.test()
        # Same logical date and run_after -> same run_id: the same task instances run again.
        return dag.test(logical_date=logical_date, run_after=logical_date)

    return _run


class Failures:
    """Collects task failure messages through ``on_failure_callback`` (``dag.test()`` swallows them)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, context) -> None:
        self.messages.append(str(context.get("exception")))


@pytest.fixture
def failures() -> Failures:
    return Failures()
