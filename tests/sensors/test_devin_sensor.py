"""DevinSessionSensor in poke, reschedule and deferrable mode, against the emulator."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from airflow.sdk import DAG

from airflow_provider_devin._compat import AirflowException
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.sensors.devin import DevinSessionSensor

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
MODES = [
    pytest.param({"mode": "poke"}, id="poke"),
    pytest.param({"mode": "reschedule"}, id="reschedule"),
    pytest.param({"deferrable": True}, id="deferrable"),
]


def new_session(scenario: str) -> str:
    return DevinHook().create_session(f"Work [emulator:scenario={scenario}]")["session_id"]


def make_dag(request, failures=None, **kwargs):
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]
    extra = {"on_failure_callback": failures.append_exc} if failures is not None else {}
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        DevinSessionSensor(task_id="wait", poke_interval=0.2, **extra, **kwargs)
    return dag


class Failures(list):
    def append_exc(self, context) -> None:
        self.append(str(context.get("exception")))


def ti_of(dr):
    return dr.get_task_instance("wait")


@pytest.mark.parametrize("mode", MODES)
def test_finished_session_returns_its_summary(request, run_dag, devin_emulator, mode):
    session_id = new_session("pull_request")
    dag = make_dag(request, session_id="{{ params.sid }}", params={"sid": session_id}, **mode)
    dr = run_dag(dag)
    assert dr.state == "success"
    summary = ti_of(dr).xcom_pull(task_ids="wait")
    assert summary["session_id"] == session_id
    assert summary["status_enum"] == "finished"
    assert summary["pull_request_url"]
    assert summary["url"] == DevinHook().session_url(session_id)
    assert ti_of(dr).xcom_pull(task_ids="wait", key="session_url") == summary["url"]


@pytest.mark.parametrize("mode", MODES)
def test_expired_session_fails(request, run_dag, devin_emulator, mode):
    failures = Failures()
    dag = make_dag(request, failures, session_id=new_session("expire"), **mode)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "ended without finishing" in failures[-1]


@pytest.mark.parametrize(("on_blocked", "state"), [("succeed", "success"), ("fail", "failed")])
def test_blocked_follows_on_blocked(request, run_dag, devin_emulator, on_blocked, state):
    dag = make_dag(request, session_id=new_session("park_blocked"), on_blocked=on_blocked, deferrable=True)
    assert run_dag(dag).state == state


@pytest.mark.parametrize("mode", MODES)
def test_suspended_session_fails_after_the_stall_window(request, run_dag, devin_emulator, mode):
    failures = Failures()
    dag = make_dag(request, failures, session_id=new_session("suspend"), suspend_stall_timeout=1.5, **mode)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "suspend_stall_timeout" in failures[-1]


class _TI:
    def xcom_push(self, key, value):
        pass


class _TaskStateStore(dict):
    def set(self, key, value, *, retention=None):
        self[key] = value


def suspended_session(devin_emulator) -> str:
    """A session suspended with no reason given (v1 ``suspend_requested``), from its first read."""
    session_id = new_session("working_forever")
    devin_emulator.control.set_status(session_id, status="suspended", status_detail=None)
    return session_id


def test_a_reschedule_poke_without_a_task_state_store_waits_out_the_stall_window_itself(devin_emulator):
    # Before Airflow 3.3 nothing carries the stall clock to the next reschedule: the poke that sees
    # the suspension measures the whole window, or the sensor would reschedule forever.
    session_id = suspended_session(devin_emulator)
    sensor = DevinSessionSensor(
        task_id="wait", session_id=session_id, mode="reschedule", poke_interval=0.2, suspend_stall_timeout=1
    )
    started = time.monotonic()
    with pytest.raises(AirflowException, match="suspend_stall_timeout"):
        sensor.poke({"ti": _TI()})
    assert time.monotonic() - started >= 1


def test_a_reschedule_poke_with_a_task_state_store_hands_the_stall_clock_to_the_next_poke(devin_emulator):
    store = _TaskStateStore()
    session_id = suspended_session(devin_emulator)
    sensor = DevinSessionSensor(
        task_id="wait", session_id=session_id, mode="reschedule", poke_interval=0.2, suspend_stall_timeout=60
    )

    assert sensor.poke({"ti": _TI(), "task_state_store": store}) is False

    assert isinstance(store["devin_suspended_since"], float)


@pytest.mark.parametrize("mode", [MODES[0], MODES[2]])
def test_timeout_fails_the_sensor_and_leaves_the_session_alone(request, run_dag, devin_emulator, mode):
    failures = Failures()
    dag = make_dag(request, failures, session_id=new_session("working_forever"), timeout=1.5, **mode)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "timed out" in failures[-1] or "deadline" in failures[-1]
    assert not devin_emulator.control.journal(method="DELETE")


def test_deferrable_sensor_passes_its_timeout_to_defer(devin_emulator, api, monkeypatch):
    session_id = new_session("working_forever")
    sensor = DevinSessionSensor(task_id="wait", session_id=session_id, timeout=123, deferrable=True)
    captured = {}

    def fake_defer(**kwargs):
        captured.update(kwargs)
        raise RuntimeError("deferred")

    monkeypatch.setattr(sensor, "defer", fake_defer)

    class TI:
        def xcom_push(self, key, value):
            pass

    with pytest.raises(RuntimeError, match="deferred"):
        sensor.execute({"ti": TI()})
    assert captured["timeout"] == datetime.timedelta(seconds=123)
    _, kwargs = captured["trigger"].serialize()
    assert kwargs["session_id"] == session_id
    assert kwargs["terminate_on_kill"] is False
    # What the poke saw goes along, so the trigger's first batch poll can skip a messages read.
    if api.version == "v3":
        updated_at, status, _detail, read_at = kwargs["handover"]
        assert isinstance(updated_at, int) and status in ("new", "claimed", "running") and read_at > updated_at - 5
    else:
        assert kwargs["handover"] is None


def test_transient_poll_errors_do_not_fail_a_poking_sensor(request, run_dag, devin_emulator, api, monkeypatch):
    import json

    conn = {
        "conn_type": "devin",
        "host": devin_emulator.base_url,
        "password": devin_emulator.api_key,
        "extra": {"max_retries": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_NORETRY", json.dumps(conn))
    session_id = new_session("finish")
    devin_emulator.control.inject_fault("GET", api.session(session_id), status=503, times=3)
    dag = make_dag(request, session_id=session_id, devin_conn_id="devin_noretry", mode="poke")
    assert run_dag(dag).state == "success"


def test_invalid_on_blocked_is_rejected_at_parse_time():
    with pytest.raises(ValueError, match="on_blocked"):
        DevinSessionSensor(task_id="wait", session_id="devin-1", on_blocked="later")


@pytest.mark.parametrize("mode", [MODES[0], MODES[2]])
def test_acu_budget_terminates_the_watched_session_and_fails_without_retries(
    request, run_dag, devin_emulator, api, mode, devin_api_version
):
    if devin_api_version != "v3":
        pytest.skip("v1 reports no ACUs")
    failures = Failures()
    session_id = new_session("acu_hungry")
    dag = make_dag(request, failures, session_id=session_id, acu_budget=3, retries=1, **mode)
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert len(failures) == 1 and "acu_budget=3" in failures[0]
    assert api.deletes(devin_emulator.control) == [api.session(session_id)]


def test_summary_carries_the_normalised_fields(request, run_dag, devin_emulator, devin_api_version):
    session_id = new_session("pull_request")
    dr = run_dag(make_dag(request, session_id=session_id))
    summary = ti_of(dr).xcom_pull(task_ids="wait")
    assert summary["pull_request_urls"] == [summary["pull_request_url"]]
    assert summary["last_devin_message"]
    if devin_api_version == "v3":
        assert summary["status"] == "running" and summary["status_detail"] == "finished"
        assert summary["acus_consumed"] > 0
    else:
        assert summary["status_detail"] is None and summary["acus_consumed"] is None


def test_a_deferred_sensor_gives_up_before_execution_timeout_naming_it(request, run_dag, devin_emulator):
    failures = Failures()
    dag = make_dag(
        request,
        failures,
        session_id=new_session("working_forever"),
        timeout=600,
        execution_timeout=datetime.timedelta(seconds=4),
        deferrable=True,
    )
    dr = run_dag(dag)
    assert dr.state == "failed"
    assert "execution_timeout (4s)" in failures[-1]
    assert not devin_emulator.control.journal(method="DELETE")
