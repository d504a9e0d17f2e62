"""The ``@task.devin`` DAG the decorator guide shows (tests/docs/snippets/decorator_dag.py) runs against the
emulator, on both API versions."""

from __future__ import annotations

import pytest
from devin_versions import VERSIONS, ApiPaths

from ._dagrun import SNIPPETS, load_dag, run_dag, task_states

FAST = 0.3


def fast_polling(dag) -> None:
    """Poll every ``FAST`` seconds, mapped tasks included (their arguments live in ``partial_kwargs``)."""
    for task in dag.tasks:
        if hasattr(task, "partial_kwargs"):
            task.partial_kwargs["poll_interval"] = FAST
        elif hasattr(task, "poll_interval"):
            task.poll_interval = FAST


@pytest.mark.parametrize("devin_api_version", VERSIONS)
@pytest.mark.usefixtures("airflow_db")
def test_decorator_dag_renders_each_prompt_and_maps_one_session_per_repository(
    devin_emulator, devin_api_version
) -> None:
    dag = load_dag(SNIPPETS / "decorator_dag.py", "devin_decorator_example")
    fast_polling(dag)

    dag_run = run_dag(dag)

    states = task_states(dag_run)
    assert states == {
        "untyped_modules": "success",
        "add_type_hints": "success",
        "upgrade": "success",
        "report": "success",
    }, states
    assert len(dag_run.get_task_instances()) == 6  # three mapped upgrade sessions
    creates = ApiPaths(devin_api_version).creates(devin_emulator.control)
    prompts = sorted(entry["body"]["prompt"] for entry in creates)
    assert len(prompts) == 4
    (typed,) = [p for p in prompts if "type hints" in p]
    assert typed == (
        "In the repository acme/api, add type hints to these modules, run mypy, and open a pull request:\n"
        "- api/orders.py\n- api/refunds.py\n"
        f"Mention the Airflow run {dag_run.run_id} in the pull request description."
    )
    assert [p.split(",")[0] for p in prompts if "upgrade" in p] == ["In acme/api", "In acme/etl", "In acme/web"]
    titles = {entry["body"].get("title") for entry in creates}
    assert f"Type hints ({dag_run.logical_date:%Y-%m-%d})" in titles
