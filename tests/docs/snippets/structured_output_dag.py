"""The structured-output example shown in docs/guides/structured-output.md; run by tests/docs."""

# --8<-- [start:dag]
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    template_searchpath=["/opt/airflow/schemas"],  # where release_notes.json lives
)
def devin_release_notes() -> None:
    draft = DevinCreateSessionOperator(
        task_id="draft_release_notes",
        prompt="Draft the release notes for the next release of acme/api from the merged PRs.",
        # A dict works too; a path ending in .json is read relative to the DAG folder or
        # template_searchpath.
        structured_output_schema="release_notes.json",
        # Fail the task unless Devin's answer exists and validates against the schema.
        require_structured_output=True,
    )

    @task.branch
    def route(result: dict[str, Any]) -> str:
        notes = result["structured_output"]  # already validated: the keys are there
        return "ask_for_review" if notes["breaking_changes"] else "publish"

    @task
    def ask_for_review(result: dict[str, Any]) -> None:
        print("Breaking changes in", result["structured_output"]["version"], "- review", result["url"])

    @task
    def publish(result: dict[str, Any]) -> None:
        print("\n".join(result["structured_output"]["highlights"]))

    route(draft.output) >> [ask_for_review(draft.output), publish(draft.output)]


devin_release_notes()
# --8<-- [end:dag]
