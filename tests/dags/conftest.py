"""Load the example DAGs and run them with ``dag.test()`` against the Devin API emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._helpers import serialize

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"


@pytest.fixture(scope="session")
def example_dagbag() -> Iterator[Any]:
    """Every DAG in ``dags_examples``, parsed once, with a fast poll interval for the emulator."""
    from airflow.dag_processing.dagbag import DagBag

    previous = os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL")
    os.environ["DEVIN_EXAMPLE_POLL_INTERVAL"] = "0.3"
    try:
        yield DagBag(dag_folder=str(EXAMPLES))
    finally:
        if previous is None:
            os.environ.pop("DEVIN_EXAMPLE_POLL_INTERVAL", None)
        else:
            os.environ["DEVIN_EXAMPLE_POLL_INTERVAL"] = previous


@pytest.fixture
def run_example(airflow_db: Path, devin_emulator: Any, example_dagbag: Any) -> Any:
    """``run_example(dag_id, conf=None)`` -> the finished DagRun of one ``dag.test()`` run."""

    def _run(dag_id: str, conf: dict[str, Any] | None = None) -> Any:
        dag = example_dagbag.dags[dag_id]
        serialize(dag)
        return dag.test(run_conf=conf)

    return _run


# Every example runs once per Devin API version (v1, v3): the DAGs do not change.
from devin_versions import api, devin_api_version  # noqa: E402, F401
