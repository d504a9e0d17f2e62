"""The deployment harness's settings, checked without starting Airflow (fast; not marked e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.local_airflow import DEPLOYMENT_ENV, DeploymentError, LocalAirflow, Topology, free_port, port_is_listening


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


def test_schedules_start_no_run_unless_the_caller_asks(tmp_path: Path) -> None:
    # An unpaused daily DAG would otherwise start a run of its own when the deployment comes up
    # within 2.4 h after its cron time (seen in CI at 03:40 UTC: one session more than triggered).
    default = LocalAirflow(tmp_path / "a", tmp_path / "dags")
    scheduled = LocalAirflow(tmp_path / "b", tmp_path / "dags", scheduled_runs=True)

    assert default.environment()["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert scheduled.environment()["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "True"


def test_stop_before_start_reports_clean(tmp_path: Path) -> None:
    report = LocalAirflow(tmp_path / "home", tmp_path / "dags").stop()

    assert report.clean and report.killed == []


def test_free_port_is_not_listening() -> None:
    assert not port_is_listening(free_port())


def test_celery_topology_names_every_component_and_points_celery_at_postgres_and_redis(tmp_path: Path) -> None:
    db = "postgresql+psycopg2://airflow@127.0.0.1:5999/airflow"
    topology = Topology.celery(db, "redis://127.0.0.1:6999/0", triggerers=2, celery_workers=2)
    airflow = LocalAirflow(tmp_path / "home", tmp_path / "dags", topology=topology)

    env = airflow.environment()

    assert topology.component_names() == [
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "triggerer-2",
        "celery-worker-1",
        "celery-worker-2",
    ]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == db
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6999/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{db}"


def test_each_celery_worker_gets_its_own_node_name_pid_file_and_no_log_server(tmp_path: Path) -> None:
    topology = Topology.celery("postgresql+psycopg2://a@127.0.0.1:1/a", "redis://127.0.0.1:2/0")

    first, second = topology.command("celery-worker-1", tmp_path), topology.command("celery-worker-2", tmp_path)

    assert first[first.index("--celery-hostname") + 1].startswith("celery-worker-1@")
    assert second[second.index("--celery-hostname") + 1].startswith("celery-worker-2@")
    assert first[first.index("--pid") + 1] != second[second.index("--pid") + 1]
    assert "--skip-serve-logs" in first and "--skip-serve-logs" in topology.command("triggerer-2", tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"executor": "CeleryExecutor"}, "needs broker_url"),
        ({"celery_workers": 2}, "needs executor='CeleryExecutor'"),
        ({"triggerers": 0}, "at least 1"),
        ({"executor": "KubernetesExecutor"}, "LocalExecutor or CeleryExecutor"),
    ],
)
def test_a_topology_that_cannot_run_is_refused_with_the_reason(kwargs: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Topology(**kwargs)  # type: ignore[arg-type]


def test_default_topology_is_the_four_process_local_deployment(tmp_path: Path) -> None:
    airflow = LocalAirflow(tmp_path / "home", tmp_path / "dags")

    assert airflow.topology.component_names() == ["api-server", "scheduler", "dag-processor", "triggerer"]
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in airflow.environment()
    with pytest.raises(DeploymentError, match="start"):
        airflow.start_component("triggerer")
