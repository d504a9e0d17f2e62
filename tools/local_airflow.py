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
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

# Flags that keep a component from opening a log server on 0.0.0.0.
_COMPONENT_ARGS: dict[str, list[str]] = {
    "api-server": ["--workers", "1"],
    "scheduler": ["--skip-serve-logs"],
    "dag-processor": [],
    "triggerer": ["--skip-serve-logs"],
    "celery-worker": ["--skip-serve-logs", "--without-mingle", "--without-gossip"],
}


def _kind(name: str) -> str:
    """``triggerer-2`` -> ``triggerer``, ``celery-worker-1`` -> ``celery-worker``."""
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() else name


@dataclass(frozen=True)
class Topology:
    """The deployment's shape: executor, databases, and how many triggerers and Celery workers.

    The default is the four-process LocalExecutor deployment on SQLite. Use :meth:`celery` for
    the production-like one.

    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param database_url: SQLAlchemy URL of the metadata DB; None for SQLite in AIRFLOW_HOME.
    :param broker_url: Celery broker (``redis://127.0.0.1:<port>/0``); CeleryExecutor only.
    :param result_backend: Celery result backend (``db+postgresql://...``); CeleryExecutor only.
    :param triggerers: how many triggerer processes (named ``triggerer``, ``triggerer-2``, ...).
    :param celery_workers: how many ``airflow celery worker`` processes (``celery-worker-1``, ...).
    :param worker_concurrency: task slots per Celery worker.
    """

    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    triggerers: int = 1
    celery_workers: int = 0
    worker_concurrency: int = 4

    def __post_init__(self) -> None:
        if self.executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"Topology.executor must be LocalExecutor or CeleryExecutor, got {self.executor!r}")
        celery = self.executor == "CeleryExecutor"
        if celery and not (self.broker_url and self.result_backend and self.celery_workers >= 1):
            raise ValueError("a CeleryExecutor topology needs broker_url, result_backend and celery_workers >= 1")
        if not celery and self.celery_workers:
            raise ValueError(f"celery_workers={self.celery_workers} needs executor='CeleryExecutor'")
        if self.triggerers < 1:
            raise ValueError(f"Topology.triggerers must be at least 1, got {self.triggerers}")

    @classmethod
    def celery(
        cls, database_url: str, broker_url: str, *, triggerers: int = 2, celery_workers: int = 2, **kwargs: Any
    ) -> Topology:
        """CeleryExecutor on ``database_url`` (PostgreSQL) with ``broker_url`` (Redis).

        The Celery result backend is the same database, through the same driver (``db+<url>``).
        """
        backend = "db+" + database_url
        return cls(
            executor="CeleryExecutor",
            database_url=database_url,
            broker_url=broker_url,
            result_backend=backend,
            triggerers=triggerers,
            celery_workers=celery_workers,
            **kwargs,
        )

    def component_names(self) -> list[str]:
        """Start order: api-server, scheduler, dag-processor, the triggerers, the Celery workers."""
        names = ["api-server", "scheduler", "dag-processor"]
        names += ["triggerer" if i == 1 else f"triggerer-{i}" for i in range(1, self.triggerers + 1)]
        names += [f"celery-worker-{i}" for i in range(1, self.celery_workers + 1)]
        return names

    def environment(self) -> dict[str, str]:
        """The ``AIRFLOW__*`` settings this topology adds."""
        env = {"AIRFLOW__CORE__EXECUTOR": self.executor}
        if self.database_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        if self.executor == "CeleryExecutor":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": str(self.broker_url),
                    "AIRFLOW__CELERY__RESULT_BACKEND": str(self.result_backend),
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                }
            )
        return env


TERMINAL_RUN_STATES = frozenset({"success", "failed"})

#: Environment variable carrying a deployment's id into every process it starts.
DEPLOYMENT_ENV = "LOCAL_AIRFLOW_DEPLOYMENT_ID"


class DeploymentError(RuntimeError):
    """The local deployment could not start, or a component died."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something still listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _airflow_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


@dataclass
class Component:
    """One running Airflow component."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The component's row in the ``job`` table (triggerers: filled in by ``start()``).
    job_id: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class StopReport:
    """What ``stop()`` found: processes that survived SIGKILL and ports still bound (both empty when clean)."""

    survivors: list[int] = field(default_factory=list)
    bound_ports: list[int] = field(default_factory=list)
    #: "pid name" of processes that ignored SIGTERM for the whole grace period and were SIGKILLed.
    killed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.survivors and not self.bound_ports


class LocalAirflow:
    """Start, drive and stop a local Airflow 3 deployment (four processes unless ``topology`` says more).

    :param home: the AIRFLOW_HOME; created if missing, wiped first when ``fresh``.
    :param dags_folder: folder the dag-processor parses.
    :param extra_env: variables added to every component's environment (connections, for example).
    :param parallelism: ``[core] parallelism`` (LocalExecutor worker processes).
    :param fresh: remove ``home`` before starting, for a new metadata DB.
    :param unpause: when given, DAGs are created paused and only these are unpaused (by
        ``wait_for_dag``), so no other example DAG can start a run -- or a real Devin session --
        while the deployment is up. ``None`` creates every DAG unpaused.
    :param topology: executor, databases and component counts; the SQLite + LocalExecutor
        four-process deployment when None.
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        dags_folder: str | os.PathLike[str],
        *,
        extra_env: Mapping[str, str] | None = None,
        parallelism: int = 4,
        fresh: bool = True,
        unpause: Sequence[str] | None = None,
        topology: Topology | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(extra_env or {})
        self.parallelism = parallelism
        self.fresh = fresh
        self.unpause = None if unpause is None else set(unpause)
        self.topology = topology or Topology()
        #: Components stopped on purpose by ``kill()``: not "dead" for ``check_alive()``.
        self.killed: list[Component] = []
        self.port = 0
        self.components: dict[str, Component] = {}
        self._env: dict[str, str] = {}
        self._client: httpx.Client | None = None
        self._stopped = True
        # Every process of this deployment inherits this marker, so stop() finds task processes
        # that were re-parented or moved to their own process group.
        self.deployment_id = uuid.uuid4().hex

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    def environment(self) -> dict[str, str]:
        """The environment every component runs with (no AIRFLOW_* variable leaks in from outside)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        # Four fresh interpreters import all of Airflow at once on a small machine: let them cache
        # bytecode (under .venv, ignored by git) so every later start is several times faster.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(self.unpause is not None),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": f"{self.api_url}/",
                "AIRFLOW__API__WORKERS": "1",
                # Parse new and changed DAG files within seconds, not minutes.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                # Belt and braces: serve-logs is skipped, but never let it take the shared defaults.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1",
                DEPLOYMENT_ENV: self.deployment_id,
            }
        )
        env.update(self.topology.environment())
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 180.0) -> LocalAirflow:
        """Migrate the DB, start the components and wait until the API reports them healthy.

        Triggerers start one after the other, each once the previous one has its ``job`` row, so
        that :attr:`Component.job_id` tells which process a trigger's ``triggerer_id`` names.
        """
        if self.fresh and self.home.exists():
            shutil.rmtree(self.home)
        (self.home / "components").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = self.environment()
        self._stopped = False
        atexit.register(self.stop)

        migrate_log = self.home / "components" / "db-migrate.log"
        with migrate_log.open("wb") as out:
            result = subprocess.run(
                _airflow_argv("db", "migrate"),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
                timeout=timeout,
            )
        if result.returncode != 0:
            tail = "\n".join(migrate_log.read_text(errors="replace").splitlines()[-30:])
            raise DeploymentError(f"`airflow db migrate` failed (exit {result.returncode}):\n{tail}")

        self._env = env
        self._client = httpx.Client(base_url=self.api_url, timeout=30.0)
        deadline = time.monotonic() + timeout
        for name in self.topology.component_names():
            self.start_component(name, timeout=max(deadline - time.monotonic(), 1.0))
        self.wait_healthy(timeout=max(deadline - time.monotonic(), 1.0))
        return self

    def _argv(self, name: str) -> list[str]:
        kind = _kind(name)
        pid_file = ["--pid", str(self.home / "components" / f"{name}.pid")]
        if kind == "celery-worker":
            # Distinct Celery node names and pid files, or the second worker refuses to start.
            return _airflow_argv(
                "celery",
                "worker",
                *_COMPONENT_ARGS[kind],
                *pid_file,
                "--celery-hostname",
                f"{name}@{socket.gethostname()}",
            )
        extra = pid_file if kind == "triggerer" else []
        return _airflow_argv(kind, *_COMPONENT_ARGS[kind], *extra)

    def start_component(self, name: str, timeout: float = 120.0) -> Component:
        """Start one component (again, after ``kill()``) in its own process group.

        A triggerer is returned once its ``job`` row exists (its id is in ``job_id``).

        :param name: a name from ``topology.component_names()``, e.g. ``triggerer-2``.
        """
        if name not in self.topology.component_names():
            raise DeploymentError(f"no component {name!r} in this topology: {self.topology.component_names()}")
        if not self._env:
            raise DeploymentError("start() the deployment before starting single components")
        if name in self.components:
            raise DeploymentError(f"component {name!r} is already running (pid {self.components[name].pid})")
        known_jobs = set(self._triggerer_job_ids()) if _kind(name) == "triggerer" else set()
        log_path = self.home / "components" / f"{name}.log"
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                self._argv(name),
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                # Own process group: a terminal Ctrl-C reaches only the driver, which then
                # stops each group in order; stop() can signal the whole group at once.
                start_new_session=True,
            )
        component = self.components[name] = Component(name, process, log_path)
        if _kind(name) == "triggerer" and self.topology.triggerers > 1:
            deadline = time.monotonic() + timeout
            while component.job_id is None:
                self.check_alive()
                new = set(self._triggerer_job_ids()) - known_jobs
                if new:
                    component.job_id = max(new)
                elif time.monotonic() > deadline:
                    raise DeploymentError(f"{name} registered no TriggererJob within {timeout:.0f}s")
                else:
                    time.sleep(0.3)
        return component

    def _triggerer_job_ids(self) -> list[int]:
        """Ids of every TriggererJob row (empty while the API is not up yet)."""
        try:
            answer = self.api("GET", "/api/v2/jobs", params={"job_type": "TriggererJob", "limit": 1000})
        except (httpx.HTTPError, DeploymentError):
            return []
        return [int(job["id"]) for job in answer.get("jobs", [])]

    def component_of_job(self, job_id: int) -> Component:
        """The running component whose ``job`` row is ``job_id`` (a trigger's ``triggerer_id``)."""
        for component in self.components.values():
            if component.job_id == job_id:
                return component
        raise DeploymentError(f"no running component owns job {job_id}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> Component:
        """Send ``sig`` to every process of one component (its group and descendants) and wait.

        The component moves to :attr:`killed`, so ``check_alive()`` does not count it as a crash
        and ``stop()`` still sweeps anything it left behind.
        """
        component = self.components.pop(name)
        procs: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(component.pid)
            procs = [root, *root.children(recursive=True)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(component.pid, sig)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)
        psutil.wait_procs(procs, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.process.wait(timeout=5)
        self.killed.append(component)
        return component

    def __enter__(self) -> LocalAirflow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raise DeploymentError (with the log tail) if any component has exited."""
        for component in self.components.values():
            code = component.process.poll()
            if code is not None:
                raise DeploymentError(
                    f"Airflow {component.name} exited with code {code}; last lines of "
                    f"{component.log_path}:\n{component.log_tail()}"
                )

    def health(self) -> dict[str, Any]:
        return self.api("GET", "/api/v2/monitor/health")

    def wait_healthy(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = self.health()
            except (httpx.HTTPError, ValueError):
                last = None
            if isinstance(last, dict) and all(
                (last.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ):
                return
            time.sleep(0.5)
        raise DeploymentError(f"Airflow not healthy after {timeout:.0f}s; last health answer: {last}")

    def _tracked_processes(self) -> list[psutil.Process]:
        """Every live process the deployment owns: components, their descendants, and stragglers."""
        found: dict[int, psutil.Process] = {}
        for component in [*self.components.values(), *self.killed]:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(component.pid)
                found[root.pid] = root
                for child in root.children(recursive=True):
                    found[child.pid] = child
        # Task processes re-parented after their supervisor died still carry the marker.
        for proc in psutil.process_iter(["pid"]):
            if proc.pid in found or proc.pid == os.getpid():
                continue
            with contextlib.suppress(psutil.Error):
                if proc.environ().get(DEPLOYMENT_ENV) == self.deployment_id:
                    found[proc.pid] = proc
        return list(found.values())

    def listening_sockets(self) -> list[tuple[int, str, int]]:
        """``(pid, ip, port)`` of every listening TCP socket held by a process of the deployment."""
        found = []
        for proc in self._tracked_processes():
            with contextlib.suppress(psutil.Error):
                for conn in proc.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN:
                        found.append((proc.pid, conn.laddr.ip, conn.laddr.port))
        return found

    def stop(self, grace: float = 15.0) -> StopReport:
        """Stop every process of the deployment and report anything that survived.

        SIGTERM to each component's process group; a second SIGTERM after a few seconds (the
        scheduler waits for running tasks until signalled again); SIGKILL for whatever is left
        after ``grace`` seconds, including task processes in their own process groups. Safe to
        call twice.
        """
        report = StopReport()
        if self._stopped:
            return report
        started = time.monotonic()
        self._stopped = True
        if self._client is not None:
            self._client.close()
            self._client = None
        procs = self._tracked_processes()
        everything = [*self.components.values(), *self.killed]
        for attempt in range(2):
            for component in reversed(list(self.components.values())):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(component.pid, signal.SIGTERM)
            _, procs = psutil.wait_procs(procs, timeout=grace / 3 if attempt == 0 else grace * 2 / 3)
            if not procs:
                break
        stragglers = {p.pid: p for p in [*procs, *self._tracked_processes()]}
        for proc in stragglers.values():
            with contextlib.suppress(psutil.Error):
                report.killed.append(f"{proc.pid} {' '.join(proc.cmdline()[:4]).strip()}")
                proc.kill()
        for component in everything:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(component.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=5)
        psutil.wait_procs(self._tracked_processes(), timeout=5)
        report.survivors = [p.pid for p in self._tracked_processes()]
        if self.port and port_is_listening(self.port):
            report.bound_ports.append(self.port)
        report.seconds = time.monotonic() - started
        return report

    # ------------------------------------------------------------------ REST helpers

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API (auth is off: simple auth manager, all admins)."""
        if self._client is None:
            raise DeploymentError("the deployment is not running")
        response = self._client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id`` (unpausing it if listed in ``unpause``).

        Fails fast on an import error.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                dag = self.api("GET", f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused") and self.unpause is not None and dag_id in self.unpause:
                    dag = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                return dag
            except httpx.HTTPStatusError as err:
                if err.response.status_code != 404:
                    raise
            errors = self.import_errors()
            if errors:
                raise DeploymentError(f"DAG files failed to import: {errors}")
            time.sleep(0.5)
        raise DeploymentError(f"DAG {dag_id!r} not parsed after {timeout:.0f}s")

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/api/v2/importErrors").get("import_errors", []))

    def trigger_dag(self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Start a manual run (``logical_date`` None, as the UI does) and return its run_id."""
        run_id = run_id or f"manual__{uuid.uuid4().hex[:12]}"
        body = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf or {})}
        created = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(created["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (all pages: the API returns 50 per page by default)."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(found)},
            )
            page = list(answer.get("task_instances", []))
            found += page
            if not page or len(found) >= int(answer.get("total_entries", len(found))):
                return found

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """The XCom value, or None when it does not exist (yet)."""
        try:
            entry = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                params={"map_index": map_index, "deserialize": True},
            )
        except httpx.HTTPStatusError as err:
            if err.response.status_code == 404:
                return None
            raise
        return entry.get("value")

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 300.0,
        on_poll: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        interval: float = 1.0,
    ) -> str:
        """Poll until the run ends; ``on_poll(run, task_instances)`` sees every poll. Returns the state."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            run = self.dag_run(dag_id, run_id)
            tis = self.task_instances(dag_id, run_id)
            if on_poll is not None:
                on_poll(run, tis)
            if run.get("state") in TERMINAL_RUN_STATES:
                return str(run["state"])
            if time.monotonic() > deadline:
                raise DeploymentError(
                    f"run {run_id} of {dag_id} still {run.get('state')} after {timeout:.0f}s; "
                    f"tasks: {[(ti['task_id'], ti.get('map_index'), ti.get('state')) for ti in tis]}"
                )
            time.sleep(interval)

    def task_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """Log files of one task (all attempts, and trigger logs beside them)."""
        base = self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


@contextlib.contextmanager
def signals_raise_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks stop the deployment.

    SIGINT is included because a shell starts background jobs with SIGINT ignored.
    """

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drain(stream: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        while stream.read(65536):
            pass


class EmulatorProcess:
    """``devin-emulator`` in its own process group on a free loopback port.

    :param speed: emulated seconds per real second.
    :param log_path: where the emulator's stderr (its request log) goes.
    """

    def __init__(self, speed: float = 60.0, log_path: str | os.PathLike[str] | None = None) -> None:
        self.speed = speed
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        script = Path(sys.executable).with_name("devin-emulator")
        argv = [str(script)] if script.exists() else [sys.executable, "-m", "airflow_provider_devin.emulator"]
        stderr: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", "0", "--speed", f"{self.speed:g}", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        atexit.register(self.stop)
        assert self.process.stdout is not None
        # The first stdout line is the base URL, printed as soon as the socket is bound.
        deadline = time.monotonic() + timeout
        line = b""
        while not line and time.monotonic() < deadline and self.process.poll() is None:
            line = self.process.stdout.readline()
        self.base_url = line.decode().strip()
        if not self.base_url.startswith("http"):
            self.stop()
            raise DeploymentError(f"devin-emulator did not report its URL (got {line!r})")
        # Keep draining stdout so the emulator can never block on a full pipe.
        threading.Thread(target=_drain, args=(self.process.stdout,), daemon=True).start()
        health_deadline = time.monotonic() + timeout
        while time.monotonic() < health_deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/_emulator/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        return self

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else 0

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
