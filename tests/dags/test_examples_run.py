"""Each example DAG runs to success under ``dag.test()`` against the Devin API emulator.

``dag.test()`` runs the deferrable waits inline, after a real serde round trip of the trigger's
kwargs; the emulator answers over real HTTP on loopback.
"""

from __future__ import annotations

from typing import Any

from devin_versions import ApiPaths

from ._helpers import task_states, xcom


def creates(emulator: Any) -> list[dict[str, Any]]:
    return ApiPaths(emulator.api_version).creates(emulator.control)


def test_nightly_maintenance_reviews_the_pull_request_devin_opened(run_example: Any, devin_emulator: Any) -> None:
    devin_emulator.control.set_default_scenario("pull_request")

    dag_run = run_example("devin_nightly_maintenance", conf={"repo": "acme/billing"})

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == {
        "ask_devin": "success",
        "pull_request_opened": "success",
        "review_pull_request": "success",
        "nothing_to_change": "skipped",
    }
    result = xcom(dag_run, "ask_devin")
    assert result["pull_request_url"]
    assert xcom(dag_run, "review_pull_request") == result["pull_request_url"]
    [create] = creates(devin_emulator)
    assert "acme/billing" in create["body"]["prompt"]
    assert create["body"]["structured_output_schema"]["required"] == ["summary", "pull_request_opened"]


def test_nightly_maintenance_records_a_quiet_night_when_no_pull_request(run_example: Any, devin_emulator: Any) -> None:
    devin_emulator.control.set_default_scenario("finish")

    dag_run = run_example("devin_nightly_maintenance")

    assert str(dag_run.state) == "success"
    result = xcom(dag_run, "ask_devin")
    assert result["pull_request_url"] is None
    assert result["structured_output"]["pull_request_opened"] is False
    assert task_states(dag_run)["nothing_to_change"] == "success"
    assert task_states(dag_run)["review_pull_request"] == "skipped"


def test_data_quality_fix_attaches_the_report_and_follows_up_on_the_same_session(
    run_example: Any, devin_emulator: Any
) -> None:
    dag_run = run_example("devin_data_quality_fix")

    assert str(dag_run.state) == "success"
    states = task_states(dag_run)
    assert states["ask_devin_to_fix"] == "success"
    assert states["ask_for_regression_test"] == "success"
    assert states["publish_orders"] == "skipped"
    api = ApiPaths(devin_emulator.api_version)
    [upload] = devin_emulator.control.journal(method="POST", path=api.attachments)
    assert upload["status"] == 200
    [create] = creates(devin_emulator)
    assert len(api.attachment_urls(create["body"])) == 1
    session_id = xcom(dag_run, "ask_devin_to_fix", key="session_id")
    [message] = devin_emulator.control.journal(method="POST", path=api.message(session_id))
    assert "regression test" in message["body"]["message"]
    follow_up = xcom(dag_run, "ask_for_regression_test")
    assert follow_up["session_id"] == session_id
    assert follow_up["status_enum"] == "finished"  # waited until Devin answered and was done again


def test_fanout_creates_one_session_per_repository_and_collects_every_result(
    run_example: Any, devin_emulator: Any
) -> None:
    repos = ["acme/api", "acme/web", "acme/etl", "acme/docs"]

    dag_run = run_example("devin_fanout", conf={"repos": repos})

    assert str(dag_run.state) == "success"
    prompts = sorted(c["body"]["prompt"] for c in creates(devin_emulator))
    assert len(prompts) == len(repos)
    assert all(any(repo in prompt for prompt in prompts) for repo in repos)
    # One idempotency tag per mapped instance: no two instances could adopt the same session.
    tags = {tuple(sorted(t for t in c["body"]["tags"] if t.startswith("airflow-ti:"))) for c in creates(devin_emulator)}
    assert len(tags) == len(repos)
    summary = xcom(dag_run, "summarise")
    assert summary["sessions"] == len(repos)
    assert len(set(summary["session_urls"])) == len(repos)


def test_knowledge_sync_upserts_by_name_and_deletes_only_its_own_entries_when_asked(
    run_example: Any, devin_emulator: Any
) -> None:
    from airflow_provider_devin.hooks.devin import DevinHook
    from airflow_provider_devin.operators.knowledge import sync_marker

    hook = DevinHook()
    human_note = hook.create_knowledge("on-call rota", "Ask #data-oncall.", "When someone asks who is on call")
    stale = hook.create_knowledge("retired conventions", f"Old text.\n\n{sync_marker('devin_knowledge_sync')}", "never")

    def writes() -> list[str]:
        return [f"{e['method']} {e['path']}" for e in devin_emulator.control.journal() if e["method"] != "GET"]

    before_dry_run = writes()

    # The params said explicitly: in-process dag.test() runs share the DAG object, and a previous
    # run's conf (this test on the other API version) can leak into the params of the next one.
    dry = run_example("devin_knowledge_sync", conf={"prune": True, "dry_run": True})
    assert str(dry.state) == "success"
    assert len(xcom(dry, "sync_knowledge")["created"]) == 2
    assert [line["name"] for line in xcom(dry, "sync_knowledge")["deleted"]] == ["retired conventions"]
    assert writes() == before_dry_run  # the dry run wrote nothing

    first = run_example("devin_knowledge_sync", conf={"prune": False, "dry_run": False})
    assert str(first.state) == "success"
    created = xcom(first, "sync_knowledge")["created"]
    assert sorted(line["name"] for line in created) == ["analytics-pipeline conventions", "pull request etiquette"]
    assert all(line["id"] for line in created)
    assert len(xcom(first, "sync_playbooks")["created"]) == 2
    assert xcom(first, "sync_knowledge")["deleted"] == []

    second = run_example("devin_knowledge_sync", conf={"prune": True, "dry_run": False})
    knowledge = xcom(second, "sync_knowledge")
    assert knowledge["created"] == [] and knowledge["updated"] == []
    assert len(knowledge["unchanged"]) == 2
    assert knowledge["deleted"] == [
        {"name": "retired conventions", "id": stale["id"], "reason": "no longer in the source"}
    ]
    assert len(xcom(second, "sync_playbooks")["unchanged"]) == 2

    names = {note["id"]: note["name"] for note in hook.list_knowledge()["knowledge"]}
    assert human_note["id"] in names
    assert stale["id"] not in names
    # The runs changed only what they should have: one create per file, one delete, no update.
    knowledge_writes = sorted(write.split()[0] for write in writes() if "/knowledge" in write)
    assert knowledge_writes == ["DELETE", "POST", "POST", "POST", "POST"]  # two by this test, two by the DAG
