"""Run one DevinCreateSessionOperator DAG in this process; optionally SIGKILL it right after the POST.

Used by the SIGKILL retry test: ``python _crash_run.py <dag_id> <logical_date_iso> [kill]``.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys

from airflow.sdk import DAG

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def build_dag(dag_id: str) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinCreateSessionOperator(
            task_id="create", prompt="Work [emulator:scenario=finish]", poll_interval=0.2, deferrable=True
        )
    return dag


def serialize_dag(dag: DAG) -> None:
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


def main(dag_id: str, logical_date: str, kill: bool) -> None:
    dag = build_dag(dag_id)
    if kill:
        original = DevinHook.create_session

        def create_then_die(self, *args, **kwargs):
            original(self, *args, **kwargs)
            # The worker dies between Devin creating the session and Airflow recording it.
            os.kill(os.getpid(), signal.SIGKILL)

        DevinHook.create_session = create_then_die  # type: ignore[method-assign]
    serialize_dag(dag)
    when = datetime.datetime.fromisoformat(logical_date)
    dag.test(logical_date=when, run_after=when)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "kill")
