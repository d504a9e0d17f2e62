"""A person answering Airflow human-in-the-loop requests under ``dag.test()`` (importable from any test:
``from hitl_testing import Person``).

``dag.test()`` never answers a request itself (3.3 keeps the run alive until a response arrives from
outside; 3.1/3.2 run the standard provider's ``HITLTrigger`` inline until it sees one). :class:`Person`
is a thread that calls the public REST route's own function (``update_hitl_detail``): it records the
answer and, on 3.3, resumes the parked task, exactly as a PATCH from the UI would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from airflow_provider_devin.operators import _human

#: How this Airflow asks a person (``"park"``, ``"trigger"`` or ``None``).
HITL = _human.hitl_mode()

#: Seconds a request stands before this person answers it.
SETTLE = 1.5


class FakeUser:
    """The user a response is recorded under (the route reads ``get_id`` / ``get_name``)."""

    def __init__(self, user_id: str, name: str) -> None:
        self.user_id, self.name = user_id, name

    def get_id(self) -> str:
        return self.user_id

    def get_name(self) -> str:
        return self.name


class Person(threading.Thread):
    """Answers each request of ``dag_id`` in turn with the next of ``answers``; keeps what it saw."""

    def __init__(self, dag_id: str, answers: list[tuple[str, str | None]], sweep_timeouts: bool = False) -> None:
        super().__init__(daemon=True)
        self.dag_id, self.answers, self.sweep_timeouts = dag_id, list(answers), sweep_timeouts
        self.requests: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        #: When each request (task instance, round) was first seen parked: answered only after
        #: ``SETTLE`` seconds, as a person would (see ``_answer_one``).
        self._first_seen: dict[tuple[str, int], float] = {}

    def start(self) -> None:
        # Import in this thread first: two threads importing Airflow's models at once deadlock.
        import airflow.api_fastapi.core_api.routes.public.hitl
        import airflow.dag_processing.collection
        import airflow.jobs.scheduler_job_runner  # noqa: F401
        from airflow.models import import_all_models

        import_all_models()
        super().start()

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 90
            while not self.done.is_set() and time.monotonic() < deadline:
                if not self._answer_one():
                    time.sleep(0.2)
        except BaseException as err:  # surfaced by the test
            import traceback

            traceback.print_exc()
            self.errors.append(err)

    def _answer_one(self) -> bool:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload

        query = (
            select(TaskInstance).where(TaskInstance.dag_id == self.dag_id).options(joinedload(TaskInstance.hitl_detail))
        )
        with create_session() as session:
            for ti in session.scalars(query):
                detail = ti.hitl_detail
                if detail is None or detail.response_received:
                    continue
                if HITL == "park" and ti.state != TaskInstanceState.AWAITING_INPUT:
                    continue  # the route resumes only a parked task
                # An answer within a moment of the park races the task's own state writes (the
                # response is recorded but the task stays awaiting input; seen 3 times in ~10 runs
                # of the suite): people take longer, so this person does too.
                seen = self._first_seen.setdefault((str(ti.id), len(self.requests)), time.monotonic())
                if time.monotonic() - seen < SETTLE:
                    continue
                if self.sweep_timeouts:
                    _sweep_timeouts()
                    return False
                self.requests.append({"subject": detail.subject, "body": detail.body, "options": detail.options})
                choice, reply = self.answers.pop(0)
                _respond(ti, choice, reply)
                if not self.answers:
                    self.done.set()
                return True
        return False


def _respond(ti: Any, choice: str, reply: str | None) -> None:
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    payload = UpdateHITLDetailPayload(chosen_options=[choice], params_input={"reply": reply or ""})
    with create_session() as session:
        update_hitl_detail(
            dag_id=ti.dag_id,
            dag_run_id=ti.run_id,
            task_id=ti.task_id,
            update_hitl_detail_payload=payload,
            user=FakeUser("ada", "Ada Lovelace"),
            session=session,
            map_index=ti.map_index,
        )


def _sweep_timeouts() -> None:
    """Airflow 3.3's scheduler resolves timed-out requests; dag.test() runs no scheduler, so run its sweep."""
    import logging
    import types

    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    SchedulerJobRunner.check_awaiting_input_timeouts(types.SimpleNamespace(log=logging.getLogger("sweep")))
