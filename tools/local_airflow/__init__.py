"""A real local Airflow 3 deployment for the demo and the end-to-end tests.

Four components by default, each its own process group: ``api-server``, ``scheduler``,
``dag-processor`` and ``triggerer`` (not ``airflow standalone``, which does not stop its children on
SIGTERM). SQLite and the LocalExecutor, everything in one ``AIRFLOW_HOME`` that the caller owns,
the API on a free loopback port, and no log-serving sockets (the components share the filesystem,
so the api-server reads task and trigger logs from disk; serve-logs would otherwise bind 8793/8794
on every interface).

A :class:`Topology` changes the shape: ``Topology.celery(...)`` runs the CeleryExecutor against a
PostgreSQL metadata DB and a Redis broker that the caller started, with several Celery workers
(``celery-worker-1``, ...) and several triggerers (``triggerer``, ``triggerer-2``, ...).

Usage::

    with LocalAirflow(home, dags_folder, extra_env={"AIRFLOW_CONN_DEVIN_DEFAULT": uri}) as af:
        af.wait_for_dag("my_dag")
        run_id = af.trigger_dag("my_dag", conf={...})
        state = af.wait_for_run("my_dag", run_id, timeout=120)

``stop()`` (also run by ``__exit__`` and at interpreter exit) terminates every process the
deployment started, including task processes that moved to their own process group, and reports
anything still alive or any port still bound.

The package, by responsibility: ``topology`` (which components, executor and databases, and
each component's command line), ``processes`` (components, stop reports, signals), ``ports`` (free loopback ports),
``deployment`` (:class:`LocalAirflow`: start, watch, kill, stop), ``rest`` (driving it through
the REST API) and ``emulator`` (the Devin API emulator as a process). Import from here.
"""

from tools.local_airflow.deployment import LocalAirflow
from tools.local_airflow.emulator import EmulatorProcess
from tools.local_airflow.ports import free_port, port_is_listening
from tools.local_airflow.processes import (
    DEPLOYMENT_ENV,
    Component,
    DeploymentError,
    StopReport,
    signals_raise_keyboard_interrupt,
)
from tools.local_airflow.rest import TERMINAL_RUN_STATES
from tools.local_airflow.topology import COMPONENTS, Topology

__all__ = [
    "COMPONENTS",
    "DEPLOYMENT_ENV",
    "TERMINAL_RUN_STATES",
    "Component",
    "DeploymentError",
    "EmulatorProcess",
    "LocalAirflow",
    "StopReport",
    "Topology",
    "free_port",
    "port_is_listening",
    "signals_raise_keyboard_interrupt",
]
