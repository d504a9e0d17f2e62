"""The attachments example shown in docs/guides/attachments.md; run by tests/docs."""

# --8<-- [start:dag]
import json
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def devin_attachments_example() -> None:
    @task
    def export_failures() -> str:
        """Write the evidence to a file on the worker and return its path."""
        path = Path(tempfile.mkdtemp()) / "failed_rows.json"
        path.write_text(json.dumps([{"order_id": "A-1002", "amount": -5.0}]))
        return str(path)

    report = export_failures()

    ask = DevinCreateSessionOperator(
        task_id="ask_devin",
        prompt="The attached rows failed validation. Find out why in acme/analytics-pipeline.",
        # Paths are uploaded first; each becomes an ATTACHMENT:"<url>" line at the end of the prompt.
        attachments=["{{ ti.xcom_pull(task_ids='export_failures') }}"],
    )
    report >> ask


devin_attachments_example()
# --8<-- [end:dag]
