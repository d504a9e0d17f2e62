"""The deployment itself: start the components, watch them, kill one, stop them all.

:class:`LocalAirflow` runs each component in its own process group with one environment built
here; its REST helpers come from :class:`~tools.local_airflow.rest.AirflowRestApi`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil

from tools.local_airflow.ports import free_port, port_is_listening
from tools.local_airflow.processes import DEPLOYMENT_ENV, Component, DeploymentError, StopReport
from tools.local_airflow.rest import AirflowRestApi
from tools.local_airflow.topology import Topology, airflow_argv, component_kind

#: How a component starts: its own process group (a terminal Ctrl-C reaches only the driver, which
#: then stops each group in order; stop() can signal the whole group at once), stderr into its
#: log, no stdin.
_DETACHED: dict[str, Any] = {"start_new_session": True, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL}


class LocalAirflow(AirflowRestApi):
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
    :param scheduled_runs: let the scheduler start runs from DAG schedules (cron and asset
        schedules). Off by default: a test or demo triggers the runs it means to watch, and an
        unpaused ``0 3 * * *`` DAG with no start_date is otherwise run at once when the deployment
        starts within 2.4 h after 03:00 UTC (Airflow 3's cron timetable runs the latest past time
        when it lies within a tenth of the gap between two runs, ``run_immediately=False``
        included) -- a second session nobody asked for, against the real API a second bill.
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
        scheduled_runs: bool = False,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(extra_env or {})
        self.parallelism = parallelism
        self.fresh = fresh
        self.unpause = None if unpause is None else set(unpause)
        self.topology = topology or Topology()
        self.scheduled_runs = scheduled_runs
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
                # Runs triggered through the API start either way (see ``scheduled_runs``).
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.scheduled_runs),
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
                airflow_argv("db", "migrate"),
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
        known_jobs = set(self._triggerer_job_ids()) if component_kind(name) == "triggerer" else set()
        log_path = self.home / "components" / f"{name}.log"
        argv = self.topology.command(name, self.home / "components")
        with log_path.open("ab") as out:
            process = subprocess.Popen(argv, env=self._env, cwd=self.home, stdout=out, **_DETACHED)
        component = self.components[name] = Component(name, process, log_path)
        if component_kind(name) == "triggerer" and self.topology.triggerers > 1:
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
