"""DevinKnowledgeSyncOperator / DevinPlaybookSyncOperator against the emulator, on both API versions:
upsert by name, prune only of managed entries and only when asked, dry runs that write nothing,
people's entries untouched, retries that converge, and bad input refused before any request."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.knowledge import (
    DevinKnowledgeSyncOperator,
    DevinPlaybookSyncOperator,
    sync_marker,
)

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
MARKER = sync_marker("tests.sync")


def write_note(folder: Path, stem: str, name: str, trigger: str, body: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.md"
    path.write_text(f"---\nname: {name}\ntrigger_description: {trigger}\n{extra}---\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def notes_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    write_note(folder, "style", "style guide", "When writing Python", "- Type hints everywhere.", "pinned_repo: all\n")
    write_note(folder, "release", "release steps", "When cutting a release", "1. Tag.\n2. Publish.")
    return folder


def knowledge_sync(**kwargs: Any) -> DevinKnowledgeSyncOperator:
    kwargs.setdefault("managed_by", "tests.sync")
    return DevinKnowledgeSyncOperator(task_id=kwargs.pop("task_id", "sync_knowledge"), **kwargs)


def playbook_sync(**kwargs: Any) -> DevinPlaybookSyncOperator:
    kwargs.setdefault("managed_by", "tests.sync")
    return DevinPlaybookSyncOperator(task_id=kwargs.pop("task_id", "sync_playbooks"), **kwargs)


def notes_by_name() -> dict[str, dict[str, Any]]:
    return {note["name"]: dict(note) for note in DevinHook().list_knowledge()["knowledge"]}


def writes(emulator: Any) -> list[str]:
    """``METHOD path`` of every write the emulator received."""
    return [
        f"{e['method']} {e['path']}" for e in emulator.control.journal() if e["method"] in ("POST", "PUT", "DELETE")
    ]


def names(result: dict[str, Any], key: str) -> list[str]:
    return sorted(line["name"] for line in result[key])


def test_a_folder_is_created_note_by_note_and_a_rerun_changes_nothing(devin_emulator, notes_folder) -> None:
    first = knowledge_sync(source_folder=str(notes_folder)).execute({})

    assert names(first, "created") == ["release steps", "style guide"]
    notes = notes_by_name()
    assert {line["id"] for line in first["created"]} == {notes["style guide"]["id"], notes["release steps"]["id"]}
    style = notes["style guide"]
    assert style["body"] == f"- Type hints everywhere.\n\n{MARKER}"
    assert style["trigger_description"] == "When writing Python"
    assert style["pinned_repo"] == "all"
    assert notes["release steps"]["pinned_repo"] is None

    devin_emulator.control.clear_journal()
    second = knowledge_sync(source_folder=str(notes_folder)).execute({})

    assert names(second, "unchanged") == ["release steps", "style guide"]
    assert second["created"] == second["updated"] == second["deleted"] == []
    assert writes(devin_emulator) == []


def test_a_changed_file_updates_only_its_note_and_keeps_its_id(devin_emulator, notes_folder) -> None:
    knowledge_sync(source_folder=str(notes_folder)).execute({})
    before = notes_by_name()["release steps"]
    write_note(notes_folder, "release", "release steps", "When cutting a release", "1. Tag.\n2. Publish.\n3. Announce.")
    devin_emulator.control.clear_journal()

    result = knowledge_sync(source_folder=str(notes_folder)).execute({})

    assert result["updated"] == [{"name": "release steps", "id": before["id"], "fields": ["body"]}]
    assert names(result, "unchanged") == ["style guide"]
    assert [w.split()[0] for w in writes(devin_emulator)] == ["PUT"]
    after = notes_by_name()["release steps"]
    assert after["id"] == before["id"]
    assert after["body"].startswith("1. Tag.\n2. Publish.\n3. Announce.")


def test_a_note_whose_file_is_gone_is_kept_without_prune_and_deleted_with_it(devin_emulator, notes_folder) -> None:
    knowledge_sync(source_folder=str(notes_folder)).execute({})
    gone_id = notes_by_name()["release steps"]["id"]
    (notes_folder / "release.md").unlink()

    kept = knowledge_sync(source_folder=str(notes_folder)).execute({})

    assert kept["deleted"] == []
    assert kept["skipped"] == [
        {"name": "release steps", "id": gone_id, "reason": "no longer in the source; prune=True would delete it"}
    ]
    assert "release steps" in notes_by_name()

    pruned = knowledge_sync(source_folder=str(notes_folder), prune=True).execute({})

    assert pruned["deleted"] == [{"name": "release steps", "id": gone_id, "reason": "no longer in the source"}]
    assert set(notes_by_name()) == {"style guide"}


def test_entries_people_wrote_are_never_touched_even_with_prune_or_the_same_name(devin_emulator, notes_folder) -> None:
    hook = DevinHook()
    person = hook.create_knowledge("on-call rota", "Ask #data-oncall.", "When someone asks who is on call")
    same_name = hook.create_knowledge("style guide", "Tabs, not spaces.", "Always")
    other_sync = hook.create_knowledge("legacy", f"Old.\n\n{sync_marker('another.dag')}", "Never")
    devin_emulator.control.clear_journal()

    result = knowledge_sync(source_folder=str(notes_folder), prune=True).execute({})

    assert names(result, "created") == ["release steps"]  # not a second "style guide"
    [skipped] = result["skipped"]
    assert skipped["name"] == "style guide" and skipped["id"] == same_name["id"]
    assert "does not manage" in skipped["reason"]
    assert result["deleted"] == []
    notes = {note["id"]: note for note in hook.list_knowledge()["knowledge"]}
    for untouched in (person, same_name, other_sync):
        assert notes[untouched["id"]]["body"] == untouched["body"]
    assert [w.split()[0] for w in writes(devin_emulator)] == ["POST"]


def test_dry_run_logs_the_plan_and_writes_nothing(devin_emulator, notes_folder, capfd) -> None:
    knowledge_sync(source_folder=str(notes_folder)).execute({})
    write_note(notes_folder, "style", "style guide", "When writing Python", "- Type hints everywhere, mypy strict.")
    (notes_folder / "release.md").unlink()
    write_note(notes_folder, "review", "code review", "When reviewing", "Be kind.")
    before = notes_by_name()
    devin_emulator.control.clear_journal()

    result = knowledge_sync(source_folder=str(notes_folder), prune=True, dry_run=True).execute({})

    assert result["dry_run"] is True
    assert result["created"] == [{"name": "code review", "id": None}]
    assert names(result, "updated") == ["style guide"]
    assert names(result, "deleted") == ["release steps"]
    assert writes(devin_emulator) == []
    assert notes_by_name() == before
    assert "dry run, nothing written: would delete knowledge note 'release steps'" in capfd.readouterr().out


def test_playbooks_from_entries_upsert_by_title_with_their_macro(devin_emulator) -> None:
    entries = [
        {"title": "Fix a failing check", "body": "1. Read the report.", "macro": "!dq-fix"},
        {"title": "Nightly deps", "body": "1. Update pins."},
    ]
    first = playbook_sync(entries=entries).execute({})
    assert names(first, "created") == ["Fix a failing check", "Nightly deps"]
    listed = {p["title"]: p for p in DevinHook().list_playbooks()}
    assert listed["Fix a failing check"]["macro"] == "!dq-fix"
    assert listed["Nightly deps"]["body"] == f"1. Update pins.\n\n{MARKER}"

    entries[1] = {"title": "Nightly deps", "body": "1. Update pins.", "macro": "!nightly"}
    second = playbook_sync(entries=entries[1:], prune=True).execute({})

    assert second["updated"] == [
        {"name": "Nightly deps", "id": listed["Nightly deps"]["playbook_id"], "fields": ["macro"]}
    ]
    assert names(second, "deleted") == ["Fix a failing check"]
    live = {p["title"]: p for p in DevinHook().list_playbooks() if p.get("status") != "deleted"}
    assert set(live) == {"Nightly deps"}
    assert live["Nightly deps"]["macro"] == "!nightly"

    # A deleted playbook (v1 marks it "deleted") is not an entry to update or to recreate from.
    third = playbook_sync(entries=entries[1:], prune=True).execute({})
    assert names(third, "unchanged") == ["Nightly deps"]
    assert third["created"] == third["deleted"] == []


def test_a_create_whose_answer_was_lost_is_adopted_not_sent_again(devin_emulator, api, notes_folder) -> None:
    pattern = "/v1/knowledge" if api.version == "v1" else "/v3/organizations/*/knowledge/notes"
    devin_emulator.control.inject_fault("POST", pattern, status=502, after_processing=True)

    result = knowledge_sync(source_folder=str(notes_folder)).execute({})

    assert names(result, "created") == ["release steps", "style guide"]
    assert sorted(notes_by_name()) == ["release steps", "style guide"]
    assert len(devin_emulator.control.journal(method="POST")) == 2


def test_a_retry_after_a_partial_run_converges_without_a_second_entry(
    request, run_dag, devin_emulator, notes_folder
) -> None:
    hook = DevinHook()
    real_create = DevinHook.create_knowledge
    calls: list[str] = []

    def create_then_die_on_the_second(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("worker lost mid-sync")
        return real_create(self, name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DevinHook, "create_knowledge", create_then_die_on_the_second)
        with DAG(re.sub(r"\W", "_", request.node.name), schedule=None, start_date=START) as dag:
            DevinKnowledgeSyncOperator(
                task_id="sync_knowledge",
                source_folder="{{ params.folder }}",
                params={"folder": str(notes_folder)},
                retries=1,
                retry_delay=datetime.timedelta(0),
            )
        dag_run = run_dag(dag)

    assert str(dag_run.state) == "success"
    assert calls == ["release steps", "style guide", "style guide"]  # the retry re-sent only the missing one
    assert sorted(note["name"] for note in hook.list_knowledge()["knowledge"]) == ["release steps", "style guide"]
    # managed_by defaults to <dag_id>.<task_id>; the first try's note carries it, so the retry recognised it.
    assert sync_marker(f"{dag.dag_id}.sync_knowledge") in notes_by_name()["release steps"]["body"]


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("name: x\n", r"bad\.md: the field 'trigger_description' must be a non-empty string"),
        ("name: x\ntrigger_descripton: typo\n", r"bad\.md, line 3: unknown field 'trigger_descripton'"),
        ("name x\n", r"bad\.md, line 2: expected 'key: value'"),
        ("name: x\ntrigger: t\nmacro: dq\n", r"bad\.md: the field 'macro' must look like '!name'"),
    ],
)
def test_bad_front_matter_fails_naming_the_file_and_field_before_any_request(
    devin_emulator, tmp_path, front_matter, expected
) -> None:
    (tmp_path / "bad.md").write_text(f"---\n{front_matter}---\nBody.\n", encoding="utf-8")
    devin_emulator.control.clear_journal()

    with pytest.raises(ValueError, match=expected):
        knowledge_sync(source_folder=str(tmp_path)).execute({})

    assert devin_emulator.control.journal() == []


def test_bad_entries_fail_before_any_request(devin_emulator, tmp_path) -> None:
    (tmp_path / "open.md").write_text("---\ntitle: never closed\nBody.\n", encoding="utf-8")
    devin_emulator.control.clear_journal()
    cases = [
        (playbook_sync(source_folder=str(tmp_path)), r"open\.md: the front matter opened on line 1 has no closing"),
        (playbook_sync(source_folder=str(tmp_path / "missing")), r"does not exist"),
        (playbook_sync(entries=[{"title": "A", "body": "x"}, {"title": "A", "body": "y"}]), r"entries\[1\].*'A'"),
        (playbook_sync(entries=[{"title": "A"}]), r"entries\[0\]: the field 'body' must be a non-empty string"),
        (playbook_sync(entries=["just text"]), r"entries\[0\]: a playbook must be a dict"),
        (playbook_sync(entries=[{"title": "A", "body": "x", "owner": "me"}]), r"unknown field 'owner'"),
        (playbook_sync(entries=[], prune="sometimes"), r"prune must be True or False"),
    ]
    for operator, expected in cases:
        with pytest.raises(ValueError, match=expected):
            operator.execute({})
    assert devin_emulator.control.journal() == []


def test_fields_of_one_api_version_are_refused_on_the_other(devin_emulator, api) -> None:
    if api.version == "v3":
        entry = {"name": "n", "body": "b", "trigger": "t", "macro": "!m"}
        expected = r"entries\[0\]: the field 'macro' is not accepted on Devin API v3"
    else:
        entry = {"name": "n", "body": "b", "trigger_description": "t", "is_enabled": False}
        expected = r"entries\[0\]: the field 'is_enabled' exists on Devin API v3 only"
    devin_emulator.control.clear_journal()

    with pytest.raises(ValueError, match=expected):
        knowledge_sync(entries=[entry]).execute({})

    assert devin_emulator.control.journal() == []
