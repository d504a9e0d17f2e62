"""Keep Devin's knowledge and playbooks in step with Markdown files in this repository.

What this example shows:

* using ``DevinHook`` directly from ``@task`` functions for the parts of the Devin API that are
  not sessions (knowledge notes and team playbooks);
* **upsert by name**: each file under ``devin_knowledge/knowledge/`` is one knowledge note (matched
  by ``name``), each file under ``devin_knowledge/playbooks/`` is one playbook (matched by
  ``title``); missing ones are created, changed ones replaced, identical ones left alone, so a rerun
  or a retry changes nothing;
* **nothing is deleted unless asked**: with ``prune=true`` in the run's configuration, only entries
  this DAG created (their body ends with the sync marker) and whose file is gone are deleted;
  notes and playbooks written by people are never touched.

File format (front matter, then the body Devin reads)::

    ---
    name: analytics-pipeline conventions          # playbooks: "title:" instead
    trigger_description: When changing transforms/ # knowledge only
    pinned_repo: acme/analytics-pipeline           # knowledge only, optional ("all" = every repo)
    macro: !nightly-deps                           # optional
    ---
    - Amounts are integers in cents ...
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_devin.hooks.devin import DevinHook

SOURCE_DIR = Path(__file__).parent / "devin_knowledge"
SYNC_MARKER = "<!-- managed by the Airflow DAG devin_knowledge_sync; edit the file, not this entry -->"


def read_entry(path: Path) -> tuple[dict[str, str], str]:
    """Split a Markdown file into its ``key: value`` front matter and its body."""
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    if text.startswith("---\n"):
        header, _, text = text[4:].partition("\n---\n")
        for line in header.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                meta[key.strip()] = value.strip()
    return meta, f"{text.strip()}\n\n{SYNC_MARKER}"


def is_managed(body: str | None) -> bool:
    return SYNC_MARKER in (body or "")


@dag(
    dag_id="devin_knowledge_sync",
    schedule="@hourly",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"prune": Param(False, type="boolean", description="Delete synced entries whose file is gone.")},
    tags=["devin", "example", "knowledge"],
    doc_md=__doc__,
)
def devin_knowledge_sync() -> None:
    @task
    def sync_knowledge(params: dict[str, Any] | None = None) -> dict[str, list[str]]:
        """Upsert one knowledge note per file, matched by name."""
        hook = DevinHook()
        existing: dict[str, Any] = {}
        for note in hook.list_knowledge()["knowledge"]:
            existing.setdefault(note["name"], note)  # the first one wins if names repeat
        report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
        wanted: set[str] = set()
        for path in sorted((SOURCE_DIR / "knowledge").glob("*.md")):
            meta, body = read_entry(path)
            name = meta.get("name") or path.stem
            wanted.add(name)
            fields = {
                "body": body,
                "trigger_description": meta["trigger_description"],
                "macro": meta.get("macro") or None,
                "pinned_repo": meta.get("pinned_repo") or None,
            }
            current = existing.get(name)
            if current is None:
                hook.create_knowledge(name, **fields)
                report["created"].append(name)
            elif any(current.get(key) != value for key, value in fields.items()):
                hook.update_knowledge(current["id"], name, **fields, parent_folder_id=current.get("parent_folder_id"))
                report["updated"].append(name)
            else:
                report["unchanged"].append(name)
        if params and params.get("prune"):
            for name, note in existing.items():
                if name not in wanted and is_managed(note.get("body")):
                    hook.delete_knowledge(note["id"])
                    report["deleted"].append(name)
        print(f"knowledge: {report}")
        return report

    @task
    def sync_playbooks(params: dict[str, Any] | None = None) -> dict[str, list[str]]:
        """Upsert one team playbook per file, matched by title."""
        hook = DevinHook()
        existing: dict[str, Any] = {}
        for playbook in hook.list_playbooks():
            if playbook.get("status") != "deleted":
                existing.setdefault(playbook["title"], playbook)
        report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
        wanted: set[str] = set()
        for path in sorted((SOURCE_DIR / "playbooks").glob("*.md")):
            meta, body = read_entry(path)
            title = meta.get("title") or path.stem
            macro = meta.get("macro") or None
            wanted.add(title)
            current = existing.get(title)
            if current is None:
                hook.create_playbook(title, body, macro=macro)
                report["created"].append(title)
            elif current.get("body") != body or (current.get("macro") or None) != macro:
                hook.update_playbook(current["playbook_id"], title, body, macro=macro)
                report["updated"].append(title)
            else:
                report["unchanged"].append(title)
        if params and params.get("prune"):
            for title, playbook in existing.items():
                if title not in wanted and is_managed(playbook.get("body")):
                    hook.delete_playbook(playbook["playbook_id"])
                    report["deleted"].append(title)
        print(f"playbooks: {report}")
        return report

    sync_knowledge()
    sync_playbooks()


devin_knowledge_sync()
