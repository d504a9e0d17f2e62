"""Devin works on a change and, when it has a question, a person answers it in Airflow.

What this example shows:

* ``on_blocked="human"``: when the session waits for a person (v1 ``blocked``; v3
  ``waiting_for_user`` / ``waiting_for_approval``), the task asks through Airflow's human-in-the-loop
  (the **Required Actions** page, or the REST API): the subject is the session title, the body
  Devin's question and the session link, the options **Reply** (with a text field), **Accept as
  done** and **Fail**;
* on Airflow 3.3 the task parks while it waits for the answer: it holds no worker slot and no
  trigger (on 3.1/3.2 the standard provider's ``HITLTrigger`` waits on the triggerer);
* a reply is sent to the session once, the wait resumes, and Devin may ask again: any number of
  rounds;
* ``hitl_timeout`` / ``hitl_timeout_default``: a question nobody answers within a day fails the task
  (and terminates the session);
* the result's ``human_rounds``: every question, the answer and who gave it.

Trigger it with your own repository and task::

    airflow dags trigger devin_ask_a_human --conf '{"repo": "acme/billing", "task": "Add retries to the exporter."}'

Poll interval: 30 s suits the real API. The local demo sets ``DEVIN_EXAMPLE_POLL_INTERVAL`` to a
couple of seconds because its emulated Devin works in fast-forward; ``DEVIN_EXAMPLE_HITL_TIMEOUT``
(seconds) shortens the wait for an answer the same way.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

# --8<-- [start:dag]
POLL_INTERVAL = float(os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL", "30"))
PROMPT = """In {{ params.repo }}: {{ params.task }}
Ask before any choice that changes a public API, then open a pull request."""
HITL_TIMEOUT = timedelta(seconds=float(os.environ.get("DEVIN_EXAMPLE_HITL_TIMEOUT", str(24 * 3600))))


@dag(
    dag_id="devin_ask_a_human",
    schedule=None,
    catchup=False,
    params={
        "repo": Param("acme/billing", type="string"),
        "task": Param("Add retries with backoff to the invoice exporter.", type="string"),
    },
    tags=["devin", "example", "human-in-the-loop"],
    doc_md=__doc__,
)
def devin_ask_a_human() -> None:
    change = DevinCreateSessionOperator(
        task_id="make_the_change",
        prompt=PROMPT,
        title="{{ params.task }} ({{ params.repo }})",
        # Devin's questions go to a person in Airflow; the answer goes back to the session.
        on_blocked="human",
        hitl_timeout=HITL_TIMEOUT,  # how long one question waits for an answer
        hitl_timeout_default="Fail",  # taken when nobody answers in time
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        max_acu_limit=10,
    )

    @task
    def report(result: dict[str, Any]) -> None:
        for entry in result["human_rounds"]:
            who = (entry["responded_by"] or {}).get("name", "the timeout default")
            print(f"Round {entry['round']}: {who} chose {entry['choice']!r}: {entry['answer'] or ''}")
        print(f"{result['url']} ended as {result['status_enum']}: {result['pull_request_url']}")

    report(change.output)


devin_ask_a_human()
# --8<-- [end:dag]
