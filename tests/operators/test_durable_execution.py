"""DevinCreateSessionOperator on Airflow 3.3's durable-execution contract (``ResumableJobMixin``):
the resume decision and its ``resumable_job.*`` metrics come from Airflow, the session is still found
by its tag when the worker died between the create and the task state store write (the window the
mixin leaves open), and there is one session per task instance throughout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_create_session import creates, make_dag, result_of

from airflow_provider_devin._compat import HAS_RESUMABLE_JOBS
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.idempotency import TASK_STATE_KEY
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

needs_mixin = pytest.mark.skipif(not HAS_RESUMABLE_JOBS, reason="ResumableJobMixin is Airflow 3.3+")


@pytest.fixture
def resume_metrics(monkeypatch) -> list[str]:
    """The ``resumable_job.*`` counters Airflow's mixin increments (recorded, then sent as usual)."""
    if not HAS_RESUMABLE_JOBS:
        return []
    from airflow.sdk._shared.observability.metrics import stats

    seen: list[str] = []
    real_incr = stats.incr

    def incr(stat: str, *args: Any, **kwargs: Any) -> None:
        if stat.startswith("resumable_job."):
            assert kwargs["tags"]["operator"] == "DevinCreateSessionOperator"
            seen.append(stat.removeprefix("resumable_job."))
        real_incr(stat, *args, **kwargs)

    monkeypatch.setattr(stats, "incr", incr)
    return seen


def die_once(monkeypatch, method: str, why: str, meanwhile: Callable[[Any], Any] | None = None) -> list[Any]:
    """Make ``DevinCreateSessionOperator.<method>`` raise on its first call (a worker lost there),
    after ``meanwhile(first argument)`` changed the world; returns each call's first argument."""
    original = getattr(DevinCreateSessionOperator, method)
    calls: list[Any] = []

    def dying(self, first, *args, **kwargs):
        calls.append(first)
        if len(calls) == 1:
            if meanwhile is not None:
                meanwhile(first)
            raise RuntimeError(why)
        return original(self, first, *args, **kwargs)

    monkeypatch.setattr(DevinCreateSessionOperator, method, dying)
    return calls


def lose_the_worker_while_waiting(monkeypatch, emulator: Any, status_enum: str) -> list[Any]:
    """The first wait dies after Devin moved the session to ``status_enum`` (pinned: no scheduled
    change follows, so the retry sees it however late it runs); returns the records waited on."""

    def move(record: dict[str, Any]) -> None:
        emulator.control.set_status(record["session_id"], status_enum)

    why = f"worker lost while waiting; meanwhile the session became {status_enum}"
    return die_once(monkeypatch, "poll_until_complete", why, meanwhile=move)


def run_with_one_retry(request, run_dag, *, deferrable: bool = True, **kwargs: Any) -> Any:
    """One task instance with one retry, run to success; its DagRun."""
    dag = make_dag(request, retries=1, prompt="Work [emulator:scenario=finish]", deferrable=deferrable, **kwargs)
    dr = run_dag(dag)
    assert dr.state == "success"
    return dr


@needs_mixin
def test_the_operator_is_durable_on_airflows_own_contract() -> None:
    from airflow.sdk import ResumableJobMixin

    operator = DevinCreateSessionOperator(task_id="t", prompt="p")
    assert isinstance(operator, ResumableJobMixin)
    assert operator.durable is True
    assert operator.external_id_key == "devin_session" == TASK_STATE_KEY  # stable: retries in flight read it
    assert DevinCreateSessionOperator(task_id="u", prompt="p", durable=False).durable is False


@pytest.mark.skipif(HAS_RESUMABLE_JOBS, reason="the stand-in is for Airflow before 3.3")
def test_before_airflow_3_3_durable_is_accepted_and_off() -> None:
    assert DevinCreateSessionOperator(task_id="t", prompt="p", durable=True).durable is False


@needs_mixin
@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_a_first_run_is_a_fresh_submit_and_still_defers(
    request, run_dag, devin_emulator, resume_metrics, deferrable
) -> None:
    dag = make_dag(request, prompt="Work [emulator:scenario=finish]", deferrable=deferrable)
    dr = run_dag(dag)
    assert dr.state == "success"
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["status_enum"] == "finished"
    assert resume_metrics == ["fresh_submit"]


@needs_mixin
def test_a_retry_reconnects_to_the_recorded_session(request, run_dag, devin_emulator, resume_metrics, monkeypatch):
    lose_the_worker_while_waiting(monkeypatch, devin_emulator, "blocked")
    dr = run_with_one_retry(request, run_dag, deferrable=False)
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["is_new_session"] is False  # reattached: an earlier try created it
    assert result_of(dr)["status_enum"] == "blocked"  # on_blocked="succeed" ends the reconnected wait
    assert resume_metrics == ["fresh_submit", "reconnect_attempt", "reconnect_success"]


@needs_mixin
def test_dying_between_the_create_and_the_store_write_is_closed_by_the_tag_lookup(
    request, run_dag, devin_emulator, resume_metrics, monkeypatch, capfd
):
    original = DevinHook.create_session
    created = []

    def create_then_die(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        created.append(response["session_id"])
        raise RuntimeError("worker lost right after the POST, before anything was stored")

    monkeypatch.setattr(DevinHook, "create_session", create_then_die)
    dr = run_with_one_retry(request, run_dag)
    # Airflow's store had nothing, so the mixin decided "fresh submit" both times; the tag in Devin
    # found the first try's session, so nothing was created twice.
    assert resume_metrics == ["fresh_submit", "fresh_submit"]
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["session_id"] == created[0]
    assert "found by its tag" in capfd.readouterr().out


@needs_mixin
def test_a_session_that_finished_before_the_retry_returns_its_result_at_once(
    request, run_dag, devin_emulator, resume_metrics, monkeypatch
):
    lose_the_worker_while_waiting(monkeypatch, devin_emulator, "finished")
    dr = run_with_one_retry(request, run_dag)
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["status_enum"] == "finished"
    assert resume_metrics == ["fresh_submit", "reconnect_attempt", "already_succeeded"]


@needs_mixin
def test_a_recorded_session_that_died_is_replaced_by_a_new_generation(
    request, run_dag, devin_emulator, resume_metrics, monkeypatch
):
    records = lose_the_worker_while_waiting(monkeypatch, devin_emulator, "expired")
    dr = run_with_one_retry(request, run_dag)
    _, second = creates(devin_emulator)
    assert "airflow-ti-generation:2" in second["body"]["tags"]
    assert result_of(dr)["session_id"] == records[1]["session_id"] != records[0]["session_id"]
    assert resume_metrics == ["fresh_submit", "reconnect_attempt", "terminal_resubmit"]


@needs_mixin
def test_durable_false_emits_no_resume_metrics_and_still_reattaches(
    request, run_dag, devin_emulator, resume_metrics, monkeypatch
):
    lose_the_worker_while_waiting(monkeypatch, devin_emulator, "blocked")
    dr = run_with_one_retry(request, run_dag, deferrable=False, durable=False)
    assert len(creates(devin_emulator)) == 1
    assert result_of(dr)["is_new_session"] is False  # the provider's own lookup found it
    assert resume_metrics == []
