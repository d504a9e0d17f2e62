"""Devin fixes each failing data check, with the prompt written as a Python function; a second DAG
reviews the pull requests as soon as Devin is done.

What this example shows:

* ``@task.devin``: the decorated function returns the prompt, and the prompt is a Jinja template in
  which the call's arguments (``check``, ``repo``) sit next to the task context (``ds``, ``params``);
  it takes every ``DevinCreateSessionOperator`` argument and returns the same result;
* dynamic task mapping: ``.partial(repo=...).expand(check=...)`` starts one session per failing
  check, each retry-safe on its own (one session per mapped task instance);
* **asset events**: the task declares ``outlets=[DEVIN_FIXES]``, so each finished session emits an
  event on that asset whose ``extra`` holds ``session_id``, ``url``, ``pull_request_urls``,
  ``acus_consumed`` (v3) and ``status``;
* a downstream DAG, ``devin_review_fixes``, **scheduled on the asset**: it runs when Devin is done
  and reads the pull request URLs from the triggering events.

Trigger it with your own repository::

    airflow dags trigger devin_decorated --conf '{"repo": "acme/billing"}'

Poll interval: 30 s suits the real API. The local demo sets ``DEVIN_EXAMPLE_POLL_INTERVAL`` to a
couple of seconds because its emulated Devin works in fast-forward.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, Param, dag, task

POLL_INTERVAL = float(os.environ.get("DEVIN_EXAMPLE_POLL_INTERVAL", "30"))

#: One asset event per session Devin finished; downstream DAGs are scheduled on it.
DEVIN_FIXES = Asset("devin://data-quality/fixes", group="devin")


# --8<-- [start:producer]
@dag(
    dag_id="devin_decorated",
    schedule=None,
    catchup=False,
    params={"repo": Param("acme/analytics-pipeline", type="string")},
    tags=["devin", "example", "taskflow", "assets"],
    doc_md=__doc__,
)
def devin_decorated() -> None:
    @task
    def failing_checks() -> list[dict[str, Any]]:
        """The checks that failed in this run (a real DAG reads them from its data-quality tool)."""
        return [
            {"name": "orders_amount_not_negative", "table": "orders", "rows": 17},
            {"name": "customers_email_unique", "table": "customers", "rows": 3},
        ]

    @task.devin(
        # Template fields other than the prompt render before the function runs: context only.
        title="Data check fix in {{ params.repo }}",
        tags=["data-quality"],
        max_acu_limit=5,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=2),
        retries=1,
        outlets=[DEVIN_FIXES],
    )
    def fix_check(check: dict[str, Any], repo: str) -> str:
        # The returned text is rendered with the call's arguments and the context.
        return (
            "In the repository {{ repo }}, the data check {{ check.name }} failed on {{ check.rows }} rows "
            "of the table {{ check.table }} in the run for {{ ds }}.\n"
            "Find the cause in the pipeline code, fix it, add a regression test, and open a pull request."
        )

    fix_check.partial(repo="{{ params.repo }}").expand(check=failing_checks())


# --8<-- [end:producer]


# --8<-- [start:consumer]
@dag(
    dag_id="devin_review_fixes",
    schedule=[DEVIN_FIXES],
    catchup=False,
    tags=["devin", "example", "assets"],
    doc_md="""Runs when ``devin_decorated`` emitted an asset event for a finished Devin session.

What this example shows: a DAG scheduled on a Devin result, reading the session id, URL, pull
request URLs and ACUs from the asset events' ``extra``.""",
)
def devin_review_fixes() -> None:
    @task
    def pull_requests_to_review(
        triggering_asset_events: Mapping[Any, Sequence[Any]] | None = None,
    ) -> list[str]:
        """Every pull request URL of the sessions that triggered this run."""
        urls: list[str] = []
        for event in (triggering_asset_events or {}).get(DEVIN_FIXES, []):
            extra = event.extra
            print(
                f"Devin session {extra['session_id']} ended {extra['status']} "
                f"({extra['acus_consumed'] or '?'} ACUs): {extra['url']}"
            )
            urls.extend(extra["pull_request_urls"])
        return urls

    pull_requests_to_review()


# --8<-- [end:consumer]

devin_decorated()
devin_review_fixes()
