"""DevinSessionLink: the "Devin Session" button, visible while the task is still deferred."""

from __future__ import annotations

import datetime
import json

from airflow.sdk import DAG
from dag_testing import serialize_dag

from airflow_provider_devin.links import devin as link_module
from airflow_provider_devin.links.devin import DevinSessionLink
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator, DevinSendMessageOperator
from airflow_provider_devin.sensors.devin import DevinSessionSensor

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def test_link_is_named_devin_session_and_reads_the_pushed_url_xcom():
    link = DevinSessionLink()
    assert link.name == "Devin Session"
    assert link.xcom_key == "session_url"


def test_every_operator_and_the_sensor_carry_the_link():
    for cls in (DevinCreateSessionOperator, DevinSendMessageOperator, DevinSessionSensor):
        assert any(isinstance(link, DevinSessionLink) for link in cls.operator_extra_links)


def test_serialized_dag_maps_the_button_to_the_session_url_xcom():
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("link_serialization", schedule=None, start_date=START) as dag:
        DevinCreateSessionOperator(task_id="create", prompt="p")
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("create")
    assert [(link.name, link.xcom_key) for link in task.operator_extra_links] == [("Devin Session", "session_url")]


def test_get_link_returns_the_url_or_empty_before_a_session_exists(monkeypatch):
    values = {"session_url": "https://app.devin.ai/sessions/abc"}
    monkeypatch.setattr(link_module, "get_xcom_value", lambda ti_key, key: values.get(key))
    assert DevinSessionLink().get_link(None, ti_key=object()) == "https://app.devin.ai/sessions/abc"
    values.clear()
    assert DevinSessionLink().get_link(None, ti_key=object()) == ""


def test_session_url_xcom_exists_while_the_task_is_deferred(airflow_db, devin_emulator, monkeypatch):
    """What the UI reads for the button is in the DB before the trigger even starts polling."""
    import airflow.sdk.definitions.dag as dag_module
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    seen: dict[str, object] = {}
    run_inline = dag_module._run_inline_trigger

    def look_then_run(trigger, ti):
        with create_session() as session:
            rows = session.query(XComModel).filter_by(dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id)
            seen.update({row.key: row.value for row in rows})
        return run_inline(trigger, ti)

    monkeypatch.setattr(dag_module, "_run_inline_trigger", look_then_run)
    with DAG("link_while_deferred", schedule=None, start_date=START) as dag:
        DevinCreateSessionOperator(
            task_id="create", prompt="Work [emulator:scenario=finish]", poll_interval=0.2, deferrable=True
        )
    serialize_dag(dag)
    dr = dag.test()
    assert dr.state == "success"
    url = seen["session_url"]
    url = json.loads(url) if isinstance(url, str) and url.startswith('"') else url
    assert url == dr.get_task_instance("create").xcom_pull(task_ids="create")["url"]
    assert "return_value" not in seen
