"""Helpers for tests that run DAGs with ``dag.test()`` (importable from any test: ``from dag_testing import ...``)."""

from __future__ import annotations

from typing import Any


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
