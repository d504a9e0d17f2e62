"""200 mapped deferred Devin tasks in one triggerer (issue 11 item 7), real Airflow against the emulator.

The ``devin_fanout`` example maps ``DevinCreateSessionOperator`` over 200 repositories; every task
creates its session on a worker and defers. The one triggerer then serves all 200 waits through one
coalesced poller: the emulator's journal shows one ``GET …/sessions?session_ids=…`` of 200 sessions
per poll interval and no per-session reads. When Devin finishes them all, every mapped task ends
with its own session's result.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import pytest

from tools.local_airflow import LocalAirflow

from .test_local_deployment import wait_until

UNPAUSE = ["devin_fanout"]
PARALLELISM = 16
DAG_ID, TASK_ID = "devin_fanout", "devin_session"
FANOUT = 200
POLL_INTERVAL = 1.0  # DEVIN_EXAMPLE_POLL_INTERVAL in the deployment's environment


@pytest.fixture(scope="module")
def e2e_api_version() -> str:
    """v3 only: coalesced polling is a v3 feature (the v1 list cannot filter by session id)."""
    return "v3"


def mapped_states(airflow: LocalAirflow, run_id: str) -> Counter[str]:
    return Counter(str(t["state"]) for t in airflow.task_instances(DAG_ID, run_id) if t["task_id"] == TASK_ID)


def test_200_mapped_deferred_tasks_share_one_list_request_per_interval(
    deployment: LocalAirflow, emulator: Any, e2e_paths: Any
) -> None:
    airflow, control = deployment, emulator.control
    control.set_speed(0.01)  # every session keeps working until the test lets Devin finish
    airflow.wait_for_dag(DAG_ID)  # parsed, and unpaused
    repos = [f"acme/repo-{index:03d}" for index in range(FANOUT)]
    run_id = airflow.trigger_dag(DAG_ID, conf={"repos": repos})
    wait_until(
        "all 200 mapped tasks to defer",
        lambda: mapped_states(airflow, run_id) == Counter({"deferred": FANOUT}),
        timeout=400,  # ~1 task a second on a busy 2-core machine: creates run 16 at a time
        interval=2,
    )
    sessions = {s["session_id"] for s in control.sessions()}
    assert len(sessions) == FANOUT

    time.sleep(3 * POLL_INTERVAL)  # the last triggers to start have joined the poller
    window_start = time.monotonic()
    time.sleep(8 * POLL_INTERVAL)
    window_end = time.monotonic()
    in_window = [e for e in control.journal(method="GET") if window_start <= e["monotonic"] < window_end]
    lists = [e for e in in_window if e["path"] == e2e_paths.sessions and "session_ids" in e["query"]]
    per_interval = Counter(int((e["monotonic"] - window_start) // POLL_INTERVAL) for e in lists)
    sys.stderr.write(
        f"\n200 deferred waits, {POLL_INTERVAL:g} s interval: list requests per interval "
        f"{sorted(per_interval.items())}, "
        f"session ids per request {sorted(Counter(len(e['query']['session_ids']) for e in lists).items())}, "
        f"other GETs in the window: {len(in_window) - len(lists)}\n"
    )
    # One request per interval carried all 200 sessions; nobody read a session on its own.
    full = [e for e in lists if set(e["query"]["session_ids"]) == sessions]
    assert 6 <= len(full) <= 10, sorted(per_interval.items())
    assert len(lists) <= len(full) + 2  # at most a stray join round
    assert [e["path"] for e in in_window if e not in lists] == []
    assert all("(async)" in (e.get("user_agent") or "") for e in lists)

    control.advance(120)  # Devin finishes every session
    assert airflow.wait_for_run(DAG_ID, run_id, timeout=400, interval=2) == "success"
    results = [airflow.xcom(DAG_ID, run_id, TASK_ID, map_index=index) for index in range(FANOUT)]
    assert all(result["status_enum"] == "finished" for result in results)
    assert {result["session_id"] for result in results} == sessions  # each task its own session
    prompts = {s["session_id"]: s["request"]["prompt"] for s in control.sessions()}
    # Map index i asked about repos[i]: its result is the session created from that prompt.
    assert all(f"{repos[index]}:" in prompts[result["session_id"]] for index, result in enumerate(results))
