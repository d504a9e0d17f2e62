"""Run a DAG defined in a docs snippet file with ``dag.test()`` against the emulator."""

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
    """Serialize ``dag`` into the DB (the shared test helper) and run it once with ``dag.test()``."""
    from dag_testing import serialize_dag

    serialize_dag(dag)
    return dag.test(**kwargs)


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
