"""The example DAGs parse cleanly and say what they show."""

from __future__ import annotations

from typing import Any

EXPECTED = {
    "devin_nightly_maintenance",
    "devin_data_quality_fix",
    "devin_fanout",
    "devin_knowledge_sync",
    "devin_decorated",
    "devin_review_fixes",
    "devin_ask_a_human",
}


def test_examples_import_without_errors(example_dagbag: Any) -> None:
    assert example_dagbag.import_errors == {}
    assert set(example_dagbag.dag_ids) == EXPECTED


def test_every_example_documents_what_it_shows(example_dagbag: Any) -> None:
    for dag_id in EXPECTED:
        dag = example_dagbag.dags[dag_id]
        assert dag.doc_md and "What this example shows" in dag.doc_md, dag_id
        assert "devin" in dag.tags, dag_id


def test_scheduled_examples_do_not_run_the_moment_they_are_deployed(example_dagbag: Any) -> None:
    # A start_date in the past plus catchup=False would start a run (and a Devin session) at once.
    for dag_id in EXPECTED:
        dag = example_dagbag.dags[dag_id]
        assert dag.start_date is None, dag_id
        assert not dag.catchup, dag_id
