"""The ``@task.devin`` example (dags_examples/devin_decorated.py) runs under ``dag.test()`` against the emulator:
one session per failing check, prompts rendered from the call's arguments, and asset events that queue the
downstream DAG and carry what it reads."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from devin_versions import ApiPaths

from ._helpers import serialize, task_states, xcom


def asset_events(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent, AssetModel.uri)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
            .order_by(AssetEvent.id)
        )
        return [{"uri": uri, "map_index": event.source_map_index, "extra": dict(event.extra)} for event, uri in rows]


def queued_runs(target_dag_id: str, *, clear: bool = False) -> int:
    """How many asset-triggered runs of ``target_dag_id`` are queued (``clear``: forget them first)."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        queued = session.query(AssetDagRunQueue).filter(AssetDagRunQueue.target_dag_id == target_dag_id)
        if clear:
            queued.delete()
            return 0
        return queued.count()


def test_decorated_example_fixes_each_check_and_schedules_the_review(
    run_example: Any, devin_emulator: Any, example_dagbag: Any
) -> None:
    devin_emulator.control.set_default_scenario("pull_request")
    consumer = example_dagbag.dags["devin_review_fixes"]
    serialize(consumer)  # deployed next to the producer, as the DAG processor would
    queued_runs("devin_review_fixes", clear=True)  # the same DB served the other API version's run

    dag_run = run_example("devin_decorated", conf={"repo": "acme/billing"})

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == {"failing_checks": "success", "fix_check[0]": "success", "fix_check[1]": "success"}
    creates = ApiPaths(devin_emulator.api_version).creates(devin_emulator.control)
    prompts = sorted(entry["body"]["prompt"] for entry in creates)
    assert len(prompts) == 2
    assert prompts[0].startswith(
        "In the repository acme/billing, the data check customers_email_unique failed on 3 rows of the table "
        f"customers in the run for {dag_run.logical_date:%Y-%m-%d}."
    )
    assert prompts[1].startswith("In the repository acme/billing, the data check orders_amount_not_negative")
    assert {entry["body"]["title"] for entry in creates} == {"Data check fix in acme/billing"}

    results = [xcom(dag_run, "fix_check", map_index=index) for index in (0, 1)]
    events = asset_events("devin_decorated", dag_run.run_id)
    assert sorted(event["map_index"] for event in events) == [0, 1]
    assert {event["uri"] for event in events} == {"devin://data-quality/fixes"}
    by_index = {event["map_index"]: event["extra"] for event in events}
    for index, result in enumerate(results):
        assert by_index[index]["session_id"] == result["session_id"]
        assert by_index[index]["pull_request_urls"] == result["pull_request_urls"] != []
        assert by_index[index]["status"] == "finished"
    assert queued_runs("devin_review_fixes") == 1

    # What the downstream task reads from its triggering events: the pull requests Devin opened.
    from airflow.sdk import Asset

    review = consumer.get_task("pull_requests_to_review").python_callable
    triggering = {
        Asset("devin://data-quality/fixes", group="devin"): [SimpleNamespace(extra=e["extra"]) for e in events]
    }
    assert sorted(review(triggering_asset_events=triggering)) == sorted(
        url for result in results for url in result["pull_request_urls"]
    )
