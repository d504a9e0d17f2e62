"""Every Airflow 2 <-> 3 import switch, and nothing else.

Airflow 3 moved the authoring API to ``airflow.sdk``; the old paths still import there but emit
``DeprecatedImportWarning`` (a FutureWarning). Airflow 2.11 has only the old paths.

The sensor and TaskFlow names (``BaseSensorOperator``, ``PokeReturnValue``, the decorator
machinery) are imported on first use (module ``__getattr__``): Airflow's dag-processor pre-imports
only ``airflow.*`` modules a DAG file names, so whatever this module imports eagerly, every parse of
a DAG with a Devin operator pays again (docs/performance.md, "DAG-parse cost").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, Context

    AIRFLOW_V3 = True
except ImportError:  # Airflow 2.11
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]

    AIRFLOW_V3 = False

if TYPE_CHECKING:
    from airflow.sdk import BaseSensorOperator, PokeReturnValue
    from airflow.sdk.bases.decorator import (
        DecoratedOperator,
        TaskDecorator,
        determine_kwargs,
        task_decorator_factory,
    )
    from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION
    from airflow.sdk.definitions.context import context_merge

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
    )

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 2.11
    from airflow.configuration import conf  # type: ignore[no-redef]

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 2.11
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]


def _sensor_names() -> dict[str, Any]:
    try:
        from airflow.sdk import BaseSensorOperator, PokeReturnValue
    except ImportError:  # Airflow 2.11
        from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]
    return {"BaseSensorOperator": BaseSensorOperator, "PokeReturnValue": PokeReturnValue}


def _taskflow_names() -> dict[str, Any]:
    """The TaskFlow machinery behind @task.devin (~10 ms on top of ``airflow.sdk``)."""
    try:
        from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory
        from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION
        from airflow.sdk.definitions.context import context_merge
    except ImportError:  # Airflow 2.11
        from airflow.decorators.base import (  # type: ignore[no-redef]
            DecoratedOperator,
            TaskDecorator,
            task_decorator_factory,
        )
        from airflow.utils.context import context_merge  # type: ignore[no-redef,attr-defined]

        # A plain string: Airflow 2 stores a template field it cannot JSON-encode as str(value), and an
        # object's address would change the serialized DAG's hash on every parse.
        SET_DURING_EXECUTION = "DYNAMIC (set during execution)"  # type: ignore[assignment]
    try:
        from airflow.sdk.bases.decorator import determine_kwargs  # Airflow 3.2+
    except ImportError:  # Airflow 2.11 - 3.1
        from airflow.utils.operator_helpers import determine_kwargs  # type: ignore[no-redef,attr-defined]
    return {
        "DecoratedOperator": DecoratedOperator,
        "TaskDecorator": TaskDecorator,
        "task_decorator_factory": task_decorator_factory,
        "SET_DURING_EXECUTION": SET_DURING_EXECUTION,
        "context_merge": context_merge,
        "determine_kwargs": determine_kwargs,
    }


try:
    from airflow.sdk import ResumableJobMixin  # Airflow 3.3+: durable execution (AIP-103)

    HAS_RESUMABLE_JOBS = True
except ImportError:  # Airflow 2.11 - 3.2: no task state store, so nothing to resume from
    HAS_RESUMABLE_JOBS = False

    class ResumableJobMixin:  # type: ignore[no-redef]
        """Stand-in for Airflow 3.3's ``ResumableJobMixin``: submit, wait, result; never durable.

        It accepts ``durable`` so one DAG file parses on every Airflow, and sets it to ``False``.
        """

        external_id_key: str = "remote_job_id"

        def __init__(self, *, durable: bool = True, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.durable = False

        def execute_resumable(self, context: Any) -> Any:
            external_id = self.submit_job(context)  # type: ignore[attr-defined]
            self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
            return self.get_job_result(external_id, context)  # type: ignore[attr-defined]


_LAZY_GROUPS = {
    "BaseSensorOperator": _sensor_names,
    "PokeReturnValue": _sensor_names,
    "DecoratedOperator": _taskflow_names,
    "TaskDecorator": _taskflow_names,
    "task_decorator_factory": _taskflow_names,
    "SET_DURING_EXECUTION": _taskflow_names,
    "context_merge": _taskflow_names,
    "determine_kwargs": _taskflow_names,
}


def __getattr__(name: str) -> Any:
    load = _LAZY_GROUPS.get(name)
    if load is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    names = load()
    globals().update(names)  # later lookups are plain module attributes
    return names[name]


async def aget_connection(conn_id: str) -> Any:
    """Fetch a connection without blocking the triggerer's event loop.

    Task SDK 1.3.2+ has ``BaseHook.aget_connection``; older versions get the sync lookup run
    in a worker thread (calling it directly on the loop deadlocks on Airflow 3).
    """
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


__all__ = [
    "AIRFLOW_V3",
    "HAS_RESUMABLE_JOBS",
    "SET_DURING_EXECUTION",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "DecoratedOperator",
    "PokeReturnValue",
    "ResumableJobMixin",
    "TaskDecorator",
    "aget_connection",
    "asset_outlet_types",
    "conf",
    "context_merge",
    "determine_kwargs",
    "get_xcom_value",
    "mask_secret",
    "task_decorator_factory",
]


def get_xcom_value(ti_key: Any, key: str) -> Any:
    """Read one XCom of a task instance (used by operator links).

    Imported lazily: the XCom machinery is heavy and DAG files import the operator modules on
    every parse.
    """
    try:
        from airflow.sdk.execution_time.xcom import XCom
    except ImportError:  # Airflow 2.11
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    return XCom.get_value(ti_key=ti_key, key=key)


def asset_outlet_types() -> tuple[type, ...]:
    """The outlet types an asset event's ``extra`` can be set on: Airflow 3's ``Asset`` and
    ``AssetRef``, Airflow 2.11's ``Dataset`` (aliases are not among them: they name no one asset).

    Imported lazily: only a task that declares outlets needs them.
    """
    try:
        from airflow.sdk import Asset
        from airflow.sdk.definitions.asset import AssetRef
    except ImportError:  # Airflow 2.11
        from airflow.datasets import Dataset

        return (Dataset,)
    return (Asset, AssetRef)
