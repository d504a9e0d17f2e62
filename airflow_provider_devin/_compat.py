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
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "PokeReturnValue",
    "aget_connection",
    "conf",
    "get_xcom_value",
    "mask_secret",
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
