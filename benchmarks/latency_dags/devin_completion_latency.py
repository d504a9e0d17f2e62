"""The DAG the completion-latency benchmark runs in a real local Airflow (``benchmarks.latency``).

One deferrable DevinCreateSessionOperator against the emulator: the session keeps working until
the benchmark marks it finished, and the benchmark times how long the task takes to succeed after.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

POLL_INTERVAL = float(os.environ.get("DEVIN_BENCH_POLL_INTERVAL", "5"))

with DAG(dag_id="devin_completion_latency", schedule=None, catchup=False, tags=["benchmark"]):
    DevinCreateSessionOperator(
        task_id="wait_for_session",
        devin_conn_id="devin_bench",
        prompt="Latency benchmark session [emulator:scenario=working_forever] ({{ run_id }})",
        title="{{ run_id }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=900,
    )
