"""Run DAGs with ``dag.test()`` against the emulator."""

from __future__ import annotations

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
    """``run_dag(dag)`` -> the finished DagRun."""

    def _run(dag):
        serialize_dag(dag)
        return dag.test()

    return _run
