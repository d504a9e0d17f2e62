"""Helpers for running the example DAGs under ``dag.test()``."""

from __future__ import annotations

from typing import Any

from dag_testing import serialize_dag

serialize = serialize_dag


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
