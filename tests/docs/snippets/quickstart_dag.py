"""The quick-start DAG shown in docs/quickstart.md; run by tests/docs/test_guide_snippets.py."""

# --8<-- [start:dag]
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["devin"])
def devin_quickstart() -> None:
    ask_devin = DevinCreateSessionOperator(
        task_id="ask_devin",
        title="Add a CONTRIBUTING guide",
        prompt=(
            "In the repository acme/api, add a short CONTRIBUTING.md that explains how to run "
            "the tests, then open a pull request."
        ),
        max_acu_limit=5,  # a ceiling on what this session may spend
        timeout=timedelta(hours=1),  # then the session is terminated and the task fails
        retries=2,  # safe: a retry reattaches to the same session
    )

    @task
    def report(result: dict[str, Any]) -> None:
        print("Devin session:", result["url"])
        print("Status:", result["status_enum"])
        print("Pull request:", result["pull_request_url"])
        print("Devin said:", result["last_devin_message"])

    report(ask_devin.output)


devin_quickstart()
# --8<-- [end:dag]
