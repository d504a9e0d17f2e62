"""Asset events carry the Devin result: a task with ``outlets`` succeeds under ``dag.test()``, and the asset
event in the metadata DB holds the session id, URL, PR URLs, ACUs and status.

Written for both Airflow majors (``Asset`` on 3, ``Dataset`` on 2.11), so the 2.11 lane can run it too.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from dag_testing import serialize_dag

from airflow_provider_devin.assets import ASSET_EXTRA_KEYS, asset_extra, record_asset_events
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator, DevinSendMessageOperator

try:
    from airflow.sdk import DAG, Asset, AssetAlias, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
    from airflow.datasets import DatasetAlias as AssetAlias  # type: ignore[no-redef]
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined]

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def dag_id_for(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:200]


def asset_events(dag_id: str) -> list[dict[str, Any]]:
    """The asset (dataset) events a DAG's runs emitted, read from the metadata DB, oldest first."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        asset_key = Event.asset_id
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model  # type: ignore[no-redef]

        asset_key = Event.dataset_id
    with create_session() as session:
        rows = session.query(Event, Model.uri).join(Model, Model.id == asset_key).filter(Event.source_dag_id == dag_id)
        return [
            {"uri": uri, "task_id": event.source_task_id, "extra": dict(event.extra or {})}
            for event, uri in rows.order_by(Event.id)
        ]


def queued_runs(target_dag_id: str) -> int:
    """How many asset-triggered runs of ``target_dag_id`` the scheduler has been asked to start."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetDagRunQueue as Queue
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetDagRunQueue as Queue  # type: ignore[no-redef]
    with create_session() as session:
        return session.query(Queue).filter(Queue.target_dag_id == target_dag_id).count()


def run(dag: Any) -> Any:
    """``dag.test()`` after writing the DAG (and so its assets) to the DB; on 2.11 the DAG model too."""
    serialize_dag(dag)
    if _airflow2():
        dag.sync_to_db()  # Airflow 2.11: registers the datasets the outlets name
    return dag.test()


def _airflow2() -> bool:
    from airflow_provider_devin._compat import AIRFLOW_V3

    return not AIRFLOW_V3


def result_of(dag_run: Any, task_id: str) -> dict[str, Any]:
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_the_asset_event_carries_the_session_its_pull_request_and_acus(
    request, airflow_db, devin_emulator, devin_api_version, deferrable
):
    dag_id = dag_id_for(request)
    fixes = Asset(f"devin://acme/api/fixes/{dag_id}")
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinCreateSessionOperator(
            task_id="fix",
            prompt="Fix the flaky test and open a PR [emulator:scenario=pull_request]",
            outlets=[fixes],
            deferrable=deferrable,
            poll_interval=0.2,
        )
    with DAG(f"{dag_id}_downstream", schedule=[fixes], start_date=START, catchup=False) as downstream:

        @task
        def review() -> None:
            pass

        review()
    serialize_dag(downstream)
    if _airflow2():
        downstream.sync_to_db()

    dag_run = run(dag)

    assert str(dag_run.state).endswith("success")
    result = result_of(dag_run, "fix")
    (event,) = asset_events(dag_id)
    assert event["uri"] == fixes.uri
    assert event["task_id"] == "fix"
    assert set(event["extra"]) == set(ASSET_EXTRA_KEYS)
    assert event["extra"]["session_id"] == result["session_id"]
    assert event["extra"]["url"] == result["url"]
    assert event["extra"]["status"] == "finished"
    (pr_url,) = event["extra"]["pull_request_urls"]
    assert pr_url == result["pull_request_url"] and pr_url.startswith("http")
    if devin_api_version == "v3":
        assert event["extra"]["acus_consumed"] == result["acus_consumed"] > 0
    else:  # v1 reports no ACUs
        assert event["extra"]["acus_consumed"] is None
    # The downstream DAG scheduled on the asset is queued to run on this result.
    assert queued_runs(downstream.dag_id) == 1


def test_the_decorator_emits_the_same_event_for_each_asset_and_skips_aliases(
    request, airflow_db, devin_emulator, devin_api_version
):
    dag_id = dag_id_for(request)
    first = Asset(f"devin://acme/web/first/{dag_id}")
    second = Asset(f"devin://acme/web/second/{dag_id}")
    alias = AssetAlias(f"devin-alias-{dag_id}")
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:

        def tag_the_team(context: Any) -> None:  # the user's own key survives the provider's
            context["outlet_events"][first].extra["team"] = "data"

        @task.devin(outlets=[first, alias, second], pre_execute=tag_the_team, deferrable=True, poll_interval=0.2)
        def tidy(repo: str) -> str:
            return "Tidy {{ repo }} [emulator:scenario=finish]"

        tidy("acme/web")

    dag_run = run(dag)

    assert str(dag_run.state).endswith("success")
    result = result_of(dag_run, "tidy")
    events = asset_events(dag_id)
    by_uri = {e["uri"]: e["extra"] for e in events}
    assert sorted(by_uri) == sorted([first.uri, second.uri])  # the alias got nothing
    assert by_uri[second.uri] == asset_extra(result)
    assert by_uri[first.uri] == {**asset_extra(result), "team": "data"}
    assert by_uri[second.uri]["pull_request_urls"] == []
    assert by_uri[second.uri]["session_id"].startswith("devin-")


def test_a_send_message_task_with_an_outlet_reports_the_session_it_messaged(
    request, airflow_db, devin_emulator, devin_api_version
):
    from airflow_provider_devin.hooks.devin import DevinHook

    session_id = DevinHook().create_session("Start [emulator:scenario=finish]")["session_id"]
    dag_id = dag_id_for(request)
    answered = Asset(f"devin://followups/{dag_id}")
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinSendMessageOperator(
            task_id="follow_up",
            session_id=session_id,
            message="Please add a changelog entry.",
            wait_for_completion=True,  # the result (and so the event's extra) is made by the wait
            poll_interval=0.2,
            outlets=[answered],
        )

    dag_run = run(dag)

    assert str(dag_run.state).endswith("success")
    (event,) = asset_events(dag_id)
    assert event["extra"]["session_id"] == session_id
    assert event["extra"]["status"] == "finished"


def test_a_failed_task_emits_no_event(request, airflow_db, devin_emulator):
    dag_id = dag_id_for(request)
    fixes = Asset(f"devin://acme/api/failed/{dag_id}")
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinCreateSessionOperator(
            task_id="fix",
            prompt="Work [emulator:scenario=park_blocked]",
            on_blocked="fail",
            outlets=[fixes],
            poll_interval=0.2,
        )

    dag_run = run(dag)

    assert str(dag_run.state).endswith("failed")
    assert asset_events(dag_id) == []


def _outlet_event_accessors() -> Any:
    """The ``outlet_events`` mapping a task's context holds, from the running Airflow itself.

    Airflow keys it by the asset's unique key, never by the asset: ``Asset.__hash__`` raises
    ``TypeError`` on Airflow 3.1.8 (it hashes a dict), so a plain dict keyed by assets cannot
    stand in for it.
    """
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2.11
        from airflow.utils.context import OutletEventAccessors  # type: ignore[no-redef]
    return OutletEventAccessors()


def test_keys_already_in_the_extra_are_kept_and_ours_win():
    events = _outlet_event_accessors()
    asset = Asset("devin://unit/extra-merge")
    events[asset].extra = {"team": "data", "status": "from-the-user"}
    result = {"session_id": "devin-1", "url": "u", "pull_request_urls": ["p"], "acus_consumed": 2.0}
    result["status_enum"] = "finished"

    assert record_asset_events({"outlet_events": events}, [asset, "not an asset"], result) == 1  # type: ignore[arg-type]

    assert len(events) == 1
    assert events[Asset("devin://unit/extra-merge")].extra == {
        "team": "data",
        "session_id": "devin-1",
        "url": "u",
        "pull_request_urls": ["p"],
        "acus_consumed": 2.0,
        "status": "finished",
    }


def test_no_outlet_events_accessor_means_nothing_to_do():
    assert record_asset_events({}, [Asset("devin://unit/none")], {"session_id": "devin-1"}) == 0  # type: ignore[arg-type]


def test_a_message_sent_without_waiting_still_records_its_asset_event(request, airflow_db, devin_emulator):
    from airflow_provider_devin.hooks.devin import DevinHook

    session_id = DevinHook().create_session("Start [emulator:scenario=finish]")["session_id"]
    dag_id = dag_id_for(request)
    asked = Asset(f"devin://followups/{dag_id}")
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        DevinSendMessageOperator(
            task_id="follow_up", session_id=session_id, message="And the docs, please.", outlets=[asked]
        )

    dag_run = run(dag)

    assert str(dag_run.state).endswith("success")
    (event,) = asset_events(dag_id)
    assert event["extra"]["session_id"] == session_id
