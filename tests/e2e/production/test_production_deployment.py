"""End to end on a production-like Airflow: PostgreSQL, CeleryExecutor on Redis, two workers, two triggerers.

The provider's promise -- one Devin session per task instance, whatever fails -- checked where teams
run it: a 50-way mapped fan-out, a triggerer SIGKILLed while it holds deferred Devin triggers, a
Celery worker SIGKILLed between the create and the deferral, and the API key kept out of every
log and of a ``pg_dump`` of the metadata DB. Run alone with ``DEVIN_TEST_LANES=production
./scripts/test`` (see docs/compatibility.md).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from devin_versions import ApiPaths

from tools.local_airflow import LocalAirflow

from .conftest import devin_triggers, sql

pytestmark = [pytest.mark.e2e, pytest.mark.production]

V3 = ApiPaths("v3")
#: Slow enough that no session finishes before the test jumps the clock (a minute takes ~100 min).
FROZEN = 0.01


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = 180.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def mapped(airflow: LocalAirflow, dag_id: str, run_id: str, task_id: str = "devin_session") -> list[dict[str, Any]]:
    return [ti for ti in airflow.task_instances(dag_id, run_id) if ti["task_id"] == task_id]


def all_deferred(airflow: LocalAirflow, run_id: str, count: int) -> bool:
    states = [ti["state"] for ti in mapped(airflow, "devin_fanout", run_id)]
    return len(states) == count and all(state == "deferred" for state in states)


def claimed_triggers(airflow: LocalAirflow, postgres: Any, count: int) -> list[tuple[int, str, int | None]]:
    """The Devin trigger rows once there are ``count`` and a triggerer has claimed each (else [])."""
    rows = devin_triggers(airflow, postgres)
    return rows if len(rows) == count and all(job for _, _, job in rows) else []


def fanout_results(airflow: LocalAirflow, run_id: str, count: int) -> dict[int, dict[str, Any]]:
    return {i: airflow.xcom("devin_fanout", run_id, "devin_session", map_index=i) for i in range(count)}


def sessions_by_ti(control: Any) -> dict[str, list[str]]:
    """Idempotency tag (one per task instance) -> ids of the emulator's sessions that carry it."""
    by_tag: dict[str, list[str]] = {}
    for session in control.sessions():
        for tag in session.get("tags") or []:
            if tag.startswith("airflow-ti:"):
                by_tag.setdefault(tag, []).append(str(session["session_id"]))
    return by_tag


def files_mentioning(root: Path, needle: str) -> list[Path]:
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def test_every_component_runs_on_loopback(production: LocalAirflow, postgres_and_redis: Any) -> None:
    postgres, redis = postgres_and_redis
    assert sorted(production.components) == sorted(
        ["api-server", "scheduler", "dag-processor", "triggerer", "triggerer-2", "celery-worker-1", "celery-worker-2"]
    )
    sockets = production.listening_sockets()
    assert all(ip in ("127.0.0.1", "::1") for _, ip, _ in sockets), sockets
    for server in (postgres, redis):
        listening = [c for c in psutil.Process(server.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening), (server.name, listening)
    health = production.health()
    assert health["metadatabase"]["status"] == "healthy" and health["triggerer"]["status"] == "healthy"


def test_example_dags_succeed_on_celery_and_postgres(production: LocalAirflow, devin: Any) -> None:
    runs = {
        "devin_nightly_maintenance": production.trigger_dag("devin_nightly_maintenance", conf={"repo": "acme/prod"}),
        "devin_data_quality_fix": production.trigger_dag("devin_data_quality_fix"),
        "devin_knowledge_sync": production.trigger_dag("devin_knowledge_sync"),
    }

    outcome = {dag_id: production.wait_for_run(dag_id, run_id, timeout=300) for dag_id, run_id in runs.items()}

    assert outcome == dict.fromkeys(runs, "success")
    # One session for the nightly task, one for the data-quality fix (followed up, not re-created).
    assert len(V3.creates(devin.control)) == 2


def test_fifty_way_fanout_defers_every_instance_with_one_session_each(
    production: LocalAirflow, devin: Any, postgres_and_redis: Any, production_api_key: str
) -> None:
    postgres, _ = postgres_and_redis
    control = devin.control
    control.set_speed(FROZEN)
    repos = [f"acme/service-{i:02d}" for i in range(50)]
    started = time.monotonic()

    run_id = production.trigger_dag("devin_fanout", conf={"repos": repos})
    wait_until("all 50 mapped instances to defer", lambda: all_deferred(production, run_id, 50), timeout=400)
    deferred_after = time.monotonic() - started
    triggers = wait_until("50 claimed Devin triggers", lambda: claimed_triggers(production, postgres, 50))
    assert all(production_api_key not in kwargs for _, kwargs, _ in triggers)
    spread = {job: sum(1 for t in triggers if t[2] == job) for job in {t[2] for t in triggers}}
    control.set_speed(30)
    control.advance(600)  # every session finishes

    assert production.wait_for_run("devin_fanout", run_id, timeout=400) == "success"
    print(f"\n50-way fan-out: all deferred after {deferred_after:.0f}s, triggers per triggerer job {spread}")
    by_tag = sessions_by_ti(control)
    assert len(V3.creates(control)) == 50 and len(by_tag) == 50
    assert all(len(ids) == 1 for ids in by_tag.values())
    results = fanout_results(production, run_id, 50)
    assert len({r["session_id"] for r in results.values()}) == 50
    assert {r["session_id"] for r in results.values()} == {ids[0] for ids in by_tag.values()}
    summary = production.xcom("devin_fanout", run_id, "summarise")
    assert summary["sessions"] == 50 and len(set(summary["session_urls"])) == 50


def test_killed_triggerer_hands_its_devin_triggers_to_the_other_one(
    production: LocalAirflow, devin: Any, postgres_and_redis: Any
) -> None:
    postgres, _ = postgres_and_redis
    control = devin.control
    control.set_speed(FROZEN)
    count = 12
    run_id = production.trigger_dag("devin_fanout", conf={"repos": [f"acme/ha-{i}" for i in range(count)]})
    wait_until(f"all {count} mapped instances to defer", lambda: all_deferred(production, run_id, count), timeout=300)
    claimed = wait_until("every Devin trigger to be claimed", lambda: claimed_triggers(production, postgres, count))
    held: dict[int, int] = {}
    for _, _, job in claimed:
        held[job] = held.get(job, 0) + 1
    victim_job = max(held, key=lambda job: held[job])
    victim = production.component_of_job(victim_job)
    [survivor] = [c for c in production.components.values() if c.job_id and c.job_id != victim_job]
    victim_triggers = {trigger_id for trigger_id, _, job in claimed if job == victim_job}

    killed_at = time.monotonic()
    production.kill(victim.name, signal.SIGKILL)
    # How stale the victim's heartbeat already was when it died: the takeover waits for
    # [triggerer] triggerer_health_check_threshold after the last beat, not after the kill.
    [[beat_age]] = sql(
        postgres, f"SELECT extract(epoch FROM now() - latest_heartbeat) FROM job WHERE id = {int(victim_job)}"
    )
    wait_until(
        f"{survivor.name} to take over the triggers of {victim.name}",
        lambda: all(job == survivor.job_id for _, _, job in devin_triggers(production, postgres)),
        timeout=120,
        interval=0.2,
    )
    takeover = time.monotonic() - killed_at
    print(
        f"\ntriggerer takeover: {victim.name} (job {victim_job}, {len(victim_triggers)} of {count} Devin triggers) "
        f"SIGKILLed {float(beat_age):.1f}s after its last heartbeat; {survivor.name} (job {survivor.job_id}) "
        f"held them all {takeover:.1f}s after the kill (health check threshold 5s, heartbeat 1s)"
    )
    control.set_speed(30)
    control.advance(600)

    assert production.wait_for_run("devin_fanout", run_id, timeout=300) == "success"
    by_tag = sessions_by_ti(control)
    assert len(V3.creates(control)) == count and all(len(ids) == 1 for ids in by_tag.values())
    results = fanout_results(production, run_id, count)
    assert {r["session_id"] for r in results.values()} == {ids[0] for ids in by_tag.values()}
    assert all(ti["try_number"] == 1 for ti in mapped(production, "devin_fanout", run_id))
    production.start_component(victim.name)  # back to two triggerers for the tests after this one


def test_celery_worker_killed_between_create_and_deferral_retries_onto_the_same_session(
    production: LocalAirflow, devin: Any
) -> None:
    dag_id, task_id = "devin_nightly_maintenance", "ask_devin"
    control = devin.control
    control.set_speed(1)
    control.set_default_scenario("pull_request")
    # Hold the operator's read right after the create for 45 s: the task sits between the
    # create POST and the deferral while its worker is killed.
    control.inject_fault("GET", V3.session("*"), delay=45, times=1)

    run_id = production.trigger_dag(dag_id, conf={"repo": "acme/prod-worker-kill"})
    wait_until("the create to reach Devin", lambda: V3.creates(control))
    wait_until("the post-create read to be held", lambda: control.faults() == [], interval=0.1)
    [ti] = [t for t in production.task_instances(dag_id, run_id) if t["task_id"] == task_id]
    assert ti["state"] == "running" and ti["try_number"] == 1
    ancestors = {p.pid for p in psutil.Process(ti["pid"]).parents()}
    [worker] = [c for c in production.components.values() if c.name.startswith("celery-worker") and c.pid in ancestors]

    production.kill(worker.name, signal.SIGKILL)  # the worker, its pool, the supervisor, the task
    control.advance(120)  # Devin finishes while Airflow notices and retries on the other worker

    assert production.wait_for_run(dag_id, run_id, timeout=300) == "success"
    [ti] = [t for t in production.task_instances(dag_id, run_id) if t["task_id"] == task_id]
    assert ti["try_number"] == 2, "the killed try must have been retried"
    assert len(V3.creates(control)) == 1 and len(control.sessions()) == 1
    assert production.xcom(dag_id, run_id, task_id)["session_id"] == control.sessions()[0]["session_id"]
    attempt_2 = [p for p in production.task_log_files(dag_id, run_id, task_id) if p.name == "attempt=2.log"]
    assert attempt_2 and "Reattaching" in attempt_2[0].read_text()
    production.start_component(worker.name)


def test_api_key_is_in_no_log_and_no_table_of_the_postgres_dump(
    production: LocalAirflow, devin: Any, postgres_and_redis: Any, production_api_key: str
) -> None:
    postgres, _ = postgres_and_redis
    control = devin.control
    control.set_speed(FROZEN)
    control.set_default_scenario("pull_request")
    run_id = production.trigger_dag("devin_nightly_maintenance", conf={"repo": "acme/prod-secrets"})
    wait_until(
        "ask_devin to defer",
        lambda: any(
            t["task_id"] == "ask_devin" and t["state"] == "deferred"
            for t in production.task_instances("devin_nightly_maintenance", run_id)
        ),
    )
    wait_until("the Devin trigger row", lambda: devin_triggers(production, postgres))
    dump_while_deferred = postgres.dump()
    control.set_speed(30)
    control.advance(600)
    assert production.wait_for_run("devin_nightly_maintenance", run_id, timeout=300) == "success"
    dump_after = postgres.dump()

    for dump in (dump_while_deferred, dump_after):
        # The dump really holds what the key could leak into: XComs, triggers, task instances, rendered fields.
        for table in ("xcom", "trigger", "task_instance", "rendered_task_instance_fields"):
            assert f"COPY public.{table} " in dump
        assert production_api_key not in dump
    assert run_id in dump_after and "devin-" in dump_after
    assert all(production_api_key not in kwargs for _, kwargs, _ in devin_triggers(production, postgres))
    assert files_mentioning(production.logs_dir, production_api_key) == []
    assert files_mentioning(production.home / "components", production_api_key) == []
    # PostgreSQL's own files too: its log and the data directory itself.
    assert files_mentioning(postgres.workdir, production_api_key) == []
