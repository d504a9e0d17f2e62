"""Runs on Airflow 3.3 (the main lane) and on Airflow 2.11 (the compatibility lane of scripts/test):
the operators, sensor and trigger do real work against the emulator under ``dag.test()``."""

from __future__ import annotations

from datetime import datetime

import pytest
from devin_versions import VERSIONS, ApiPaths

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator, DevinSendMessageOperator
from airflow_provider_devin.sensors.devin import DevinSessionSensor

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]

SCHEMA = {
    "type": "object",
    "properties": {"pr_opened": {"type": "boolean"}, "summary": {"type": "string"}},
    "required": ["pr_opened", "summary"],
}


@pytest.mark.parametrize("devin_api_version", VERSIONS)
@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_create_wait_message_and_sense_on_this_airflow(run_dag, devin_emulator, deferrable, devin_api_version):
    api = ApiPaths(devin_api_version)
    devin_emulator.control.set_speed(600)
    with DAG(
        f"compat_smoke_{deferrable}_{devin_api_version}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
    ) as dag:
        create = DevinCreateSessionOperator(
            task_id="create",
            prompt="Summarise the open issues.",
            structured_output_schema=SCHEMA,
            require_structured_output=True,
            deferrable=deferrable,
            poll_interval=0.2,
        )
        follow_up = DevinSendMessageOperator(
            task_id="follow_up",
            session_id="{{ ti.xcom_pull(task_ids='create', key='session_id') }}",
            message="Thanks, please also update the changelog.",
            wait_for_completion=False,
        )
        sense = DevinSessionSensor(
            task_id="sense",
            session_id="{{ ti.xcom_pull(task_ids='create', key='session_id') }}",
            poke_interval=0.2,
            timeout=120,
            deferrable=deferrable,
        )
        create >> follow_up >> sense

    dag_run = run_dag(dag)

    assert str(dag_run.state).endswith("success")
    assert len(api.creates(devin_emulator.control)) == 1
    (session,) = devin_emulator.control.sessions()
    assert len(api.message_posts(devin_emulator.control)) == 1
    assert session["session_id"].startswith("devin-")
