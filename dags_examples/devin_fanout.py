"""One Devin session per repository, in parallel, with the results gathered at the end.

What this example shows:

* **dynamic task mapping**: ``DevinCreateSessionOperator.partial(...).expand(prompt=...)`` creates
  one mapped task instance, hence one Devin session, per repository in the run's configuration;
* retry safety per mapped instance: the operator's idempotency key is derived from dag_id,
  task_id, run_id **and map_index**, so a retried instance finds its own session again and never
  adopts a sibling's;
* deferrable waits: all sessions are polled by the triggerer, none holds a worker slot;
* a downstream task that receives every mapped result (a list of dicts) and summarises them.

Trigger with your own list::

    airflow dags trigger devin_fanout --conf '{"repos": ["acme/api", "acme/web"]}'
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

POLL_INTERVAL = float(os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL", "30"))

DEFAULT_REPOS = ["acme/api", "acme/web", "acme/analytics-pipeline"]


@dag(
    dag_id="devin_fanout",
    schedule=None,
    catchup=False,
    params={
        "repos": Param(DEFAULT_REPOS, type="array", items={"type": "string"}, minItems=1),
        "task": Param(
            "Replace every use of the deprecated `datetime.utcnow()` with `datetime.now(timezone.utc)`, "
            "run the tests, and open a pull request.",
            type="string",
        ),
    },
    tags=["devin", "example", "dynamic-task-mapping"],
    doc_md=__doc__,
)
def devin_fanout() -> None:
    @task
    def prompts_per_repo(**context: Any) -> list[str]:
        """One prompt per repository; the list length decides how many sessions start."""
        params = context["params"]
        return [f"In the repository {repo}: {params['task']}" for repo in params["repos"]]

    sessions = DevinCreateSessionOperator.partial(
        task_id="devin_session",
        tags=["fanout"],
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
        max_acu_limit=5,
        retries=1,
        retry_delay=timedelta(seconds=10),
    ).expand(prompt=prompts_per_repo())

    @task
    def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
        """Collect every mapped result: which sessions finished, and which opened pull requests."""
        rows = list(results)
        for row in rows:
            print(f"{row['status_enum']:<10} {row['url']}  PR: {row.get('pull_request_url') or '-'}")
        return {
            "sessions": len(rows),
            "pull_requests": [row["pull_request_url"] for row in rows if row.get("pull_request_url")],
            "session_urls": [row["url"] for row in rows],
        }

    summarise(sessions.output)


devin_fanout()
