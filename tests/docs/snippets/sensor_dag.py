"""The sensor example shown in docs/guides/sensor.md; run by tests/docs/test_guide_snippets.py."""

# --8<-- [start:dag]
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator
from airflow_provider_devin.sensors.devin import DevinSessionSensor


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["devin"])
def devin_sensor_example() -> None:
    # Start the session and return at once: no waiting in this task.
    start = DevinCreateSessionOperator(
        task_id="start_session",
        prompt="Upgrade the CI images of acme/web to Python 3.12 and open a pull request.",
        wait_for_completion=False,
        max_acu_limit=5,
    )

    # Wait in another task: between pokes the worker slot is free (mode="reschedule").
    wait = DevinSessionSensor(
        task_id="wait_for_devin",
        session_id="{{ ti.xcom_pull(task_ids='start_session', key='session_id') }}",
        mode="reschedule",
        poke_interval=60,
        timeout=timedelta(hours=2).total_seconds(),
        on_blocked="succeed",
    )

    @task
    def announce(summary: dict[str, Any]) -> None:
        print(f"{summary['url']} ended as {summary['status_enum']}: {summary['pull_request_url']}")

    start >> wait
    announce(wait.output)


devin_sensor_example()
# --8<-- [end:dag]
