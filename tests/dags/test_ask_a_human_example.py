"""``devin_ask_a_human`` under ``dag.test()``: Devin asks three times, a person answers in Airflow twice
and then accepts the work; each answer reaches the session once."""

from __future__ import annotations

from typing import Any

import pytest
from devin_versions import ApiPaths
from hitl_testing import HITL, Person

from ._helpers import task_states, xcom

pytestmark = pytest.mark.skipif(HITL is None, reason="Airflow's human-in-the-loop needs Airflow 3.1+")


@pytest.fixture(autouse=True)
def _fast_hitl_trigger(monkeypatch):
    """Airflow 3.1/3.2: the HITLTrigger looks for an answer every 0.5 s instead of 5 s."""
    from airflow_provider_devin.operators import _human

    monkeypatch.setattr(_human, "HITL_POKE_INTERVAL", 0.5)


def test_two_answers_then_accept_as_done(run_example: Any, devin_emulator: Any) -> None:
    devin_emulator.control.set_default_scenario("three_questions")
    person = Person(
        "devin_ask_a_human",
        [
            ("Reply", "Keep the public API as it is."),
            ("Reply", "Yes, with a changelog entry."),
            ("Accept as done", None),
        ],
    )
    person.start()
    dag_run = run_example("devin_ask_a_human")
    person.done.set()
    person.join(5)

    assert task_states(dag_run) == {"make_the_change": "success", "report": "success"}
    result = xcom(dag_run, "make_the_change")
    assert [r["choice"] for r in result["human_rounds"]] == ["Reply", "Reply", "Accept as done"]
    assert result["status_enum"] == "blocked"  # accepted while Devin waited on its third question
    api = ApiPaths(devin_emulator.api_version)
    sent = [call["body"]["message"] for call in api.message_posts(devin_emulator.control)]
    assert [m.split("\n")[0] for m in sent] == ["Keep the public API as it is.", "Yes, with a changelog entry."]
    assert person.requests[0]["subject"] == "Add retries with backoff to the invoice exporter. (acme/billing)"
    assert len(api.creates(devin_emulator.control)) == 1
