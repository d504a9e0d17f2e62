"""Helpers for running the example DAGs under ``dag.test()``."""

from __future__ import annotations

from typing import Any


def serialize(dag: Any) -> None:
    """Write ``dag`` to the metadata DB as the dag-processor would; Airflow 3.3's ``dag.test()`` needs it."""
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


def task_states(dag_run: Any) -> dict[str, str]:
    """``{"task_id" or "task_id[map_index]": state}`` of a finished run."""
    states = {}
    for ti in dag_run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[name] = str(ti.state)
    return states


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """An XCom value of a finished run, deserialized."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                key=key,
                task_ids=task_id,
                dag_ids=dag_run.dag_id,
                map_indexes=map_index,
                limit=1,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
