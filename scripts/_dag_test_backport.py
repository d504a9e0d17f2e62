"""pytest plugin for the Airflow 3.1 and 3.2 lanes of scripts/test: one dag.test() fix from Airflow 3.3.

Airflow 3.1 and 3.2 run a ``dag.test()`` task in-process (``InProcessTestSupervisor.start`` in
``airflow/sdk/execution_time/supervisor.py``) and call ``finalize(ti, state, context, log, error)``
without first setting ``context["exception"] = error``, so an ``on_failure_callback`` sees
``context["exception"] is None`` there. A real task process does set it on those versions
(``task_runner.main``), and Airflow 3.3 sets it in ``dag.test()`` as well. The operator and sensor
suites read the failure message a task ended with from that callback, so on 3.1/3.2 they would
fail on a ``dag.test()`` quirk, not on the provider. This plugin makes ``finalize`` set the key
when the caller did not -- what 3.3 and every real task process do -- and changes nothing else.

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
