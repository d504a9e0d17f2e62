"""Nightly maintenance delegated to Devin, with a structured answer to branch on.

What this example shows:

* a **scheduled** DAG that asks Devin for a small maintenance change every night;
* ``structured_output_schema``: Devin fills in a JSON object that the DAG can trust (the operator
  checks it against the schema with ``require_structured_output=True``);
* a **deferrable** wait: while Devin works, the task holds no worker slot; the triggerer polls the
  session, and the "Devin Session" button links to it as soon as the session exists;
* **branching on the result**: review the pull request Devin opened, or record that nothing needed
  changing.

Trigger it by hand with a different repository or extra instructions::

    airflow dags trigger devin_nightly_maintenance --conf '{"repo": "acme/billing", "extra_instructions": "..."}'

Poll interval: 30 s suits the real API. The local demo sets ``DEVIN_EXAMPLE_POLL_INTERVAL`` to a
couple of seconds because its emulated Devin works in fast-forward.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

POLL_INTERVAL = float(os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL", "30"))

MAINTENANCE_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "One paragraph: what was checked and what changed."},
        "pull_request_opened": {"type": "boolean"},
        "pull_request_url": {"type": ["string", "null"]},
        "dependencies_updated": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "pull_request_opened"],
    "additionalProperties": False,
}

PROMPT = """\
Nightly maintenance for the repository {{ params.repo }}.

1. Update the pinned development dependencies to their latest patch releases.
2. Run the test suite; fix anything the updates break, or revert that update.
3. If anything changed, open one pull request titled "Nightly maintenance ({{ run_id }})".

Report back in the structured output: a short summary, whether you opened a pull request and its
URL, and the dependencies you updated.
{{ params.extra_instructions }}
"""


@dag(
    dag_id="devin_nightly_maintenance",
    # No start_date and no catchup: on Airflow 3 the first run is the next 03:00 UTC, unless the
    # DAG is deployed within 2.4 h after a 03:00 (a tenth of a day), when that run starts at once.
    schedule="0 3 * * *",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    params={
        "repo": Param("acme/analytics-pipeline", type="string", description="owner/name on GitHub"),
        "extra_instructions": Param("", type="string", description="Appended to the prompt."),
    },
    tags=["devin", "example"],
    doc_md=__doc__,
)
def devin_nightly_maintenance() -> None:
    ask_devin = DevinCreateSessionOperator(
        task_id="ask_devin",
        title="Nightly maintenance: {{ params.repo }}",
        prompt=PROMPT,
        tags=["nightly-maintenance"],
        structured_output_schema=MAINTENANCE_RESULT_SCHEMA,
        require_structured_output=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=2),
        max_acu_limit=10,
    )

    @task.branch
    def pull_request_opened(result: dict[str, Any]) -> str:
        """Follow the pull request if Devin opened one (its structured answer or the session says so)."""
        answer = result.get("structured_output") or {}
        if result.get("pull_request_url") or answer.get("pull_request_opened"):
            return "review_pull_request"
        return "nothing_to_change"

    @task
    def review_pull_request(result: dict[str, Any]) -> str:
        """Hand the pull request to a human reviewer (here: log it; in real life, post to chat)."""
        answer = result.get("structured_output") or {}
        url = result.get("pull_request_url") or answer.get("pull_request_url")
        print(f"Devin opened {url} -- {answer.get('summary', '')}")
        print(f"Session: {result['url']}")
        return str(url)

    @task
    def nothing_to_change(result: dict[str, Any]) -> None:
        """Record a quiet night."""
        answer = result.get("structured_output") or {}
        print(f"No change needed: {answer.get('summary', '')} (session {result['url']})")

    branch = pull_request_opened(ask_devin.output)
    branch >> [review_pull_request(ask_devin.output), nothing_to_change(ask_devin.output)]


devin_nightly_maintenance()
