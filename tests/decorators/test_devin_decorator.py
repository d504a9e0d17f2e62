"""``@task.devin`` end to end: ``dag.test()`` against the emulator over loopback HTTP, on both API versions.

Runs on Airflow 3 (the main lane) and on Airflow 2.11 (the compatibility lane of scripts/test).
"""

from __future__ import annotations

import datetime
import re

import pytest
from devin_versions import ApiPaths

from airflow_provider_devin import get_provider_info
from airflow_provider_devin._compat import AIRFLOW_V3
from airflow_provider_devin.decorators.devin import devin_task
from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined]

#: Keys every result carries (the operator's full set is compared in the first run test).
RESULT_KEYS = {
    "session_id",
    "url",
    "status_enum",
    "status",
    "status_detail",
    "title",
    "structured_output",
    "pull_request_url",
    "pull_request_urls",
    "acus_consumed",
    "last_devin_message",
    "is_new_session",
}

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def dag_for(request: pytest.FixtureRequest) -> DAG:
    dag_id = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, params={"owner": "data-team"})


def creates(emulator):
    return ApiPaths(emulator.api_version).creates(emulator.control)


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int = -1):
    ti = dag_run.get_task_instance(task_id, map_index=map_index)
    if map_index < 0:
        return ti.xcom_pull(task_ids=task_id, key=key)
    return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index)


def succeeded(dag_run) -> bool:
    return str(dag_run.state).endswith("success")


# --- registration ---------------------------------------------------------------------------------


def test_provider_info_registers_the_devin_task_decorator():
    assert {"name": "devin", "class-name": "airflow_provider_devin.decorators.devin.devin_task"} in (
        get_provider_info()["task-decorators"]
    )


def test_task_devin_resolves_to_the_provider_decorator():
    assert task.devin is devin_task


def test_passing_prompt_fails_at_parse_time_naming_the_function():
    with pytest.raises(TypeError, match=r"fix_it.*returns the prompt"):

        @task.devin(prompt="Do it")
        def fix_it() -> str:
            return "x"

        with DAG("prompt_argument_probe", schedule=None, start_date=START):
            fix_it()


def test_operator_arguments_are_checked_at_parse_time():
    @task.devin(max_acu_limit=0)
    def fix_it() -> str:
        return "x"

    with pytest.raises(ValueError, match="max_acu_limit"), DAG("bad_argument_probe", schedule=None, start_date=START):
        fix_it()


# --- runs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_the_returned_prompt_starts_one_session_with_the_operators_result(
    request, run_dag, devin_emulator, api, deferrable
):
    with dag_for(request) as dag:

        @task.devin(title="README tidy-up", tags=["docs"], deferrable=deferrable, poll_interval=0.2)
        def tidy_readme() -> str:
            return "Tidy up the README [emulator:scenario=finish]"

        tidy_readme()
        DevinCreateSessionOperator(
            task_id="as_operator", prompt="Tidy up the README [emulator:scenario=finish]", poll_interval=0.2
        )

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    result = xcom(dag_run, "tidy_readme")
    assert set(result) == set(xcom(dag_run, "as_operator")) >= RESULT_KEYS
    assert result["status_enum"] == "finished"
    # Also on Airflow 2.11, whose dag.test() resumes with the event alone and which has no task state
    # store: the XCom pushed before the deferral carries it.
    assert result["is_new_session"] is True
    assert result["title"] == "README tidy-up"
    assert xcom(dag_run, "tidy_readme", "session_id") == result["session_id"]
    assert xcom(dag_run, "tidy_readme", "session_url") == result["url"]
    create, _ = sorted(creates(devin_emulator), key=lambda entry: "tidy_readme" not in str(entry["body"]["tags"]))
    assert create["body"]["prompt"] == "Tidy up the README [emulator:scenario=finish]"
    assert create["body"]["title"] == "README tidy-up"
    tags = create["body"]["tags"]
    assert tags[0] == "docs"
    assert re.fullmatch(r"airflow-ti:[0-9a-f]{16}", tags[1])
    assert tags[2] == f"airflow:{dag.dag_id}.tidy_readme"
    if api.idempotent_create:
        assert create["body"]["idempotent"] is True
    else:
        assert result["acus_consumed"] > 0


def test_the_prompt_is_rendered_with_the_calls_arguments_and_the_context(request, run_dag, devin_emulator):
    with dag_for(request) as dag:

        @task.devin(poll_interval=0.2, deferrable=False)
        def fix_ticket(repo: str, ticket: int, ti=None) -> str:
            assert ti is not None  # context keys the function names are passed in, as with @task
            return (
                "In {{ repo }} fix ticket #{{ ticket }} from task {{ ti.task_id }}, run {{ run_id }}, "
                "for {{ params.owner }} [emulator:scenario=finish]"
            )

        fix_ticket("acme/api", ticket=42)

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    (create,) = creates(devin_emulator)
    assert create["body"]["prompt"] == (
        f"In acme/api fix ticket #42 from task fix_ticket, run {dag_run.run_id}, "
        "for data-team [emulator:scenario=finish]"
    )


def test_arguments_from_upstream_tasks_reach_the_prompt(request, run_dag, devin_emulator):
    with dag_for(request) as dag:

        @task
        def failing_check() -> dict:
            return {"name": "orders_not_null", "rows": 17}

        @task.devin(poll_interval=0.2)
        def investigate(check: dict) -> str:
            return f"Check {check['name']} failed on {{{{ check.rows }}}} rows. [emulator:scenario=finish]"

        investigate(failing_check())

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    (create,) = creates(devin_emulator)
    assert create["body"]["prompt"] == "Check orders_not_null failed on 17 rows. [emulator:scenario=finish]"


def test_mapped_calls_create_one_session_per_map_index(request, run_dag, devin_emulator):
    repos = ["acme/api", "acme/web", "acme/etl"]
    with dag_for(request) as dag:

        @task.devin(deferrable=True, poll_interval=0.2, tags=["fanout"])
        def bump_deps(repo: str, tool: str) -> str:
            return "In {{ repo }}, bump dependencies with {{ tool }}. [emulator:scenario=finish]"

        bump_deps.partial(tool="uv").expand(repo=repos)

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    bodies = [entry["body"] for entry in creates(devin_emulator)]
    assert sorted(body["prompt"] for body in bodies) == sorted(
        f"In {repo}, bump dependencies with uv. [emulator:scenario=finish]" for repo in repos
    )
    ti_tags = {tag for body in bodies for tag in body["tags"] if tag.startswith("airflow-ti:")}
    assert len(ti_tags) == len(repos)  # one idempotency key per map index
    results = [xcom(dag_run, "bump_deps", map_index=index) for index in range(len(repos))]
    assert len({result["session_id"] for result in results}) == len(repos)
    assert all(result["status_enum"] == "finished" for result in results)


def test_a_retry_reattaches_so_each_task_instance_creates_one_session(
    request, run_dag, devin_emulator, monkeypatch, capfd
):
    original = DevinHook.create_session
    calls: list[str] = []

    def create_then_die(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        calls.append(response["session_id"])
        raise RuntimeError("worker lost right after the POST")

    monkeypatch.setattr(DevinHook, "create_session", create_then_die)
    ran: list[int] = []
    with dag_for(request) as dag:

        @task.devin(retries=1, retry_delay=datetime.timedelta(0), deferrable=False, poll_interval=0.2)
        def flaky_worker() -> str:
            ran.append(1)
            return "Work [emulator:scenario=finish]"

        flaky_worker()

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    assert len(ran) == 2  # the function runs on every try; the session is still the first one
    assert len(creates(devin_emulator)) == 1
    result = xcom(dag_run, "flaky_worker")
    assert result["session_id"] == calls[0]
    assert result["is_new_session"] is False
    assert "found by its tag" in capfd.readouterr().out


@pytest.mark.parametrize(
    ("returned", "described"),
    [
        (None, "returned NoneType None"),
        ("", "returned an empty string"),
        ("  \n", "returned an empty string"),
        (42, "returned int 42"),
        (["a", "list"], "returned list ['a', 'list']"),
    ],
    ids=["none", "empty", "blank", "int", "list"],
)
def test_a_non_string_or_empty_return_fails_before_any_request(
    request, run_dag, devin_emulator, failures, returned, described
):
    with dag_for(request) as dag:

        @task.devin(on_failure_callback=failures)
        def no_prompt():
            return returned

        no_prompt()

    dag_run = run_dag(dag)

    assert str(dag_run.state).endswith("failed")
    (message,) = failures.messages
    assert "@task.devin task 'no_prompt'" in message
    assert "no_prompt() must return the prompt for Devin as a non-empty string" in message
    assert described in message
    assert devin_emulator.control.journal() == []


def test_a_failure_in_a_mapped_instance_names_its_map_index(request, run_dag, devin_emulator, failures):
    with dag_for(request) as dag:

        @task.devin(on_failure_callback=failures, poll_interval=0.2)
        def maybe(text: str) -> str:
            return text

        maybe.expand(text=["Work [emulator:scenario=finish]", ""])

    dag_run = run_dag(dag)

    assert str(dag_run.state).endswith("failed")
    (message,) = failures.messages
    assert "@task.devin task 'maybe' (map index 1)" in message
    assert len(creates(devin_emulator)) == 1


@pytest.mark.skipif(not AIRFLOW_V3, reason="Airflow 2.11 writes rendered fields before execute() only")
def test_the_rendered_fields_view_shows_the_prompt_the_function_returned(request, run_dag, devin_emulator, capfd):
    # Not for a deferred task: Airflow re-renders the fields (with the sentinel) when it resumes.
    deferrable = False
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with dag_for(request) as dag:

        @task.devin(deferrable=deferrable, poll_interval=0.2)
        def tidy(repo: str) -> str:
            return "Tidy {{ repo }} [emulator:scenario=finish]"

        tidy("acme/api")

    dag_run = run_dag(dag)

    assert succeeded(dag_run)
    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag.dag_id, task_id="tidy", run_id=dag_run.run_id)
            .one()
        )
    assert row.rendered_fields["prompt"] == "Tidy acme/api [emulator:scenario=finish]"
    assert "Prompt for Devin, from tidy():\nTidy acme/api [emulator:scenario=finish]" in capfd.readouterr().out
