"""Every Airflow 2 <-> 3 import switch, and nothing else.

Airflow 3 moved the authoring API to ``airflow.sdk``; the old paths still import there but emit
``DeprecatedImportWarning`` (a FutureWarning). Airflow 2.11 has only the old paths.
"""

from __future__ import annotations

from typing import Any

try:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context

    AIRFLOW_V3 = True
except ImportError:  # Airflow 2.11
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]

    AIRFLOW_V3 = False

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
    )

try:
    from airflow.sdk import PokeReturnValue
except ImportError:  # Airflow 2.11
    from airflow.sensors.base import PokeReturnValue  # type: ignore[no-redef]

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 2.11
    from airflow.configuration import conf  # type: ignore[no-redef]

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 2.11
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]

# The TaskFlow machinery behind @task.devin (cheap on top of airflow.sdk: ~10 ms).
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
