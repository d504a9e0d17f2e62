"""A failed data-quality check becomes a fix request to Devin, with the evidence attached.

What this example shows:

* a small pipeline (extract -> transform -> quality check) whose check finds bad rows;
* the failing report uploaded as an **attachment** (``attachments=[...]``: the operator uploads the
  file first and references it in the prompt with an ``ATTACHMENT:"<url>"`` line);
* Devin asked to fix the **transformation code**, waiting deferrably;
* a **follow-up message on the same session** (``DevinSendMessageOperator``), fed by the
  ``session_id`` the first task pushed to XCom, waiting deferrably for Devin to finish again; a
  retry of that task never sends the message twice.

When the check passes, the Devin tasks are skipped and the data is published.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator, DevinSendMessageOperator

POLL_INTERVAL = float(os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL", "30"))

# Raw orders as an upstream system exports them; amounts are strings in cents.
RAW_ORDERS = [
    {"order_id": "A-1001", "customer_id": "C-17", "amount_cents": "1999", "currency": "EUR"},
    {"order_id": "A-1002", "customer_id": "C-42", "amount_cents": "-500", "currency": "EUR"},
    {"order_id": "A-1003", "customer_id": "", "amount_cents": "2500", "currency": "usd"},
    {"order_id": "A-1004", "customer_id": "C-08", "amount_cents": "12000", "currency": "USD"},
]

FIX_PROMPT = """\
The nightly orders transformation in acme/analytics-pipeline (file transforms/orders.py) produced
rows that fail our data-quality checks. The attached report lists every failing row and rule.

Fix the transformation (not the check): refunds arrive as negative amounts and must be kept in a
separate `refunds` table; currencies must be upper-case ISO codes; orders without a customer must be
quarantined. Open a pull request with the fix.
"""

FOLLOW_UP = """\
Thanks. Before this is merged, please also add a regression test built from the failing rows in the
report, so the same data can never pass the transformation unchecked again.
"""


def _workdir(run_id: str) -> Path:
    """A per-run scratch folder (a real pipeline would use object storage)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    path = Path(tempfile.gettempdir()) / "devin_data_quality_fix" / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


@dag(
    dag_id="devin_data_quality_fix",
    schedule="@daily",
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    tags=["devin", "example", "data-quality"],
    doc_md=__doc__,
)
def devin_data_quality_fix() -> None:
    @task
    def transform_orders(run_id: str | None = None) -> str:
        """The step under suspicion: converts cents to amounts, keeping every row as it comes."""
        out = _workdir(str(run_id)) / "orders.csv"
        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["order_id", "customer_id", "amount", "currency"])
            writer.writeheader()
            for row in RAW_ORDERS:
                writer.writerow(
                    {
                        "order_id": row["order_id"],
                        "customer_id": row["customer_id"],
                        "amount": int(row["amount_cents"]) / 100,
                        "currency": row["currency"],
                    }
                )
        return str(out)

    @task
    def check_quality(orders_path: str) -> dict[str, Any]:
        """Apply the rules; write a report of every failing row next to the data."""
        failures: list[dict[str, Any]] = []
        with open(orders_path, newline="") as fh:
            for row in csv.DictReader(fh):
                if not row["customer_id"]:
                    failures.append({"order_id": row["order_id"], "rule": "customer_id is required"})
                if float(row["amount"]) < 0:
                    failures.append({"order_id": row["order_id"], "rule": "amount must be >= 0"})
                if row["currency"] != row["currency"].upper():
                    failures.append({"order_id": row["order_id"], "rule": "currency must be ISO upper-case"})
        report = Path(orders_path).with_name("quality_report.json")
        report.write_text(json.dumps({"source": orders_path, "failures": failures}, indent=2))
        print(f"{len(failures)} quality failures; report at {report}")
        return {"passed": not failures, "report_path": str(report), "failures": len(failures)}

    @task.branch
    def quality_gate(check: dict[str, Any]) -> str:
        return "publish_orders" if check["passed"] else "ask_devin_to_fix"

    ask_devin_to_fix = DevinCreateSessionOperator(
        task_id="ask_devin_to_fix",
        title="Fix orders transformation ({{ run_id }})",
        prompt=FIX_PROMPT,
        attachments=["{{ ti.xcom_pull(task_ids='check_quality')['report_path'] }}"],
        tags=["data-quality"],
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )

    follow_up = DevinSendMessageOperator(
        task_id="ask_for_regression_test",
        session_id="{{ ti.xcom_pull(task_ids='ask_devin_to_fix', key='session_id') }}",
        message=FOLLOW_UP,
        wait_for_completion=True,  # until Devin has answered and is done again
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )

    @task
    def publish_orders(orders_path: str) -> None:
        print(f"Publishing {orders_path}")

    orders = transform_orders()
    check = check_quality(orders)
    gate = quality_gate(check)
    gate >> [ask_devin_to_fix, publish_orders(orders)]
    ask_devin_to_fix >> follow_up


devin_data_quality_fix()
