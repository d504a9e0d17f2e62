"""Run a DAG defined in a docs snippet file with ``dag.test()`` against the emulator.

Airflow 3.3's ``dag.test()`` needs the DAG serialized in the metadata DB first (``airflow dags
test`` does that itself); this does the same for a DAG built in-process.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = Path(__file__).resolve().parent / "snippets"


def load_dag(path: Path, factory: str) -> Any:
    """Import a DAG file and build its DAG by calling the ``@dag`` function named ``factory``."""
    namespace = runpy.run_path(str(path), run_name=f"docs_snippet_{path.stem}")
    return namespace[factory]()


def fast_polling(dag: Any, seconds: float = 0.3) -> None:
    """Poll the emulator every ``seconds`` instead of the snippet's production interval."""
    for task in dag.tasks:
        if hasattr(task, "poll_interval"):
            task.poll_interval = seconds
        if hasattr(task, "poke_interval"):
            task.poke_interval = seconds


def run_dag(dag: Any, **kwargs: Any) -> Any:
    """Serialize ``dag`` into the DB and run it once with ``dag.test()``; return the DagRun."""
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
    return dag.test(**kwargs)


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
