"""Keep Devin's knowledge and playbooks in step with Markdown files in this repository.

What this example shows:

* ``DevinKnowledgeSyncOperator`` and ``DevinPlaybookSyncOperator``: knowledge notes and team
  playbooks as code, for the parts of Devin that are not sessions;
* **upsert by name**: each file under ``devin_knowledge/knowledge/`` is one knowledge note (matched
  by ``name``), each file under ``devin_knowledge/playbooks/`` is one playbook (matched by
  ``title``); missing ones are created, changed ones replaced, identical ones left alone, so a rerun
  or a retry changes nothing;
* **nothing is deleted unless asked**: with ``prune=true`` in the run's configuration, only entries
  this DAG wrote (their body ends with the operator's marker) and whose file is gone are deleted;
  notes and playbooks written by people are never touched;
* **a dry run**: with ``dry_run=true`` the tasks log and return what they would change, and write
  nothing.

File format (front matter, then the body Devin reads)::

    ---
    name: analytics-pipeline conventions
    trigger_description: When changing transforms/
    pinned_repo: acme/analytics-pipeline
    ---
    - Amounts are integers in cents ...

Playbooks take ``title:`` instead of ``name:`` and an optional ``macro: !nightly-deps``; knowledge
notes take ``trigger_description`` (required), ``pinned_repo`` (optional, ``all`` = every repo) and,
on Devin API v1 only, ``macro``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import Param, dag

from airflow_provider_devin.operators.knowledge import DevinKnowledgeSyncOperator, DevinPlaybookSyncOperator

SOURCE_DIR = Path(__file__).parent / "devin_knowledge"


@dag(
    dag_id="devin_knowledge_sync",
    schedule="@hourly",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "prune": Param(False, type="boolean", description="Delete synced entries whose file is gone."),
        "dry_run": Param(False, type="boolean", description="Log what would change; write nothing."),
    },
    tags=["devin", "example", "knowledge"],
    doc_md=__doc__,
)
def devin_knowledge_sync() -> None:
    # Both tasks: the run's configuration decides, and one marker name for everything this DAG writes.
    options = {"prune": "{{ params.prune }}", "dry_run": "{{ params.dry_run }}", "managed_by": "devin_knowledge_sync"}
    DevinKnowledgeSyncOperator(task_id="sync_knowledge", source_folder=str(SOURCE_DIR / "knowledge"), **options)
    DevinPlaybookSyncOperator(task_id="sync_playbooks", source_folder=str(SOURCE_DIR / "playbooks"), **options)


devin_knowledge_sync()
