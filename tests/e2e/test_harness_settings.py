"""The deployment harness's settings, checked without starting Airflow (fast; not marked e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.local_airflow import DEPLOYMENT_ENV, LocalAirflow, free_port, port_is_listening


def test_components_get_no_airflow_setting_from_the_calling_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    monkeypatch.setenv("AIRFLOW_CONN_SOMETHING_ELSE", "http://example.com")
    airflow = LocalAirflow(tmp_path / "home", tmp_path / "dags", extra_env={"AIRFLOW_CONN_DEVIN_DEFAULT": "{}"})

    env = airflow.environment()

    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env
    assert "AIRFLOW_CONN_SOMETHING_ELSE" not in env
    assert env["AIRFLOW_CONN_DEVIN_DEFAULT"] == "{}"
    assert env["AIRFLOW_HOME"] == str((tmp_path / "home").resolve())
    assert env[DEPLOYMENT_ENV] == airflow.deployment_id


def test_api_and_execution_api_share_one_loopback_port(tmp_path: Path) -> None:
    airflow = LocalAirflow(tmp_path / "home", tmp_path / "dags")
    airflow.port = free_port()

    env = airflow.environment()

    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{airflow.port}/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"


def test_dags_start_paused_only_when_the_caller_names_the_ones_to_run(tmp_path: Path) -> None:
    everything = LocalAirflow(tmp_path / "a", tmp_path / "dags")
    chosen = LocalAirflow(tmp_path / "b", tmp_path / "dags", unpause=["devin_nightly_maintenance"])

    assert everything.environment()["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert chosen.environment()["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"


def test_stop_before_start_reports_clean(tmp_path: Path) -> None:
    report = LocalAirflow(tmp_path / "home", tmp_path / "dags").stop()

    assert report.clean and report.killed == []


def test_free_port_is_not_listening() -> None:
    assert not port_is_listening(free_port())
