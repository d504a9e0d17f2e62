"""pytest plugin for the Airflow 3.1 and 3.2 lanes of scripts/test: two dag.test() gaps filled.

Airflow 3.1 and 3.2 run a ``dag.test()`` task in-process (``InProcessTestSupervisor.start`` in
``airflow/sdk/execution_time/supervisor.py``) and call ``finalize(ti, state, context, log, error)``
without first setting ``context["exception"] = error``, so an ``on_failure_callback`` sees
``context["exception"] is None`` there. A real task process does set it on those versions
(``task_runner.main``), and Airflow 3.3 sets it in ``dag.test()`` as well. The operator and sensor
suites read the failure message a task ended with from that callback, so on 3.1/3.2 they would
fail on a ``dag.test()`` quirk, not on the provider. This plugin makes ``finalize`` set the key
when the caller did not -- what 3.3 and every real task process do -- and changes nothing else.

The second (:func:`_serve_hitl_requests_in_process`): the in-process supervisor of ``dag.test()``
answers the human-in-the-loop reads of a trigger, as the triggerer's supervisor does.

Loaded by ``scripts/test`` with ``-p _dag_test_backport`` (``PYTHONPATH=scripts``) for those lanes only.
"""

from __future__ import annotations

import functools
from typing import Any


def pytest_configure(config: Any) -> None:
    from airflow.sdk.execution_time import task_runner

    original = task_runner.finalize
    if getattr(original, "_sets_context_exception", False):
        return

    @functools.wraps(original)
    def finalize(ti: Any, state: Any, context: Any, log: Any, error: BaseException | None = None, **kwargs: Any) -> Any:
        if error is not None and context.get("exception") is None:
            context["exception"] = error
        return original(ti, state, context, log, error, **kwargs)

    finalize._sets_context_exception = True  # type: ignore[attr-defined]
    task_runner.finalize = finalize
    _serve_hitl_requests_in_process()


def _serve_hitl_requests_in_process() -> None:
    """Let a trigger run inline by ``dag.test()`` read and write human-in-the-loop responses.

    Airflow 3.1 and 3.2 answer ``GetHITLDetailResponse`` / ``UpdateHITLDetail`` in the triggerer's
    supervisor only (``jobs/triggerer_job_runner.py``); ``dag.test()``'s in-process supervisor does
    not, so the standard provider's ``HITLTrigger`` gets ``None`` and crashes there (its own
    ``HITLOperator`` cannot run under ``dag.test()`` either). The on_blocked="human" tests need it:
    this answers both the way the triggerer does, with the same API client calls. Airflow 3.3 parks
    the task instead and needs no trigger.
    """
    try:
        from airflow.jobs.triggerer_job_runner import HITLDetailResponseResult
        from airflow.sdk.execution_time.comms import GetHITLDetailResponse, UpdateHITLDetail
        from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor
    except ImportError:
        return
    original = InProcessTestSupervisor._handle_request
    if getattr(original, "_serves_hitl", False):
        return

    @functools.wraps(original)
    def _handle_request(self: Any, msg: Any, log: Any, req_id: int) -> None:
        if isinstance(msg, GetHITLDetailResponse):
            response = self.client.hitl.get_detail_response(ti_id=msg.ti_id)
        elif isinstance(msg, UpdateHITLDetail):
            response = self.client.hitl.update_response(
                ti_id=msg.ti_id, chosen_options=msg.chosen_options, params_input=msg.params_input
            )
        else:
            return original(self, msg, log, req_id)
        self.send_msg(HITLDetailResponseResult.from_api_response(response=response), request_id=req_id)
        return None

    _handle_request._serves_hitl = True  # type: ignore[attr-defined]
    InProcessTestSupervisor._handle_request = _handle_request  # type: ignore[method-assign]
